// ACPI tables for Linux guests: how rrvm tells a stock kernel (Debian's is built without
// CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES) about its CPUs, IOAPIC, COM1 and virtio-mmio windows, as
// Firecracker and QEMU's microvm do. Laid out in [ACPI_TABLES_GPA, ACPI_TABLES_END) (boot_layout.h),
// inside the legacy window the e820 map reports as reserved, so Linux never reuses the memory:
//
//   RSDP (16-byte aligned at the window's start, where Linux's 0xe0000-0xfffff scan finds it;
//         boot_params.acpi_rsdp_addr points at it too) -> XSDT -> FADT -> DSDT
//                                                           \-> MADT
// Each table starts 64-byte aligned.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/core/guest_memory.h"
#include "vmm/devices/virtio/mmio_layout.h"

namespace rrvm::boot::acpi {

struct AcpiConfig {
  uint32_t vcpus = 1;
  std::span<const virtio::MmioSlot> virtio_mmio;
};

struct AcpiLayout {
  uint64_t rsdp = 0;
  uint64_t xsdt = 0;
  uint64_t fadt = 0;
  uint64_t madt = 0;
  uint64_t dsdt = 0;
  uint64_t end = 0;  // one past the last table byte
};

struct AcpiImage {
  AcpiLayout layout;
  std::vector<uint8_t> bytes;  // to be written at layout.rsdp
};

// The tables as they would sit at `base_gpa`. Errors: no vCPUs or more than MAX_XAPIC_VCPUS,
// more virtio windows than the DSDT names, a window not below 4 GiB, tables larger than `room`.
Result<AcpiImage> build_acpi_tables(const AcpiConfig& config, uint64_t base_gpa, uint64_t room);

// Builds the tables for ACPI_TABLES_GPA and writes them into guest RAM; returns where they are.
Result<AcpiLayout> write_acpi_tables(const GuestMemory& mem, const AcpiConfig& config);

}  // namespace rrvm::boot::acpi
