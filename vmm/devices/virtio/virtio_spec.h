// Constants from the virtio 1.x specification (OASIS virtio v1.1/1.2) that the host side uses.
//
// Section numbers refer to the virtio 1.2 specification. Only what rrvm implements is here:
// device status (§2.1), feature bits (§6), split virtqueues (§2.7), the virtio-mmio register
// layout version 2 (§4.2.2), virtio-blk (§5.2) and virtio-rng (§5.4).
#pragma once

#include <cstdint>

namespace rrvm::virtio {

// --- device status (§2.1) --------------------------------------------------------------------
inline constexpr uint32_t STATUS_ACKNOWLEDGE = 1;
inline constexpr uint32_t STATUS_DRIVER = 2;
inline constexpr uint32_t STATUS_DRIVER_OK = 4;
inline constexpr uint32_t STATUS_FEATURES_OK = 8;
inline constexpr uint32_t STATUS_DEVICE_NEEDS_RESET = 64;
inline constexpr uint32_t STATUS_FAILED = 128;
inline constexpr uint32_t STATUS_ALL_BITS = STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK |
                                            STATUS_FEATURES_OK | STATUS_DEVICE_NEEDS_RESET |
                                            STATUS_FAILED;

// --- device-independent feature bits (§6) -----------------------------------------------------
inline constexpr uint32_t F_INDIRECT_DESC = 28;
inline constexpr uint32_t F_EVENT_IDX = 29;
inline constexpr uint32_t F_VERSION_1 = 32;

inline constexpr uint64_t feature_bit(uint32_t bit) { return uint64_t{1} << bit; }

// --- device ids (§5) -------------------------------------------------------------------------
inline constexpr uint32_t DEVICE_ID_BLOCK = 2;
inline constexpr uint32_t DEVICE_ID_ENTROPY = 4;

// --- virtio-mmio version 2 registers (§4.2.2), offsets from the window base -------------------
inline constexpr uint32_t MMIO_MAGIC = 0x74726976;  // "virt" little-endian
inline constexpr uint32_t MMIO_VERSION = 2;
// rrvm's vendor id, "RRVM" little-endian. Linux's drivers match on the device id and ignore it.
inline constexpr uint32_t MMIO_VENDOR_ID = 0x4d565252;

enum MmioReg : uint32_t {
  REG_MAGIC_VALUE = 0x000,
  REG_VERSION = 0x004,
  REG_DEVICE_ID = 0x008,
  REG_VENDOR_ID = 0x00c,
  REG_DEVICE_FEATURES = 0x010,
  REG_DEVICE_FEATURES_SEL = 0x014,
  REG_DRIVER_FEATURES = 0x020,
  REG_DRIVER_FEATURES_SEL = 0x024,
  REG_QUEUE_SEL = 0x030,
  REG_QUEUE_NUM_MAX = 0x034,
  REG_QUEUE_NUM = 0x038,
  REG_QUEUE_READY = 0x044,
  REG_QUEUE_NOTIFY = 0x050,
  REG_INTERRUPT_STATUS = 0x060,
  REG_INTERRUPT_ACK = 0x064,
  REG_STATUS = 0x070,
  REG_QUEUE_DESC_LOW = 0x080,
  REG_QUEUE_DESC_HIGH = 0x084,
  REG_QUEUE_DRIVER_LOW = 0x090,
  REG_QUEUE_DRIVER_HIGH = 0x094,
  REG_QUEUE_DEVICE_LOW = 0x0a0,
  REG_QUEUE_DEVICE_HIGH = 0x0a4,
  REG_CONFIG_GENERATION = 0x0fc,
  REG_CONFIG = 0x100,
};

// The size of one virtio-mmio window. The registers end at 0x100; the rest is config space.
inline constexpr uint64_t MMIO_WINDOW_SIZE = 0x1000;

// InterruptStatus bits (§4.2.2).
inline constexpr uint32_t INT_USED_BUFFER = 1;
inline constexpr uint32_t INT_CONFIG_CHANGE = 2;

// --- split virtqueue layout (§2.7) ------------------------------------------------------------
inline constexpr uint16_t DESC_F_NEXT = 1;
inline constexpr uint16_t DESC_F_WRITE = 2;
inline constexpr uint16_t DESC_F_INDIRECT = 4;
inline constexpr uint16_t AVAIL_F_NO_INTERRUPT = 1;

inline constexpr uint32_t MAX_QUEUE_SIZE = 32768;  // split queues: a power of two up to 32768
inline constexpr uint64_t DESC_SIZE = 16;
inline constexpr uint64_t DESC_ALIGN = 16;
inline constexpr uint64_t AVAIL_ALIGN = 2;
inline constexpr uint64_t USED_ALIGN = 4;
inline constexpr uint64_t USED_ELEM_SIZE = 8;

// Bytes of each ring part for a queue of `size` entries, counting the event-index fields.
inline constexpr uint64_t desc_table_bytes(uint32_t size) { return DESC_SIZE * size; }
inline constexpr uint64_t avail_ring_bytes(uint32_t size) { return 6 + 2ull * size; }
inline constexpr uint64_t used_ring_bytes(uint32_t size) { return 6 + USED_ELEM_SIZE * size; }

// --- virtio-blk (§5.2) -----------------------------------------------------------------------
inline constexpr uint32_t BLK_F_SIZE_MAX = 1;
inline constexpr uint32_t BLK_F_SEG_MAX = 2;
inline constexpr uint32_t BLK_F_RO = 5;
inline constexpr uint32_t BLK_F_BLK_SIZE = 6;
inline constexpr uint32_t BLK_F_FLUSH = 9;
inline constexpr uint32_t BLK_F_DISCARD = 13;

inline constexpr uint32_t BLK_T_IN = 0;
inline constexpr uint32_t BLK_T_OUT = 1;
inline constexpr uint32_t BLK_T_FLUSH = 4;
inline constexpr uint32_t BLK_T_GET_ID = 8;
inline constexpr uint32_t BLK_T_DISCARD = 11;

inline constexpr uint8_t BLK_S_OK = 0;
inline constexpr uint8_t BLK_S_IOERR = 1;
inline constexpr uint8_t BLK_S_UNSUPP = 2;

inline constexpr uint64_t BLK_SECTOR_SIZE = 512;  // virtio-blk sectors are always 512 bytes
inline constexpr uint32_t BLK_ID_BYTES = 20;
inline constexpr uint64_t BLK_REQ_HEADER_SIZE = 16;   // le32 type, le32 reserved, le64 sector
inline constexpr uint64_t BLK_DISCARD_SEG_SIZE = 16;  // le64 sector, le32 num_sectors, le32 flags

// struct virtio_blk_config offsets (§5.2.4), the part rrvm fills in.
inline constexpr uint32_t BLK_CFG_CAPACITY = 0;
inline constexpr uint32_t BLK_CFG_SIZE_MAX = 8;
inline constexpr uint32_t BLK_CFG_SEG_MAX = 12;
inline constexpr uint32_t BLK_CFG_BLK_SIZE = 20;
inline constexpr uint32_t BLK_CFG_MAX_DISCARD_SECTORS = 36;
inline constexpr uint32_t BLK_CFG_MAX_DISCARD_SEG = 40;
inline constexpr uint32_t BLK_CFG_DISCARD_SECTOR_ALIGNMENT = 44;
inline constexpr uint32_t BLK_CONFIG_SIZE = 60;

}  // namespace rrvm::virtio
