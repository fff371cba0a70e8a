// rrvm's ACPI tables read by a real parser: ACPICA's iasl (Debian package acpica-tools, installed
// by scripts/setup.sh). Each table is written to a file and disassembled (`iasl -d`) without
// errors or warnings; the DSDT's disassembly names an LNRO0005 device per virtio window with its
// Memory32Fixed base/length and edge interrupt, and COM1; compiled back with iasl it gives the
// same AML bytes rrvm wrote. Skipped, saying why, when iasl is not installed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/boot/run_process.h"
#include "vmm/boot/acpi/acpi_tables.h"
#include "vmm/boot/acpi/tables.h"
#include "vmm/boot/boot_layout.h"

namespace rrvm::boot::acpi {
namespace {

using Bytes = std::vector<uint8_t>;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

const std::vector<virtio::MmioSlot> SLOTS{{0xd0000000, 0x1000, 5}, {0xd0001000, 0x1000, 6}, {0xd0002000, 0x1000, 7}};

#define REQUIRE_IASL()                                                                   \
  do {                                                                                   \
    if (!testing::in_path("iasl")) {                                                     \
      std::printf("skipped: iasl is not installed (Debian package acpica-tools)\n");     \
      GTEST_SKIP() << "iasl is not installed (Debian package acpica-tools)";            \
    }                                                                                    \
  } while (0)

class Iasl : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "rrvm-acpi-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto image = build_acpi_tables(AcpiConfig{4, SLOTS}, ACPI_TABLES_GPA, ACPI_TABLES_END - ACPI_TABLES_GPA);
    ASSERT_TRUE(image.ok()) << image.error().describe();
    image_ = std::move(image).value();
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  Bytes table(uint64_t gpa) const {
    const uint64_t off = gpa - image_.layout.rsdp;
    uint32_t len = 0;
    std::memcpy(&len, image_.bytes.data() + off + offsetof(SdtHeader, length), 4);
    return Bytes(image_.bytes.begin() + static_cast<ptrdiff_t>(off),
                 image_.bytes.begin() + static_cast<ptrdiff_t>(off + len));
  }

