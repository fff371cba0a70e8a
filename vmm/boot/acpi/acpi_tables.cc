#include "vmm/boot/acpi/acpi_tables.h"

#include <fmt/format.h>

#include <algorithm>

#include "vmm/base/check.h"

#include "vmm/boot/acpi/dsdt.h"
#include "vmm/boot/acpi/tables.h"
#include "vmm/boot/boot_layout.h"

namespace rrvm::boot::acpi {
namespace {

constexpr uint64_t TABLE_ALIGN = 64;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

Status check_config(const AcpiConfig& c) {
  if (c.vcpus == 0 || c.vcpus > MAX_XAPIC_VCPUS) {
    return make_error(fmt::format("ACPI: {} vCPUs; rrvm's MADT describes 1 to {} (xAPIC entries only)", c.vcpus,
                                  MAX_XAPIC_VCPUS));
  }
  if (c.virtio_mmio.size() > MAX_DSDT_VIRTIO_DEVICES) {
    return make_error(fmt::format("ACPI: {} virtio-mmio devices; the DSDT names at most {}", c.virtio_mmio.size(),
                                  MAX_DSDT_VIRTIO_DEVICES));
  }
  for (const virtio::MmioSlot& s : c.virtio_mmio) {
    if (s.size == 0 || s.base >= (1ull << 32) || s.size > (1ull << 32) - s.base) {
      return make_error(fmt::format("ACPI: virtio-mmio window {:#x}+{:#x} is not below 4 GiB", s.base, s.size));
    }
  }
  return ok_status();
}

// Appends `table` at the next aligned offset of `image`; returns its guest-physical address.
uint64_t place(AcpiImage& image, const std::vector<uint8_t>& table) {
  const uint64_t offset = align_up(image.bytes.size(), TABLE_ALIGN);
  image.bytes.resize(offset);
  image.bytes.insert(image.bytes.end(), table.begin(), table.end());
  return image.layout.rsdp + offset;
}

}  // namespace

Result<AcpiImage> build_acpi_tables(const AcpiConfig& config, uint64_t base_gpa, uint64_t room) {
  RRVM_TRY(check_config(config));
  AcpiImage image;
  image.layout.rsdp = base_gpa;
  // The RSDP needs the XSDT's address and the XSDT those of the tables, so the addresses come
  // first: the RSDP and XSDT sizes are known before their contents (36 bytes; 36 + 8 per entry).
  const uint64_t xsdt = base_gpa + align_up(sizeof(Rsdp), TABLE_ALIGN);
  const uint64_t xsdt_size = sizeof(SdtHeader) + 2 * sizeof(uint64_t);
  image.bytes = make_rsdp(xsdt);
  image.layout.xsdt = xsdt;
  image.bytes.resize(xsdt + xsdt_size - base_gpa);  // reserve the XSDT; filled in below
  image.layout.dsdt = place(image, make_dsdt(config.virtio_mmio));
  image.layout.fadt = place(image, make_fadt(image.layout.dsdt));
  image.layout.madt = place(image, make_madt(config.vcpus));
  const std::vector<uint64_t> entries{image.layout.fadt, image.layout.madt};
  const std::vector<uint8_t> xsdt_table = make_xsdt(entries);
  RRVM_CHECK(xsdt_table.size() == xsdt_size);
  std::copy(xsdt_table.begin(), xsdt_table.end(), image.bytes.begin() + static_cast<ptrdiff_t>(xsdt - base_gpa));
  image.layout.end = base_gpa + image.bytes.size();
  if (image.bytes.size() > room) {
    return make_error(fmt::format("ACPI: the tables need {} bytes; {} fit at {:#x}", image.bytes.size(), room,
                                  base_gpa));
  }
  return image;
}

Result<AcpiLayout> write_acpi_tables(const GuestMemory& mem, const AcpiConfig& config) {
  RRVM_ASSIGN_OR_RETURN(const AcpiImage image,
                        build_acpi_tables(config, ACPI_TABLES_GPA, ACPI_TABLES_END - ACPI_TABLES_GPA));
  if (Status st = mem.write(image.layout.rsdp, image.bytes.data(), image.bytes.size()); !st.ok()) {
    return st.error().context("writing the ACPI tables");
  }
  return image.layout;
}

}  // namespace rrvm::boot::acpi
