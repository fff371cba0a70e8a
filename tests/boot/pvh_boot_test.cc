// Booting the real rrvm guest ELF through hvm_start_info (Rrvm64 and Pvh32), and the initial vCPU
// state each entry mode asks for.
#include "vmm/boot/pvh_boot.h"

#include <gtest/gtest.h>

#include "tests/boot/guest_elf.h"
#include "vmm/boot/boot_layout.h"
#include "vmm/boot/kernel_loader.h"
#include "vmm/guest/include/rrvm_boot_abi.h"

namespace rrvm::boot {
namespace {

using namespace rrvm::boot::testing;

constexpr uint64_t MIB = 1ull << 20;

GuestMemory memory(uint64_t size) { return std::move(GuestMemory::allocate(size)).value(); }

std::string read_cstring(const GuestMemory& mem, uint64_t gpa) {
  std::string s;
  for (char c; mem.read(gpa + s.size(), &c, 1).ok() && c != '\0';) s.push_back(c);
  return s;
}

Result<BootPlan> boot(const GuestMemory& mem, const std::vector<uint8_t>& f, const std::string& cmdline, uint32_t vcpus,
                      BootProtocol protocol = BootProtocol::Auto, std::span<const uint8_t> initrd = {}) {
  KernelSpec spec{"guest.elf", "", cmdline, vcpus, protocol};
  return load_kernel_image(mem, f, initrd, spec);
}

TEST(PvhBoot, RrvmGuestGetsStartInfoCmdlineAndMemmap) {
  const auto f = guest_elf_bytes();
  GuestMemory mem = memory(64 * MIB);
  auto plan = boot(mem, f, "scenario=ticks:2", 2);
  ASSERT_TRUE(plan.ok()) << plan.error().describe();
  EXPECT_EQ(plan->mode, EntryMode::Rrvm64);
  EXPECT_EQ(plan->entry, parse_elf(f, "g")->rrvm_entry->entry);
  EXPECT_EQ(plan->boot_info_gpa, START_INFO_GPA);
  EXPECT_EQ(plan->cmdline, "scenario=ticks:2 cpus=2");

  auto info = mem.read_obj<hvm_start_info>(START_INFO_GPA);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->magic, HVM_START_MAGIC_VALUE);
  EXPECT_EQ(info->version, 1u);
  EXPECT_EQ(info->nr_modules, 0u);
  EXPECT_EQ(read_cstring(mem, info->cmdline_paddr), "scenario=ticks:2 cpus=2");
  ASSERT_EQ(info->memmap_entries, plan->memory_map.size());
  for (uint32_t i = 0; i < info->memmap_entries; ++i) {
    auto e = mem.read_obj<hvm_memmap_table_entry>(info->memmap_paddr + i * sizeof(hvm_memmap_table_entry));
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->addr, plan->memory_map[i].addr);
    EXPECT_EQ(e->size, plan->memory_map[i].size);
    EXPECT_EQ(e->type, static_cast<uint32_t>(plan->memory_map[i].type));
  }
  // The identity map the 64-bit entry runs on: PML4[0] -> PDPT present and writable.
  auto pml4 = mem.read_obj<uint64_t>(PAGE_TABLES_GPA);
  ASSERT_TRUE(pml4.ok());
  EXPECT_EQ(*pml4 & 0x3, 0x3u);
  EXPECT_EQ(*pml4 & ~uint64_t{0xfff}, PAGE_TABLES_GPA + 0x1000);
}

TEST(PvhBoot, CpusOnTheCommandLine) {
  EXPECT_EQ(*rrvm_guest_cmdline("", 1), "cpus=1");
  EXPECT_EQ(*rrvm_guest_cmdline("cpus=4 tick_ms=10", 4), "cpus=4 tick_ms=10");
  auto clash = rrvm_guest_cmdline("tick_ms=10 cpus=3", 2);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.error().message.find("cpus=3 but the VM has 2"), std::string::npos) << clash.error().message;
}

TEST(PvhBoot, CommandLineTooLongForTheGuest) {
  const auto f = guest_elf_bytes();
  GuestMemory mem = memory(64 * MIB);
  auto plan = boot(mem, f, std::string(RRVM_GUEST_CMDLINE_MAX, 'x'), 1);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("at most 1023"), std::string::npos) << plan.error().message;
}

TEST(PvhBoot, MoreVcpusThanTheGuestSupports) {
  const auto f = guest_elf_bytes();
  GuestMemory mem = memory(64 * MIB);
  auto plan = boot(mem, f, "", RRVM_GUEST_MAX_CPUS + 1);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("supports at most 32 vCPUs"), std::string::npos) << plan.error().message;
}

TEST(PvhBoot, InitrdBecomesModuleZeroPlacedHigh) {
  const auto f = guest_elf_bytes();
  GuestMemory mem = memory(64 * MIB);
  const std::vector<uint8_t> initrd(3 * MIB + 123, 0x5a);
  auto plan = boot(mem, f, "", 1, BootProtocol::Auto, initrd);
  ASSERT_TRUE(plan.ok()) << plan.error().describe();
  EXPECT_EQ(plan->initrd_size, initrd.size());
  EXPECT_EQ(plan->initrd_gpa % 4096, 0u);
  EXPECT_LE(plan->initrd_gpa + initrd.size(), 64 * MIB);
  EXPECT_GT(plan->initrd_gpa, 60 * MIB) << "placed at the top of RAM";
  auto info = mem.read_obj<hvm_start_info>(START_INFO_GPA);
  EXPECT_EQ(info->nr_modules, 1u);
  auto module = mem.read_obj<hvm_modlist_entry>(info->modlist_paddr);
  EXPECT_EQ(module->paddr, plan->initrd_gpa);
  EXPECT_EQ(module->size, initrd.size());
  auto last = mem.read_obj<uint8_t>(plan->initrd_gpa + initrd.size() - 1);
  EXPECT_EQ(*last, 0x5a);
}

