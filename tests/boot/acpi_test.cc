// rrvm's ACPI tables for Linux guests (vmm/boot/acpi): the AML encoder, every table's checksum,
// the RSDP -> XSDT -> FADT/MADT/DSDT chain, MADT entries per vCPU, the DSDT's devices per virtio
// window, errors, and the Linux boot path writing them (the rrvm guest's path does not).
// acpi_iasl_test.cc feeds the same tables to ACPICA's iasl.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "tests/boot/fake_bzimage.h"
#include "tests/boot/guest_elf.h"
#include "vmm/boot/acpi/acpi_tables.h"
#include "vmm/boot/acpi/aml.h"
#include "vmm/boot/acpi/dsdt.h"
#include "vmm/boot/acpi/tables.h"
#include "vmm/boot/boot_layout.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/boot/linux_abi.h"

namespace rrvm::boot::acpi {
namespace {

using Bytes = std::vector<uint8_t>;
using testing::val;

const std::vector<virtio::MmioSlot> SLOTS{{0xd0000000, 0x1000, 5}, {0xd0001000, 0x1000, 6}, {0xd0002000, 0x1000, 7}};

AcpiImage build(uint32_t vcpus, std::span<const virtio::MmioSlot> slots = SLOTS) {
  auto image = build_acpi_tables(AcpiConfig{vcpus, slots}, ACPI_TABLES_GPA, ACPI_TABLES_END - ACPI_TABLES_GPA);
  EXPECT_TRUE(image.ok()) << image.error().describe();
  return image.ok() ? std::move(image).value() : AcpiImage{};
}

// The bytes of the table at `gpa` (its header's length), checked to lie inside the image.
Bytes table_at(const AcpiImage& image, uint64_t gpa) {
  const uint64_t off = gpa - image.layout.rsdp;
  if (gpa < image.layout.rsdp || off + sizeof(SdtHeader) > image.bytes.size()) return {};
  SdtHeader h;
  std::memcpy(&h, image.bytes.data() + off, sizeof h);
  if (off + h.length > image.bytes.size()) return {};
  return Bytes(image.bytes.begin() + static_cast<ptrdiff_t>(off),
               image.bytes.begin() + static_cast<ptrdiff_t>(off + h.length));
}

std::string signature(const Bytes& table) { return table.size() < 4 ? "" : std::string(table.begin(), table.begin() + 4); }

uint8_t byte_sum(std::span<const uint8_t> b) {
  uint8_t s = 0;
  for (uint8_t x : b) s = static_cast<uint8_t>(s + x);
  return s;
}

template <typename T>
T read_as(const Bytes& b, size_t off = 0) {
  T v{};
  EXPECT_LE(off + sizeof(T), b.size());
  if (off + sizeof(T) <= b.size()) std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

bool contains(const Bytes& hay, const Bytes& needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

size_t count(const Bytes& hay, const Bytes& needle) {
  size_t n = 0;
  for (auto it = hay.begin(); (it = std::search(it, hay.end(), needle.begin(), needle.end())) != hay.end(); ++it) ++n;
  return n;
}

TEST(Aml, PkgLengthEncodingsAtTheirLimits) {
  // One byte up to 63 in total (body + the byte itself); then 2 bytes with 4 + 8 bits.
  EXPECT_EQ(aml::pkg_length(0), Bytes{0x01});
  EXPECT_EQ(aml::pkg_length(62), Bytes{0x3f});
  EXPECT_EQ(aml::pkg_length(63), (Bytes{0x41, 0x04}));  // 65 = 0x41: low nibble 1, then 0x04
  EXPECT_EQ(aml::pkg_length(0xffd), (Bytes{0x4f, 0xff}));      // 0xfff, the 2-byte maximum
  EXPECT_EQ(aml::pkg_length(0xffe), (Bytes{0x81, 0x00, 0x01}));  // 0x1001 in 3 bytes
}

TEST(Aml, DataObjects) {
  EXPECT_EQ(aml::integer(0), Bytes{0x00});
  EXPECT_EQ(aml::integer(1), Bytes{0x01});
  EXPECT_EQ(aml::integer(0xff), (Bytes{0x0a, 0xff}));
  EXPECT_EQ(aml::integer(0x100), (Bytes{0x0b, 0x00, 0x01}));
  EXPECT_EQ(aml::integer(0x12345678), (Bytes{0x0c, 0x78, 0x56, 0x34, 0x12}));
  EXPECT_EQ(aml::integer(1ull << 32), (Bytes{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(aml::string("AB"), (Bytes{0x0d, 'A', 'B', 0}));
  // EISAID("PNP0501") is 0x0105d041 (what iasl emits for it).
  EXPECT_EQ(aml::eisa_id("PNP0501"), (Bytes{0x0c, 0x41, 0xd0, 0x05, 0x01}));
  EXPECT_EQ(aml::name_string("\\_SB_"), (Bytes{'\\', '_', 'S', 'B', '_'}));
  EXPECT_EQ(aml::name_string("VR1"), (Bytes{'V', 'R', '1', '_'}));
}

TEST(Aml, ResourceDescriptors) {
  EXPECT_EQ(aml::memory32_fixed(0xd0000000, 0x1000, true),
            (Bytes{0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x10, 0x00, 0x00}));
  EXPECT_EQ(aml::extended_interrupt(5, {}), (Bytes{0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00}));
  EXPECT_EQ(aml::extended_interrupt(9, {.edge = false, .active_low = true, .shared = true}),
            (Bytes{0x89, 0x06, 0x00, 0x0d, 0x01, 0x09, 0x00, 0x00, 0x00}));
  EXPECT_EQ(aml::io_port(0x3f8, 8), (Bytes{0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08}));
  EXPECT_EQ(aml::irq_no_flags(4), (Bytes{0x22, 0x10, 0x00}));
  // Buffer (PkgLength) (size 5) { IRQNoFlags, End Tag }
  EXPECT_EQ(aml::resource_template({aml::irq_no_flags(4)}), (Bytes{0x11, 0x08, 0x0a, 0x05, 0x22, 0x10, 0x00, 0x79, 0x00}));
}

TEST(AcpiTables, EveryChecksumIsRight) {
  const AcpiImage image = build(4);
  const Bytes rsdp(image.bytes.begin(), image.bytes.begin() + sizeof(Rsdp));
  EXPECT_EQ(byte_sum(std::span(rsdp).first(20)), 0) << "RSDP ACPI 1.0 checksum";
  EXPECT_EQ(byte_sum(rsdp), 0) << "RSDP extended checksum";
  for (uint64_t gpa : {image.layout.xsdt, image.layout.fadt, image.layout.madt, image.layout.dsdt}) {
    const Bytes t = table_at(image, gpa);
    ASSERT_FALSE(t.empty()) << std::hex << gpa;
    EXPECT_EQ(byte_sum(t), 0) << signature(t);
    EXPECT_EQ(gpa % 64, 0u) << signature(t);
  }
}

TEST(AcpiTables, RsdpXsdtFadtDsdtChain) {
  const AcpiImage image = build(2);
  ASSERT_EQ(image.layout.rsdp, ACPI_TABLES_GPA);
  const Rsdp rsdp = read_as<Rsdp>(image.bytes);
  EXPECT_EQ(std::string(rsdp.signature, 8), "RSD PTR ");
  EXPECT_EQ(rsdp.revision, 2);
  EXPECT_EQ(val(rsdp.length), sizeof(Rsdp));
  EXPECT_EQ(val(rsdp.rsdt_address), 0u);
  const Bytes xsdt = table_at(image, rsdp.xsdt_address);
  ASSERT_EQ(signature(xsdt), "XSDT");
  ASSERT_EQ(xsdt.size(), sizeof(SdtHeader) + 16);
  const Bytes fadt = table_at(image, read_as<uint64_t>(xsdt, 36));
  const Bytes madt = table_at(image, read_as<uint64_t>(xsdt, 44));
  ASSERT_EQ(signature(fadt), "FACP");
  ASSERT_EQ(signature(madt), "APIC");
  ASSERT_EQ(fadt.size(), sizeof(Fadt));
  const Fadt f = read_as<Fadt>(fadt);
  EXPECT_EQ(f.header.revision, 6);
  EXPECT_EQ(val(f.x_dsdt), image.layout.dsdt);
  EXPECT_EQ(val(f.dsdt), image.layout.dsdt);
  EXPECT_EQ(signature(table_at(image, f.x_dsdt)), "DSDT");
  EXPECT_EQ(val(f.flags), FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP);
  EXPECT_EQ(val(f.iapc_boot_arch),
            BOOT_ARCH_VGA_NOT_PRESENT | BOOT_ARCH_MSI_NOT_SUPPORTED | BOOT_ARCH_CMOS_RTC_NOT_PRESENT);
  EXPECT_EQ(val(f.sci_int), 0);
  EXPECT_EQ(f.reset_reg.space_id, GAS_SYSTEM_IO);
  EXPECT_EQ(val(f.reset_reg.address), 0xcf9u);
  EXPECT_EQ(f.reset_value, 6);
  EXPECT_LE(image.layout.end, ACPI_TABLES_END);
}

TEST(AcpiTables, MadtHasOneEnabledLocalApicPerVcpuAndTheIoapic) {
  for (uint32_t vcpus : {1u, 3u, 255u}) {
    const AcpiImage image = build(vcpus);
    const Bytes madt = table_at(image, image.layout.madt);
    ASSERT_EQ(signature(madt), "APIC");
    const MadtHeader h = read_as<MadtHeader>(madt);
    EXPECT_EQ(val(h.local_apic_address), 0xfee00000u);
    std::vector<uint32_t> apic_ids;
    int ioapics = 0;
    for (size_t off = sizeof(MadtHeader); off < madt.size();) {
      const uint8_t type = madt[off];
      const uint8_t len = madt[off + 1];
      ASSERT_GE(len, 2) << "entry at " << off;
      ASSERT_LE(off + len, madt.size());
      if (type == MADT_LOCAL_APIC) {
        const MadtLocalApic l = read_as<MadtLocalApic>(madt, off);
        EXPECT_EQ(l.processor_uid, l.apic_id);
        EXPECT_EQ(val(l.flags), LOCAL_APIC_ENABLED);
        apic_ids.push_back(l.apic_id);
      } else if (type == MADT_IO_APIC) {
        const MadtIoApic io = read_as<MadtIoApic>(madt, off);
        EXPECT_EQ(val(io.address), 0xfec00000u);
        EXPECT_EQ(val(io.gsi_base), 0u);
        ++ioapics;
      } else {
        ADD_FAILURE() << "unexpected MADT entry type " << int{type};
      }
      off += len;
    }
    ASSERT_EQ(apic_ids.size(), vcpus);
    for (uint32_t i = 0; i < vcpus; ++i) EXPECT_EQ(apic_ids[i], i);
    EXPECT_EQ(ioapics, 1);
  }
}

TEST(AcpiTables, DsdtNamesEachVirtioWindowAndCom1) {
  const AcpiImage image = build(1);
  const Bytes dsdt = table_at(image, image.layout.dsdt);
  ASSERT_EQ(signature(dsdt), "DSDT");
  EXPECT_EQ(count(dsdt, aml::string(VIRTIO_MMIO_HID)), SLOTS.size());
  for (size_t i = 0; i < SLOTS.size(); ++i) {
    const auto& s = SLOTS[i];
    const std::string name = "VR0" + std::to_string(i);
    EXPECT_TRUE(contains(dsdt, Bytes(name.begin(), name.end()))) << name;
    EXPECT_TRUE(contains(dsdt, aml::memory32_fixed(static_cast<uint32_t>(s.base), static_cast<uint32_t>(s.size), true)))
        << name;
    EXPECT_TRUE(contains(dsdt, aml::extended_interrupt(s.irq, {.edge = true}))) << name;
  }
  EXPECT_TRUE(contains(dsdt, aml::eisa_id("PNP0501")));
  EXPECT_TRUE(contains(dsdt, aml::io_port(0x3f8, 8)));
  EXPECT_TRUE(contains(dsdt, aml::irq_no_flags(4)));
  // Without virtio devices only COM1 is left.
  const AcpiImage bare = build(1, {});
  EXPECT_EQ(count(table_at(bare, bare.layout.dsdt), aml::string(VIRTIO_MMIO_HID)), 0u);
}

TEST(AcpiTables, BadConfigurationsAreErrors) {
  const uint64_t room = ACPI_TABLES_END - ACPI_TABLES_GPA;
  EXPECT_FALSE(build_acpi_tables({0, SLOTS}, ACPI_TABLES_GPA, room).ok());
  auto too_many_cpus = build_acpi_tables({256, SLOTS}, ACPI_TABLES_GPA, room);
  ASSERT_FALSE(too_many_cpus.ok());
  EXPECT_NE(too_many_cpus.error().describe().find("256 vCPUs"), std::string::npos);
  const std::vector<virtio::MmioSlot> high{{0xfffff000, 0x2000, 5}};
  auto above = build_acpi_tables({1, high}, ACPI_TABLES_GPA, room);
  ASSERT_FALSE(above.ok());
  EXPECT_NE(above.error().describe().find("0xfffff000"), std::string::npos);
  const std::vector<virtio::MmioSlot> many(MAX_DSDT_VIRTIO_DEVICES + 1, virtio::MmioSlot{0xd0000000, 0x1000, 5});
  EXPECT_FALSE(build_acpi_tables({1, many}, ACPI_TABLES_GPA, room).ok());
  auto small = build_acpi_tables({1, SLOTS}, ACPI_TABLES_GPA, 256);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().describe().find("fit"), std::string::npos);
}

GuestMemory memory() { return std::move(GuestMemory::allocate(128ull << 20)).value(); }

TEST(AcpiBoot, LinuxGetsTablesAndNoVirtioCommandLineWords) {
  const GuestMemory mem = memory();
  KernelSpec spec{"bzImage", "", "console=ttyS0", 2, BootProtocol::Auto, SLOTS};
  auto plan = load_kernel_image(mem, testing::FakeBzImage{}.build(), {}, spec);
  ASSERT_TRUE(plan.ok()) << plan.error().describe();
  EXPECT_EQ(plan->cmdline, "console=ttyS0");
  ASSERT_EQ(plan->acpi_rsdp_gpa, ACPI_TABLES_GPA);
  auto bp = mem.read_obj<linux_abi::BootParams>(plan->boot_info_gpa);
  ASSERT_TRUE(bp.ok());
  EXPECT_EQ(val(bp->acpi_rsdp_addr), ACPI_TABLES_GPA);
  char sig[8];
  ASSERT_TRUE(mem.read(ACPI_TABLES_GPA, sig, sizeof sig).ok());
  EXPECT_EQ(std::string(sig, 8), "RSD PTR ");
  // The tables are in memory the e820 map does not call RAM.
  bool reserved = false;
  for (const MemoryMapEntry& e : plan->memory_map) {
    if (e.addr <= ACPI_TABLES_GPA && e.addr + e.size >= ACPI_TABLES_END) reserved = e.type == MemoryType::Reserved;
  }
  EXPECT_TRUE(reserved);
}

TEST(AcpiBoot, RrvmGuestGetsCommandLineWordsAndNoTables) {
  const GuestMemory mem = memory();
  KernelSpec spec{"rrvm-guest", "", "tick_ms=10", 1, BootProtocol::Auto, SLOTS};
  auto plan = load_kernel_image(mem, testing::guest_elf_bytes(), {}, spec);
  ASSERT_TRUE(plan.ok()) << plan.error().describe();
  EXPECT_NE(plan->cmdline.find("tick_ms=10 virtio_mmio.device=4K@0xd0000000:5 virtio_mmio.device=4K@0xd0001000:6 "
                               "virtio_mmio.device=4K@0xd0002000:7"),
            std::string::npos)
      << plan->cmdline;
  EXPECT_EQ(plan->acpi_rsdp_gpa, 0u);
  char sig[8];
  ASSERT_TRUE(mem.read(ACPI_TABLES_GPA, sig, sizeof sig).ok());
  EXPECT_EQ(std::string(sig, 8), std::string(8, '\0'));
}

}  // namespace
}  // namespace rrvm::boot::acpi
