// The Linux 64-bit boot protocol on made-up bzImages and on a vmlinux-like ELF (the rrvm guest
// with its rrvm note renamed, so rrvm treats it as a plain vmlinux).
#include "vmm/boot/linux_boot.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "tests/boot/fake_bzimage.h"
#include "tests/boot/guest_elf.h"
#include "vmm/boot/boot_layout.h"
#include "vmm/boot/kernel_loader.h"

namespace rrvm::boot {
namespace {

using namespace rrvm::boot::testing;
using linux_abi::BootParams;

constexpr uint64_t MIB = 1ull << 20;

GuestMemory memory(uint64_t size) { return std::move(GuestMemory::allocate(size)).value(); }

Result<BootPlan> boot(const GuestMemory& mem, const std::vector<uint8_t>& kernel,
                      const std::string& cmdline, std::span<const uint8_t> initrd = {}) {
  return load_kernel_image(mem, kernel, initrd,
                           KernelSpec{"kernel", "", cmdline, 2, BootProtocol::Auto});
}

std::string read_cstring(const GuestMemory& mem, uint64_t gpa) {
  std::string s;
  for (char c; mem.read(gpa + s.size(), &c, 1).ok() && c != '\0';) s.push_back(c);
  return s;
}

TEST(LinuxBoot, BzImageZeroPage) {
  FakeBzImage fake;
  const auto file = fake.build();
  GuestMemory mem = memory(128 * MIB);
  auto plan = boot(mem, file, "");
  ASSERT_TRUE(plan.ok()) << plan.error().describe();
  EXPECT_EQ(plan->mode, EntryMode::Linux64);
  EXPECT_EQ(plan->entry, fake.pref_address + 0x200) << "startup_64";
  EXPECT_EQ(plan->kernel_start, fake.pref_address);
  EXPECT_EQ(plan->kernel_end, fake.pref_address + fake.init_size);
  EXPECT_EQ(plan->boot_info_gpa, ZERO_PAGE_GPA);
  EXPECT_EQ(plan->cmdline, "console=ttyS0") << "the default when none is given";

  auto bp = mem.read_obj<BootParams>(ZERO_PAGE_GPA);
  ASSERT_TRUE(bp.ok());
  EXPECT_EQ(val(bp->hdr.header), linux_abi::HDRS_MAGIC);
  EXPECT_EQ(val(bp->hdr.boot_flag), 0xaa55);
  EXPECT_EQ(val(bp->hdr.version), 0x20f) << "copied from the image";
  EXPECT_EQ(val(bp->hdr.type_of_loader), 0xff);
  EXPECT_EQ(val(bp->hdr.vid_mode), 0xffff);
  EXPECT_EQ(val(bp->hdr.code32_start), fake.pref_address);
  EXPECT_EQ(val(bp->hdr.cmd_line_ptr), CMDLINE_GPA);
  EXPECT_EQ(val(bp->ext_cmd_line_ptr), 0u);
  EXPECT_EQ(read_cstring(mem, val(bp->hdr.cmd_line_ptr)), "console=ttyS0");
  EXPECT_EQ(val(bp->hdr.ramdisk_image), 0u);
  EXPECT_EQ(val(bp->hdr.ramdisk_size), 0u);
  ASSERT_EQ(val(bp->e820_entries), 3);
  EXPECT_EQ(val(bp->e820_table[0].addr), 0u);
  EXPECT_EQ(val(bp->e820_table[0].size), EBDA_START);
  EXPECT_EQ(val(bp->e820_table[0].type), 1u);
  EXPECT_EQ(val(bp->e820_table[1].type), 2u);
  EXPECT_EQ(val(bp->e820_table[2].addr), HIGH_MEMORY_START);
  EXPECT_EQ(val(bp->e820_table[2].addr) + val(bp->e820_table[2].size), 128 * MIB);

  // The protected-mode kernel (after the setup sectors) is at the load address.
  std::vector<uint8_t> loaded(fake.kernel_bytes);
  ASSERT_TRUE(mem.read(fake.pref_address, loaded.data(), loaded.size()).ok());
  EXPECT_TRUE(std::equal(loaded.begin(), loaded.end(), file.begin() + 5 * 512));
}

TEST(LinuxBoot, InitrdBelowInitrdAddrMax) {
  FakeBzImage fake;
  fake.initrd_addr_max = 48 * MIB - 1;
  const auto file = fake.build();
  GuestMemory mem = memory(128 * MIB);
  const std::vector<uint8_t> initrd(5 * MIB + 7, 0x33);
  auto plan = boot(mem, file, "root=/dev/ram0", initrd);
  ASSERT_TRUE(plan.ok()) << plan.error().describe();
  EXPECT_LE(plan->initrd_gpa + initrd.size(), 48 * MIB);
  EXPECT_GE(plan->initrd_gpa, plan->kernel_end);
  EXPECT_EQ(plan->initrd_gpa % 4096, 0u);
  auto bp = mem.read_obj<BootParams>(ZERO_PAGE_GPA);
  EXPECT_EQ(val(bp->hdr.ramdisk_image), plan->initrd_gpa);
  EXPECT_EQ(val(bp->hdr.ramdisk_size), initrd.size());
  EXPECT_EQ(read_cstring(mem, CMDLINE_GPA), "root=/dev/ram0");
}

TEST(LinuxBoot, InitrdTooLargeForMemory) {
  FakeBzImage fake;
  const auto file = fake.build();
  GuestMemory mem = memory(32 * MIB);
  const std::vector<uint8_t> initrd(16 * MIB, 1);  // the kernel needs 16 MiB + 3 MiB
  auto plan = boot(mem, file, "", initrd);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("initrd of 16777216 bytes does not fit"), std::string::npos)
      << plan.error().message;
}

TEST(LinuxBoot, MemoryTooSmallForTheKernel) {
  FakeBzImage fake;
  const auto file = fake.build();
  GuestMemory mem = memory(16 * MIB);  // pref_address is 16 MiB
  auto plan = boot(mem, file, "");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("too small for kernel"), std::string::npos)
      << plan.error().message;
}