TEST(PvhBoot, InitrdTooLargeForMemory) {
  const auto f = guest_elf_bytes();
  GuestMemory mem = memory(8 * MIB);
  const std::vector<uint8_t> initrd(7 * MIB, 1);  // the guest image ends below 3 MiB
  auto plan = boot(mem, f, "", 1, BootProtocol::Auto, initrd);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("initrd of 7340032 bytes does not fit"), std::string::npos)
      << plan.error().message;
}

TEST(PvhBoot, MemoryTooSmallForTheGuest) {
  const auto f = guest_elf_bytes();
  GuestMemory mem = memory(MIB + 256 * 1024);
  auto plan = boot(mem, f, "", 1);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message.find("give the VM more memory"), std::string::npos) << plan.error().message;
}

TEST(PvhBoot, Pvh32EntersThe32BitNote) {
  const auto f = guest_elf_bytes();
  GuestMemory mem = memory(64 * MIB);
  auto plan = boot(mem, f, "", 2, BootProtocol::Pvh);
  ASSERT_TRUE(plan.ok()) << plan.error().describe();
  EXPECT_EQ(plan->mode, EntryMode::Pvh32);
  EXPECT_EQ(plan->entry, *parse_elf(f, "g")->pvh_entry);
  EXPECT_EQ(plan->cmdline, "cpus=2") << "still the rrvm guest: cpus= is added";
}

TEST(BootState, Rrvm64EveryVcpuRunsWithItsIndex) {
  BootPlan plan;
  plan.mode = EntryMode::Rrvm64;
  plan.entry = 0x100064;
  plan.boot_info_gpa = START_INFO_GPA;
  plan.vcpus = 3;
  plan.layout = long_mode_layout();
  for (uint32_t i = 0; i < 3; ++i) {
    const hv::Regs r = initial_regs(plan, i);
    EXPECT_EQ(r.rip, 0x100064u);
    EXPECT_EQ(r.rdi, i);
    EXPECT_EQ(r.rsi, START_INFO_GPA);
    EXPECT_EQ(r.rflags, 0x2u) << "interrupts off";
    EXPECT_EQ(initial_mp_state(plan, i), hv::MpState::Runnable);
  }
  hv::Sregs s{};
  s.apic_base = 0xfee00900;
  apply_initial_sregs(plan, s);
  EXPECT_EQ(s.efer & (hv::EFER_LME | hv::EFER_LMA), hv::EFER_LME | hv::EFER_LMA);
  EXPECT_TRUE(s.cr0 & hv::CR0_PG);
  EXPECT_EQ(s.cr3, PAGE_TABLES_GPA);
  EXPECT_EQ(s.cs.l, 1);
  EXPECT_EQ(s.cs.selector, hv::GDT_CODE64);
  EXPECT_EQ(s.gdt.base, GDT_GPA);
  EXPECT_EQ(s.apic_base, 0xfee00900u) << "kept";
}

TEST(BootState, Pvh32IsFlatProtectedModeWithoutPaging) {
  BootPlan plan;
  plan.mode = EntryMode::Pvh32;
  plan.entry = 0x100000;
  plan.boot_info_gpa = START_INFO_GPA;
  plan.vcpus = 2;
  plan.layout = long_mode_layout();
  const hv::Regs r = initial_regs(plan, 0);
  EXPECT_EQ(r.rip, 0x100000u);
  EXPECT_EQ(r.rbx, START_INFO_GPA);
  EXPECT_EQ(initial_mp_state(plan, 0), hv::MpState::Runnable);
  EXPECT_EQ(initial_mp_state(plan, 1), hv::MpState::Uninitialized) << "APs wait for the guest's SIPI";
  hv::Sregs s{};
  apply_initial_sregs(plan, s);
  EXPECT_EQ(s.cr0, hv::CR0_PE | hv::CR0_ET);
  EXPECT_EQ(s.efer, 0u);
  EXPECT_EQ(s.cr4, 0u);
  EXPECT_EQ(s.cs.selector, hv::GDT_CODE32);
  EXPECT_EQ(s.cs.db, 1);
  EXPECT_EQ(s.cs.l, 0);
  EXPECT_EQ(s.cs.base, 0u);
  EXPECT_EQ(s.cs.limit, 0xffffffffu);
  EXPECT_EQ(s.ds.limit, 0xffffffffu);
  EXPECT_EQ(s.tr.type, 0xb) << "a busy TSS";
}

TEST(BootState, Linux64PassesBootParamsInRsi) {
  BootPlan plan;
  plan.mode = EntryMode::Linux64;
  plan.entry = 0x1000200;
  plan.boot_info_gpa = ZERO_PAGE_GPA;
  plan.vcpus = 2;
  const hv::Regs r = initial_regs(plan, 0);
  EXPECT_EQ(r.rsi, ZERO_PAGE_GPA);
  EXPECT_EQ(r.rsp, BOOT_STACK_TOP);
  EXPECT_EQ(r.rbp, BOOT_STACK_TOP);
  EXPECT_EQ(r.rip, 0x1000200u);
  EXPECT_EQ(initial_mp_state(plan, 1), hv::MpState::Uninitialized);
}

}  // namespace
}  // namespace rrvm::boot
