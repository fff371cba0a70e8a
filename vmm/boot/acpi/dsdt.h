// The DSDT rrvm gives Linux guests: the devices Linux cannot find by itself on a machine without
// PCI. Under \_SB:
//   COM1          PNP0501, IO 0x3f8-0x3ff, IRQ 4 (as QEMU's microvm describes its serial port)
//   VR00, VR01..  one LNRO0005 (virtio-mmio, drivers/virtio/virtio_mmio.c's ACPI id) per window:
//                 _UID = index, _CRS = Memory32Fixed(base, size) + Interrupt(edge, high, GSI)
// The interrupts are edge-triggered because rrvm raises them through KVM irqfds, which pulse the
// GSI (no resample fd); QEMU's microvm says level because its virtio-mmio line is a level line.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/devices/virtio/mmio_layout.h"

namespace rrvm::boot::acpi {

inline constexpr char VIRTIO_MMIO_HID[] = "LNRO0005";
inline constexpr uint16_t COM1_IO_BASE = 0x3f8;
inline constexpr uint8_t COM1_IO_LENGTH = 8;
inline constexpr uint8_t COM1_ISA_IRQ = 4;
// Device names are VR00..VR99 (two decimal digits).
inline constexpr size_t MAX_DSDT_VIRTIO_DEVICES = 100;

// The whole DSDT (header, checksum). RRVM_CHECKs that every window lies below 4 GiB and that there
// are at most MAX_DSDT_VIRTIO_DEVICES (assign_mmio_slots guarantees both).
std::vector<uint8_t> make_dsdt(std::span<const virtio::MmioSlot> virtio_mmio);

}  // namespace rrvm::boot::acpi