TEST(LinuxBoot, CommandLineLongerThanTheKernelTakes) {
  FakeBzImage fake;
  fake.cmdline_size = 100;
  const auto file = fake.build();
  GuestMemory mem = memory(64 * MIB);
  auto plan = boot(mem, file, std::string(101, 'a'));
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("at most 100"), std::string::npos) << plan.error().message;
  EXPECT_TRUE(boot(mem, file, std::string(100, 'a')).ok());
}

TEST(LinuxBoot, MakeBootParamsRefusesAnOversizedMemoryMap) {
  BootPlan plan;
  plan.memory_map.assign(129, MemoryMapEntry{0, 4096, MemoryType::Ram});
  auto bp = make_boot_params(linux_abi::SetupHeader{}, plan);
  ASSERT_FALSE(bp.ok());
  EXPECT_NE(bp.error().message.find("129 entries"), std::string::npos);
}

// The rrvm guest without its rrvm note: a plain 64-bit ELF kernel, booted like Firecracker boots a
// vmlinux (entry at e_entry, zero page in rsi).
std::vector<uint8_t> vmlinux_like() {
  auto f = guest_elf_bytes();
  const uint64_t notes = phdr(f, find_phdr(f, PT_NOTE)).p_offset;
  const uint32_t other_type = 0x52520099;
  std::memcpy(f.data() + notes + 24 + 8, &other_type, 4);  // the rrvm note's n_type
  return f;
}

TEST(LinuxBoot, VmlinuxEntersAtEEntryWithAMadeUpHeader) {
  const auto f = vmlinux_like();
  GuestMemory mem = memory(64 * MIB);
  auto plan = boot(mem, f, "");
  ASSERT_TRUE(plan.ok()) << plan.error().describe();
  EXPECT_EQ(plan->mode, EntryMode::Linux64);
  EXPECT_EQ(plan->entry, ehdr(f).e_entry);
  EXPECT_EQ(plan->cmdline, "console=ttyS0");
  auto bp = mem.read_obj<BootParams>(ZERO_PAGE_GPA);
  EXPECT_EQ(val(bp->hdr.boot_flag), 0xaa55);
  EXPECT_EQ(val(bp->hdr.header), linux_abi::HDRS_MAGIC);
  EXPECT_EQ(val(bp->hdr.kernel_alignment), VMLINUX_KERNEL_ALIGNMENT);
  EXPECT_EQ(val(bp->hdr.type_of_loader), 0xff);
  EXPECT_EQ(val(bp->e820_entries), 3);
}

