#include "vmm/boot/acpi/dsdt.h"

#include <fmt/format.h>

#include "vmm/base/check.h"
#include "vmm/boot/acpi/aml.h"
#include "vmm/boot/acpi/tables.h"

namespace rrvm::boot::acpi {
namespace {

// Revision 2: 64-bit AML integers.
constexpr uint8_t DSDT_REVISION = 2;

aml::Bytes com1() {
  return aml::device("COM1", {aml::name("_HID", aml::eisa_id("PNP0501")), aml::name("_UID", aml::integer(1)),
                              aml::name("_CRS", aml::resource_template({aml::io_port(COM1_IO_BASE, COM1_IO_LENGTH),
                                                                        aml::irq_no_flags(COM1_ISA_IRQ)}))});
}

aml::Bytes virtio_device(size_t index, const virtio::MmioSlot& slot) {
  RRVM_CHECK(slot.base + slot.size <= (1ull << 32) && slot.base + slot.size > slot.base);
  const std::string dev_name = fmt::format("VR{:02d}", index);
  const aml::Bytes crs = aml::resource_template(
      {aml::memory32_fixed(static_cast<uint32_t>(slot.base), static_cast<uint32_t>(slot.size), true),
       aml::extended_interrupt(slot.irq, aml::InterruptFlags{.edge = true})});
  return aml::device(dev_name, {aml::name("_HID", aml::string(VIRTIO_MMIO_HID)),
                                aml::name("_UID", aml::integer(index)), aml::name("_CRS", crs)});
}

}  // namespace

std::vector<uint8_t> make_dsdt(std::span<const virtio::MmioSlot> virtio_mmio) {
  RRVM_CHECK(virtio_mmio.size() <= MAX_DSDT_VIRTIO_DEVICES);
  std::vector<aml::Bytes> devices{com1()};
  for (size_t i = 0; i < virtio_mmio.size(); ++i) devices.push_back(virtio_device(i, virtio_mmio[i]));
  return make_table("DSDT", DSDT_REVISION, "RRVMDSDT", aml::scope("_SB_", devices));
}

}  // namespace rrvm::boot::acpi
