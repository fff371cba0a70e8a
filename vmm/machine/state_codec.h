// Each component's State <-> the bytes of its snapshot section (a Cap'n Proto message, schema in
// schema/machine_state.capnp). Decoding checks the message's shape (list lengths, sizes); the
// component's own restore() then checks the values (Persist pattern).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/core/cpu_state.h"
#include "vmm/devices/kvmclock.h"
#include "vmm/devices/serial.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/mmio_transport_state.h"
#include "vmm/hv/types.h"

namespace rrvm::machine {

// No section comes close: an XSAVE area is a few KiB, a LAPIC 1 KiB.
inline constexpr size_t MAX_SECTION_BYTES = 4 << 20;

struct IrqchipBlobs {
  hv::Blob pic_master, pic_slave, ioapic;
};

struct VirtioSection {
  virtio::MmioTransportState transport;
  std::optional<virtio::BlkState> blk;
};

std::vector<uint8_t> encode_cpu_state(const core::CpuState& state);
Result<core::CpuState> decode_cpu_state(std::span<const uint8_t> bytes);

std::vector<uint8_t> encode_kvmclock_state(const devices::Kvmclock::State& state);
Result<devices::Kvmclock::State> decode_kvmclock_state(std::span<const uint8_t> bytes);

std::vector<uint8_t> encode_irqchip_state(const IrqchipBlobs& state);
Result<IrqchipBlobs> decode_irqchip_state(std::span<const uint8_t> bytes);

std::vector<uint8_t> encode_pit_state(const hv::Blob& state);
Result<hv::Blob> decode_pit_state(std::span<const uint8_t> bytes);

std::vector<uint8_t> encode_serial_state(const devices::Serial::State& state);
Result<devices::Serial::State> decode_serial_state(std::span<const uint8_t> bytes);

std::vector<uint8_t> encode_virtio_state(const VirtioSection& state);
Result<VirtioSection> decode_virtio_state(std::span<const uint8_t> bytes);

}  // namespace rrvm::machine