  std::string write(const std::string& name, const Bytes& bytes) const {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  // Runs iasl with `args`; expects success and no error or warning in its output.
  void iasl(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"iasl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const testing::ProcessResult r = testing::run_process(argv, 60s);
    const std::string out = r.out + r.err;
    EXPECT_EQ(r.exit_code, 0) << out;
    // A compile ends with "0 Errors, 0 Warnings, 0 Remarks"; any other mention is a finding.
    std::string findings = out;
    for (const std::string zero : {"0 Errors", "0 Warnings"}) {
      for (size_t at; (at = findings.find(zero)) != std::string::npos;) findings.erase(at, zero.size());
    }
    EXPECT_EQ(findings.find("Error"), std::string::npos) << out;
    EXPECT_EQ(findings.find("Warning"), std::string::npos) << out;
  }

  // Disassembles `name`.dat into `name`.dsl and returns it with whitespace runs collapsed.
  std::string disassemble(const std::string& name, const Bytes& bytes) const {
    const std::string dat = write(name + ".dat", bytes);
    iasl({"-p", (dir_ / name).string(), "-d", dat});
    std::ifstream in(dir_ / (name + ".dsl"));
    EXPECT_TRUE(in.good()) << "iasl wrote no " << name << ".dsl";
    std::stringstream ss;
    ss << in.rdbuf();
    std::string collapsed;
    for (char c : ss.str()) {
      const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
      if (!space) collapsed.push_back(c);
      else if (!collapsed.empty() && collapsed.back() != ' ') collapsed.push_back(' ');
    }
    return collapsed;
  }

  fs::path dir_;
  AcpiImage image_;
};

std::string hex8(uint64_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08lX", static_cast<unsigned long>(v));
  return buf;
}

TEST_F(Iasl, DsdtDisassemblesToAVirtioDevicePerWindowAndCom1) {
  REQUIRE_IASL();
  const std::string dsl = disassemble("dsdt", table(image_.layout.dsdt));
  for (size_t i = 0; i < SLOTS.size(); ++i) {
    const std::string dev = "Device (VR0" + std::to_string(i) + ")";
    const size_t at = dsl.find(dev);
    ASSERT_NE(at, std::string::npos) << dsl;
    const std::string block = dsl.substr(at, dsl.find("Device (", at + 1) - at);
    EXPECT_NE(block.find("Name (_HID, \"LNRO0005\")"), std::string::npos) << block;
    EXPECT_NE(block.find("Memory32Fixed (ReadWrite, " + hex8(SLOTS[i].base) + ", // Address Base " +
                         hex8(SLOTS[i].size) + ", // Address Length )"),
              std::string::npos)
        << block;
    EXPECT_NE(block.find("Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { " + hex8(SLOTS[i].irq) +
                         ", }"),
              std::string::npos)
        << block;
  }
  EXPECT_NE(dsl.find("Device (COM1) { Name (_HID, EisaId (\"PNP0501\")"), std::string::npos) << dsl;
  EXPECT_NE(dsl.find("IO (Decode16, 0x03F8, // Range Minimum 0x03F8, // Range Maximum 0x01, // Alignment 0x08, "
                     "// Length )"),
            std::string::npos)
      << dsl;
  EXPECT_NE(dsl.find("IRQNoFlags () {4}"), std::string::npos) << dsl;
}

TEST_F(Iasl, DsdtDisassemblyCompilesBackToTheSameAml) {
  REQUIRE_IASL();
  const Bytes dsdt = table(image_.layout.dsdt);
  disassemble("dsdt", dsdt);
  iasl({"-p", (dir_ / "recompiled").string(), (dir_ / "dsdt.dsl").string()});
  std::ifstream in(dir_ / "recompiled.aml", std::ios::binary);
  ASSERT_TRUE(in.good());
  const Bytes aml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The header differs (iasl's compiler id and version, so the checksum); the AML must not.
  ASSERT_GT(aml.size(), sizeof(SdtHeader));
  EXPECT_EQ(Bytes(aml.begin() + sizeof(SdtHeader), aml.end()), Bytes(dsdt.begin() + sizeof(SdtHeader), dsdt.end()));
}

TEST_F(Iasl, FadtMadtXsdtDisassemble) {
  REQUIRE_IASL();
  const std::string fadt = disassemble("facp", table(image_.layout.fadt));
  EXPECT_NE(fadt.find("Hardware Reduced (V5) : 1"), std::string::npos) << fadt;
  EXPECT_NE(fadt.find("CMOS RTC Not Present (V5) : 1"), std::string::npos) << fadt;
  const std::string dsdt = hex8(image_.layout.dsdt).substr(2);
  EXPECT_NE(fadt.find("DSDT Address : " + dsdt), std::string::npos) << fadt;
  EXPECT_NE(fadt.find("DSDT Address : 00000000" + dsdt), std::string::npos) << fadt;
  EXPECT_NE(fadt.find("Reset Register : [Generic Address Structure] [074h 0116 1] Space ID : 01 [SystemIO]"),
            std::string::npos)
      << fadt;
  EXPECT_NE(fadt.find("Address : 0000000000000CF9"), std::string::npos) << fadt;
  const std::string madt = disassemble("apic", table(image_.layout.madt));
  size_t local_apics = 0;
  for (size_t at = 0; (at = madt.find("Subtable Type : 00 [Processor Local APIC]", at)) != std::string::npos; ++at) {
    ++local_apics;
  }
  EXPECT_EQ(local_apics, 4u) << madt;
  EXPECT_NE(madt.find("Subtable Type : 01 [I/O APIC]"), std::string::npos) << madt;
  EXPECT_NE(madt.find("Address : FEC00000"), std::string::npos) << madt;
  const std::string xsdt = disassemble("xsdt", table(image_.layout.xsdt));
  EXPECT_NE(xsdt.find("ACPI Table Address 0 : 00000000" + hex8(image_.layout.fadt).substr(2)), std::string::npos)
      << xsdt;
}

}  // namespace
}  // namespace rrvm::boot::acpi
