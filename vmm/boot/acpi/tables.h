// The fixed-layout ACPI tables rrvm writes for Linux guests (ACPI 6.5, chapter 5.2): RSDP, the
// common table header, XSDT, FADT and MADT. Packed, with every offset checked below; the DSDT's
// AML comes from dsdt.h. Builders here return whole tables with length and checksum filled in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace rrvm::boot::acpi {

inline constexpr char OEM_ID[] = "RRVM  ";  // 6 bytes, space padded
inline constexpr uint32_t OEM_REVISION = 1;
inline constexpr char CREATOR_ID[] = "RRVM";
inline constexpr uint32_t CREATOR_REVISION = 1;

inline constexpr uint64_t LOCAL_APIC_GPA = 0xfee00000;
inline constexpr uint64_t IOAPIC_GPA = 0xfec00000;
inline constexpr uint8_t IOAPIC_ID = 0;  // KVM's in-kernel IOAPIC resets its ID register to 0
// MADT Local APIC entries carry 8-bit APIC IDs, and 0xff is the broadcast ID.
inline constexpr uint32_t MAX_XAPIC_VCPUS = 255;

// FADT Flags (5.2.9, table 5.10).
inline constexpr uint32_t FADT_RESET_REG_SUP = 1u << 10;
inline constexpr uint32_t FADT_HW_REDUCED_ACPI = 1u << 20;
// FADT IA-PC Boot Architecture Flags (5.2.9.3).
inline constexpr uint16_t BOOT_ARCH_VGA_NOT_PRESENT = 1u << 2;
inline constexpr uint16_t BOOT_ARCH_MSI_NOT_SUPPORTED = 1u << 3;
inline constexpr uint16_t BOOT_ARCH_CMOS_RTC_NOT_PRESENT = 1u << 5;
// MADT Flags and entry types (5.2.12).
inline constexpr uint32_t MADT_PCAT_COMPAT = 1;
inline constexpr uint8_t MADT_LOCAL_APIC = 0;
inline constexpr uint8_t MADT_IO_APIC = 1;
inline constexpr uint32_t LOCAL_APIC_ENABLED = 1;
// Generic Address Structure address space ids (5.2.3.2).
inline constexpr uint8_t GAS_SYSTEM_IO = 1;
inline constexpr uint8_t GAS_ACCESS_BYTE = 1;

#pragma pack(push, 1)
struct Rsdp {
  char signature[8];  // "RSD PTR "
  uint8_t checksum;   // the first 20 bytes (the ACPI 1.0 part) sum to 0
  char oem_id[6];
  uint8_t revision;   // 2: ACPI 2.0+, with the XSDT
  uint32_t rsdt_address;
  uint32_t length;
  uint64_t xsdt_address;
  uint8_t extended_checksum;  // all 36 bytes sum to 0
  uint8_t reserved[3];
};

struct SdtHeader {
  char signature[4];
  uint32_t length;
  uint8_t revision;
  uint8_t checksum;  // the whole table sums to 0
  char oem_id[6];
  char oem_table_id[8];
  uint32_t oem_revision;
  char creator_id[4];
  uint32_t creator_revision;
};

struct GenericAddress {
  uint8_t space_id;
  uint8_t bit_width;
  uint8_t bit_offset;
  uint8_t access_size;
  uint64_t address;
};

struct Fadt {
  SdtHeader header;             // 0
  uint32_t firmware_ctrl;       // 36
  uint32_t dsdt;                // 40
  uint8_t reserved0;            // 44
  uint8_t preferred_pm_profile; // 45
  uint16_t sci_int;             // 46
  uint32_t smi_cmd;             // 48
  uint8_t legacy_fields[57];    // 52: ACPI_ENABLE .. CENTURY (PM blocks; unused when HW-reduced)
  uint16_t iapc_boot_arch;      // 109
  uint8_t reserved1;            // 111
  uint32_t flags;               // 112
  GenericAddress reset_reg;     // 116
  uint8_t reset_value;          // 128
  uint16_t arm_boot_arch;       // 129
  uint8_t minor_version;        // 131
  uint64_t x_firmware_ctrl;     // 132
  uint64_t x_dsdt;              // 140
  GenericAddress x_pm_blocks[8];  // 148: X_PM1a_EVT_BLK .. X_GPE1_BLK
  GenericAddress sleep_control; // 244
  GenericAddress sleep_status;  // 256
  uint64_t hypervisor_vendor;   // 268
};

struct MadtHeader {
  SdtHeader header;
  uint32_t local_apic_address;
  uint32_t flags;
};

struct MadtLocalApic {
  uint8_t type;  // MADT_LOCAL_APIC
  uint8_t length;
  uint8_t processor_uid;
  uint8_t apic_id;
  uint32_t flags;
};

struct MadtIoApic {
  uint8_t type;  // MADT_IO_APIC
  uint8_t length;
  uint8_t ioapic_id;
  uint8_t reserved;
  uint32_t address;
  uint32_t gsi_base;
};
#pragma pack(pop)

static_assert(sizeof(Rsdp) == 36);
static_assert(sizeof(SdtHeader) == 36);
static_assert(sizeof(GenericAddress) == 12);
static_assert(offsetof(Fadt, iapc_boot_arch) == 109);
static_assert(offsetof(Fadt, reset_reg) == 116);
static_assert(offsetof(Fadt, x_dsdt) == 140);
static_assert(offsetof(Fadt, sleep_control) == 244);
static_assert(sizeof(Fadt) == 276);
static_assert(sizeof(MadtHeader) == 44);
static_assert(sizeof(MadtLocalApic) == 8);
static_assert(sizeof(MadtIoApic) == 12);

// Two's-complement byte sum: the value that makes `bytes` sum to 0 mod 256 once stored in them
// (call with the checksum byte 0).
uint8_t checksum(std::span<const uint8_t> bytes);

// Each returns the whole table, header and checksum filled in.
std::vector<uint8_t> make_rsdp(uint64_t xsdt_gpa);
std::vector<uint8_t> make_xsdt(std::span<const uint64_t> table_gpas);
// HW-reduced FADT pointing at the DSDT, with the reset register at port 0xcf9 (value 6).
std::vector<uint8_t> make_fadt(uint64_t dsdt_gpa);
// One enabled Local APIC per vCPU (UID = APIC ID = index) and the IOAPIC (GSI base 0).
// RRVM_CHECKs 1 <= vcpus <= MAX_XAPIC_VCPUS (the caller returns the user's error first).
std::vector<uint8_t> make_madt(uint32_t vcpus);
// A table of `signature` whose body (after the header) is `body`.
std::vector<uint8_t> make_table(const char (&signature)[5], uint8_t revision, const char (&oem_table_id)[9],
                                std::span<const uint8_t> body);

}  // namespace rrvm::boot::acpi