TEST(LinuxBoot, VmlinuxWithEntryOutsideItsSegments) {
  auto f = vmlinux_like();
  Elf64_Ehdr h = ehdr(f);
  h.e_entry = 0xffffffff81000000ull;  // a virtual address
  set_ehdr(f, h);
  GuestMemory mem = memory(64 * MIB);
  auto plan = boot(mem, f, "");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("physical entry"), std::string::npos) << plan.error().message;
}

TEST(KernelLoader, UnknownFormat) {
  GuestMemory mem = memory(16 * MIB);
  const std::vector<uint8_t> junk(4096, 0x90);
  auto plan = boot(mem, junk, "");
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("neither an ELF executable nor a bzImage"),
            std::string::npos);
  const std::vector<uint8_t> empty;
  EXPECT_FALSE(boot(mem, empty, "").ok());
}

TEST(KernelLoader, BzImageHasNoPvhEntry) {
  GuestMemory mem = memory(64 * MIB);
  const auto file = FakeBzImage{}.build();
  auto plan = load_kernel_image(mem, file, {}, KernelSpec{"kernel", "", "", 1, BootProtocol::Pvh});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("no PVH entry"), std::string::npos);
}

TEST(KernelLoader, MissingFilesAreNamed) {
  GuestMemory mem = memory(16 * MIB);
  auto plan = load_kernel(mem, KernelSpec{"/nonexistent/vmlinux", "", "", 1});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().describe().find("/nonexistent/vmlinux"), std::string::npos);
  plan = load_kernel(mem, KernelSpec{RRVM_GUEST_ELF, "/nonexistent/initrd", "", 1});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().describe().find("initrd"), std::string::npos) << plan.error().describe();
}

TEST(KernelLoader, InitrdFileLargerThanMemory) {
  GuestMemory mem = memory(16 * MIB);
  char path[] = "/tmp/rrvm-initrd-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, 32 * MIB), 0);  // sparse: nothing is written
  close(fd);
  auto plan = load_kernel(mem, KernelSpec{RRVM_GUEST_ELF, path, "", 1});
  unlink(path);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().describe().find("initrd (guest memory is 16 MiB)"), std::string::npos)
      << plan.error().describe();
}

// check_kernel_files(): what load_kernel() refuses about the files, without a VM and reading only
// the kernel's first page; the errors are load_kernel()'s.
TEST(KernelLoader, CheckKernelFilesBeforeAnyVm) {
  char dir[] = "/tmp/rrvm-kernel-files-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  auto write = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    std::string path = std::string(dir) + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (f != nullptr) {
      std::fwrite(bytes.data(), 1, bytes.size(), f);
      std::fclose(f);
    }
    return path;
  };
  const std::string bz = write("bzImage", FakeBzImage{}.build());
  const std::string junk = write("junk", std::vector<uint8_t>(8192, 0x90));
  const std::string big_initrd = write("initrd", std::vector<uint8_t>(17 * MIB, 1));

  EXPECT_TRUE(check_kernel_files(KernelSpec{RRVM_GUEST_ELF, "", "", 1}, 16 * MIB).ok());
  EXPECT_TRUE(check_kernel_files(KernelSpec{bz, "", "", 1}, 16 * MIB).ok());

  GuestMemory mem = memory(16 * MIB);
  // Each refusal reads as load_kernel()'s does.
  for (const KernelSpec& spec :
       {KernelSpec{junk, "", "", 1}, KernelSpec{"/nonexistent/k", "", "", 1},
        KernelSpec{bz, big_initrd, "", 1}, KernelSpec{"", "", "", 1}}) {
    Status checked = check_kernel_files(spec, 16 * MIB);
    ASSERT_FALSE(checked.ok()) << spec.kernel_path;
    auto loaded = load_kernel(mem, spec);
    ASSERT_FALSE(loaded.ok()) << spec.kernel_path;
    EXPECT_EQ(checked.error().describe(), loaded.error().describe());
  }
  EXPECT_NE(check_kernel_files(KernelSpec{junk, "", "", 1}, 16 * MIB)
                .error()
                .describe()
                .find(junk + ": not a kernel rrvm can boot"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace rrvm::boot
