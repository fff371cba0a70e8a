/*
 * virtio-mmio (version 2) driver side: the device list from `virtio_mmio.device=SIZE@ADDR:IRQ`
 * command-line words, register access, and the driver initialisation of virtio 1.x §3.1.1.
 * Everything runs on the BSP, one request at a time, polling the used ring (no interrupts).
 */
#ifndef RRVM_GUEST_VIRTIO_MMIO_H
#define RRVM_GUEST_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtq.h"

#define VIRTIO_MMIO_MAX_DEVICES 32 /* QEMU microvm has 24 transports */

/* QEMU's microvm (hw/i386/microvm.c): 24 transports of 512 bytes from 0xfeb00000, wired to
 * GSI 24 + i on the second IOAPIC (the default; with -M microvm,acpi=off only 8 exist, at
 * GSI 5 + i). Probed when the command line names no window, which is what QEMU gives a PVH
 * kernel. The guest polls, so the GSI is informational. */
#define MICROVM_VIRTIO_MMIO_BASE 0xfeb00000ul
#define MICROVM_VIRTIO_MMIO_SIZE 0x200
#define MICROVM_VIRTIO_MMIO_COUNT 24
#define MICROVM_VIRTIO_MMIO_GSI_BASE 24

#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_RNG 4

/* Register offsets (§4.2.2). */
#define VIRTIO_MMIO_MAGIC 0x000
#define VIRTIO_MMIO_VERSION 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC_VALUE 0x74726976u /* "virt" */

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_FAILED 128u

#define VIRTIO_F_VERSION_1 (1ull << 32)

struct virtio_mmio_dev {
  uint64_t base;
  uint64_t size;
  uint32_t irq;
  uint32_t device_id; /* filled by virtio_mmio_find */
  bool probed;        /* a microvm window the guest guessed, not a command-line entry */
  bool live;          /* a driver wrote Status since the last reset through virtio_mmio_reset */
};

/* Parses the value of one virtio_mmio.device= word (SIZE[K|M|G]@ADDR:IRQ[:ID], Linux's format)
 * and adds the device. False after printing why. */
bool virtio_mmio_parse_entry(const char* v, size_t len);

/* The first listed device whose MagicValue, Version (2) and DeviceID match, or 0 when none does
 * (each mismatching command-line window is reported on the console). With no command-line
 * entries it probes QEMU microvm's transports instead (once; empty or absent ones are skipped
 * silently). */
struct virtio_mmio_dev* virtio_mmio_find(uint32_t device_id);

uint32_t virtio_mmio_read32(const struct virtio_mmio_dev* d, uint32_t off);
void virtio_mmio_write32(const struct virtio_mmio_dev* d, uint32_t off, uint32_t v);

/* Driver initialisation (§3.1.1) with queue 0 placed in `q`: reset, ACKNOWLEDGE, DRIVER, feature
 * negotiation (accepts VERSION_1 plus `wanted & offered`), FEATURES_OK read back, queue set-up,
 * DRIVER_OK. Fails the guest (RRVM_EXIT_FAIL) naming the step that went wrong. Returns the
 * accepted features. */
uint64_t virtio_mmio_init(struct virtio_mmio_dev* d, struct virtq* q, uint64_t wanted,
                          const char* who);

/* Writes Status 0: the device forgets the driver (as a driver's remove or shutdown does). */
void virtio_mmio_reset(struct virtio_mmio_dev* d);

/* Resets every device still live, as an OS resets its devices before powering off or
 * rebooting; guest_exit calls it, so a step that fails half-way leaves no device running. */
void virtio_mmio_reset_live(void);

/* Prints n bytes as lowercase hex, no separators. */
void virtio_print_hex(const uint8_t* p, size_t n);

/* Scenario steps (virtio_blk.c, blk_bench.c, virtio_rng.c, virtio_bad_status in virtio_rng.c). */
void virtio_blk_step(void);
#define BLK_BENCH_MAX_MIB 65536 /* blk-bench:MIB, 1..64 GiB */
void blk_bench_step(uint64_t mib);
void virtio_rng_step(void);
void virtio_bad_status_step(void);

#endif
