#include "vmm/boot/acpi/tables.h"

#include <cstring>

#include "vmm/base/check.h"

namespace rrvm::boot::acpi {
namespace {

// Revisions of ACPI 6.0, the version whose FADT layout (276 bytes) rrvm writes.
constexpr uint8_t XSDT_REVISION = 1;
constexpr uint8_t FADT_REVISION = 6;
constexpr uint8_t FADT_MINOR_VERSION = 0;
constexpr uint8_t MADT_REVISION = 4;
constexpr uint8_t RSDP_REVISION = 2;

constexpr uint16_t RESET_PORT = 0xcf9;  // devices::RESET_CONTROL_PORT: bit 2 resets the system
constexpr uint8_t RESET_VALUE = 0x06;

template <typename T>
void put(std::vector<uint8_t>& out, size_t offset, const T& value) {
  RRVM_CHECK(offset + sizeof(T) <= out.size());
  std::memcpy(out.data() + offset, &value, sizeof(T));
}

template <typename T>
void append(std::vector<uint8_t>& out, const T& value) {
  out.resize(out.size() + sizeof(T));
  put(out, out.size() - sizeof(T), value);
}

// Fills a table's header fields that depend on the finished table: length, then checksum.
void seal(std::vector<uint8_t>& table) {
  put(table, offsetof(SdtHeader, length), static_cast<uint32_t>(table.size()));
  table[offsetof(SdtHeader, checksum)] = 0;
  table[offsetof(SdtHeader, checksum)] = checksum(table);
}

SdtHeader header(const char (&signature)[5], uint8_t revision, const char (&oem_table_id)[9]) {
  SdtHeader h{};
  std::memcpy(h.signature, signature, 4);
  h.revision = revision;
  std::memcpy(h.oem_id, OEM_ID, 6);
  std::memcpy(h.oem_table_id, oem_table_id, 8);
  h.oem_revision = OEM_REVISION;
  std::memcpy(h.creator_id, CREATOR_ID, 4);
  h.creator_revision = CREATOR_REVISION;
  return h;
}

}  // namespace

uint8_t checksum(std::span<const uint8_t> bytes) {
  uint8_t sum = 0;
  for (uint8_t b : bytes) sum = static_cast<uint8_t>(sum + b);
  return static_cast<uint8_t>(-sum);
}

std::vector<uint8_t> make_table(const char (&signature)[5], uint8_t revision, const char (&oem_table_id)[9],
                                std::span<const uint8_t> body) {
  std::vector<uint8_t> table;
  append(table, header(signature, revision, oem_table_id));
  table.insert(table.end(), body.begin(), body.end());
  seal(table);
  return table;
}

std::vector<uint8_t> make_rsdp(uint64_t xsdt_gpa) {
  Rsdp r{};
  std::memcpy(r.signature, "RSD PTR ", 8);
  std::memcpy(r.oem_id, OEM_ID, 6);
  r.revision = RSDP_REVISION;
  r.rsdt_address = 0;  // no RSDT: revision 2 readers take the XSDT
  r.length = sizeof(Rsdp);
  r.xsdt_address = xsdt_gpa;
  std::vector<uint8_t> out;
  append(out, r);
  // The ACPI 1.0 checksum covers the first 20 bytes; the extended one, computed after it, all.
  out[offsetof(Rsdp, checksum)] = checksum(std::span(out).first(20));
  out[offsetof(Rsdp, extended_checksum)] = checksum(out);
  return out;
}

std::vector<uint8_t> make_xsdt(std::span<const uint64_t> table_gpas) {
  std::vector<uint8_t> body;
  for (uint64_t gpa : table_gpas) append(body, gpa);
  return make_table("XSDT", XSDT_REVISION, "RRVMXSDT", body);
}

std::vector<uint8_t> make_fadt(uint64_t dsdt_gpa) {
  Fadt f{};
  f.header = header("FACP", FADT_REVISION, "RRVMFACP");
  // Both DSDT pointers, equal: ACPICA prefers X_DSDT and warns only when the two differ.
  f.dsdt = static_cast<uint32_t>(dsdt_gpa);
  f.x_dsdt = dsdt_gpa;
  // Hardware-reduced: no SCI, PM1 blocks, PM timer or GPEs (all left 0); Linux then skips the
  // 8259 and PIT setup too. No VGA, MSI or CMOS RTC exists in rrvm, and no 8042 or other legacy
  // ISA devices (those flags stay clear); COM1 is described in the DSDT instead.
  f.flags = FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP;
  f.iapc_boot_arch = BOOT_ARCH_VGA_NOT_PRESENT | BOOT_ARCH_MSI_NOT_SUPPORTED | BOOT_ARCH_CMOS_RTC_NOT_PRESENT;
  f.reset_reg = GenericAddress{GAS_SYSTEM_IO, 8, 0, GAS_ACCESS_BYTE, RESET_PORT};
  f.reset_value = RESET_VALUE;
  f.minor_version = FADT_MINOR_VERSION;
  std::memcpy(&f.hypervisor_vendor, "RRVM", 4);
  std::vector<uint8_t> out;
  append(out, f);
  seal(out);
  return out;
}

std::vector<uint8_t> make_madt(uint32_t vcpus) {
  RRVM_CHECK(vcpus >= 1 && vcpus <= MAX_XAPIC_VCPUS);
  std::vector<uint8_t> out;
  MadtHeader m{};
  m.header = header("APIC", MADT_REVISION, "RRVMAPIC");
  m.local_apic_address = static_cast<uint32_t>(LOCAL_APIC_GPA);
  // KVM's in-kernel irqchip includes the two 8259s. No interrupt source override: KVM's default
  // GSI routing maps GSI n to IOAPIC pin n (PIT included), the identity Linux assumes without one.
  m.flags = MADT_PCAT_COMPAT;
  append(out, m);
  for (uint32_t i = 0; i < vcpus; ++i) {
    // KVM gives vCPU i the APIC ID i (vmm/hv/cpuid.cc reports the same in CPUID).
    append(out, MadtLocalApic{MADT_LOCAL_APIC, sizeof(MadtLocalApic), static_cast<uint8_t>(i),
                              static_cast<uint8_t>(i), LOCAL_APIC_ENABLED});
  }
  append(out, MadtIoApic{MADT_IO_APIC, sizeof(MadtIoApic), IOAPIC_ID, 0, static_cast<uint32_t>(IOAPIC_GPA), 0});
  seal(out);
  return out;
}

}  // namespace rrvm::boot::acpi
