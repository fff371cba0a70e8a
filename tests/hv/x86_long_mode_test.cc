#include "vmm/hv/x86_long_mode.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace rrvm::hv {
namespace {

uint64_t u64_at(const std::vector<uint8_t>& ram, uint64_t gpa) {
  uint64_t v;
  std::memcpy(&v, ram.data() + gpa, sizeof v);
  return v;
}

LongModeLayout layout_2m() {
  return LongModeLayout{.page_tables_gpa = 0x9000, .gdt_gpa = 0x500, .tss_gpa = 0x600};
}

TEST(LongModePageTables, TwoMegabytePagesIdentityMapFourGiB) {
  std::vector<uint8_t> ram(1 << 20, 0xcc);
  const auto layout = layout_2m();
  ASSERT_EQ(page_table_bytes(layout), 6u * 4096);  // PML4, PDPT, 4 PDs
  ASSERT_TRUE(write_long_mode_tables(ram, layout).ok());

  const uint64_t pml4e = u64_at(ram, 0x9000);
  EXPECT_EQ(pml4e, 0xa000u | PTE_PRESENT | PTE_WRITABLE);
  EXPECT_EQ(u64_at(ram, 0x9008), 0u);  // the rest of the PML4 is empty, not 0xcc
  for (uint64_t g = 0; g < 4; ++g) {
    const uint64_t pdpte = u64_at(ram, 0xa000 + g * 8);
    EXPECT_EQ(pdpte, (0xb000 + g * 0x1000) | PTE_PRESENT | PTE_WRITABLE);
    EXPECT_FALSE(pdpte & PTE_PAGE_SIZE);
  }
  EXPECT_EQ(u64_at(ram, 0xa000 + 4 * 8), 0u);
  // PD entry j of GiB g maps g GiB + j * 2 MiB as a large page.
  EXPECT_EQ(u64_at(ram, 0xb000), 0u | PTE_PRESENT | PTE_WRITABLE | PTE_PAGE_SIZE);
  EXPECT_EQ(u64_at(ram, 0xb000 + 1 * 8), (2ull << 20) | PTE_PRESENT | PTE_WRITABLE | PTE_PAGE_SIZE);
  EXPECT_EQ(u64_at(ram, 0xe000 + 511 * 8),
            ((3ull << 30) + 511 * (2ull << 20)) | PTE_PRESENT | PTE_WRITABLE | PTE_PAGE_SIZE);
}

TEST(LongModePageTables, OneGigabytePages) {
  std::vector<uint8_t> ram(1 << 20, 0);
  auto layout = layout_2m();
  layout.use_1g_pages = true;
  layout.map_bytes = 6ull << 30;
  ASSERT_EQ(page_table_bytes(layout), 2u * 4096);
  ASSERT_TRUE(write_long_mode_tables(ram, layout).ok());
  for (uint64_t g = 0; g < 6; ++g) {
    EXPECT_EQ(u64_at(ram, 0xa000 + g * 8),
              (g << 30) | PTE_PRESENT | PTE_WRITABLE | PTE_PAGE_SIZE);
  }
  EXPECT_EQ(u64_at(ram, 0xa000 + 6 * 8), 0u);
}

TEST(LongModePageTables, RefusesBadLayouts) {
  std::vector<uint8_t> ram(0x10000, 0);
  auto unaligned = layout_2m();
  unaligned.page_tables_gpa = 0x9100;
  EXPECT_FALSE(write_long_mode_tables(ram, unaligned).ok());

  auto outside = layout_2m();
  outside.page_tables_gpa = 0xc000;  // 24 KiB of tables do not fit below 64 KiB
  auto s = write_long_mode_tables(ram, outside);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("outside guest RAM"), std::string::npos);

  auto overlap = layout_2m();
  overlap.gdt_gpa = 0x9ff8;
  auto o = write_long_mode_tables(ram, overlap);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.error().message.find("overlaps"), std::string::npos);

  auto huge = layout_2m();
  huge.map_bytes = 513ull << 30;
  EXPECT_FALSE(write_long_mode_tables(ram, huge).ok());

  // Nothing was written by the refused calls.
  for (uint8_t b : ram) ASSERT_EQ(b, 0);
}

TEST(LongModeGdt, EntriesDecodeToTheSegmentsTheSregsUse) {
  std::vector<uint8_t> ram(1 << 20, 0);
  const auto layout = layout_2m();
  ASSERT_TRUE(write_long_mode_tables(ram, layout).ok());
  EXPECT_EQ(u64_at(ram, 0x500), 0u);
  // The well-known encodings (Linux's boot GDT uses the same).
  EXPECT_EQ(u64_at(ram, 0x500 + GDT_CODE64), 0x00af9b000000ffffull);
  EXPECT_EQ(u64_at(ram, 0x500 + GDT_DATA), 0x00cf93000000ffffull);
  EXPECT_EQ(u64_at(ram, 0x500 + GDT_CODE32), 0x00cf9b000000ffffull);

  Sregs sregs{};
  sregs.apic_base = 0xfee00900;
  sregs.cr8 = 5;
  apply_long_mode_sregs(sregs, layout);
  auto same = [](const Segment& a, const Segment& b) {
    return a.base == b.base && a.limit == b.limit && a.selector == b.selector &&
           a.type == b.type && a.present == b.present && a.dpl == b.dpl && a.db == b.db &&
           a.s == b.s && a.l == b.l && a.g == b.g;
  };
  EXPECT_TRUE(same(sregs.cs, segment_from_gdt_entry(u64_at(ram, 0x500 + GDT_CODE64), GDT_CODE64)));
  EXPECT_TRUE(same(sregs.ss, segment_from_gdt_entry(u64_at(ram, 0x500 + GDT_DATA), GDT_DATA)));
  Segment tss = segment_from_gdt_entry(u64_at(ram, 0x500 + GDT_TSS), GDT_TSS);
  tss.base |= u64_at(ram, 0x500 + GDT_TSS + 8) << 32;
  EXPECT_TRUE(same(sregs.tr, tss));
}

TEST(LongModeSregs, ModeBitsSegmentsAndKeptFields) {
  Sregs sregs{};
  sregs.apic_base = 0xfee00900;
  sregs.cr8 = 5;
  sregs.interrupt_bitmap[1] = 0x10;
  sregs.cr2 = 0x1234;
  apply_long_mode_sregs(sregs, layout_2m());

  EXPECT_EQ(sregs.cr0 & (CR0_PE | CR0_PG), CR0_PE | CR0_PG);
  EXPECT_TRUE(sregs.cr0 & CR0_ET);
  EXPECT_EQ(sregs.cr3, 0x9000u);
  EXPECT_TRUE(sregs.cr4 & CR4_PAE);
  EXPECT_TRUE(sregs.cr4 & CR4_OSFXSR);
  EXPECT_EQ(sregs.efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
  EXPECT_EQ(sregs.cr2, 0u);

  // 64-bit code: L set, D/B clear (the combination L=1, D=1 is reserved).
  EXPECT_EQ(sregs.cs.selector, GDT_CODE64);
  EXPECT_EQ(sregs.cs.l, 1);
  EXPECT_EQ(sregs.cs.db, 0);
  EXPECT_EQ(sregs.cs.type, 0xb);
  EXPECT_EQ(sregs.cs.s, 1);
  EXPECT_EQ(sregs.cs.present, 1);
  EXPECT_EQ(sregs.cs.dpl, 0);
  EXPECT_EQ(sregs.cs.limit, 0xffffffffu);
  for (const Segment* s : {&sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss}) {
    EXPECT_EQ(s->selector, GDT_DATA);
    EXPECT_EQ(s->type, 0x3);
    EXPECT_EQ(s->db, 1);
    EXPECT_EQ(s->l, 0);
    EXPECT_EQ(s->present, 1);
    EXPECT_EQ(s->unusable, 0);
  }
  // TR: a present, busy 64-bit TSS (VM entry requires type 11).
  EXPECT_EQ(sregs.tr.selector, GDT_TSS);
  EXPECT_EQ(sregs.tr.type, 0xb);
  EXPECT_EQ(sregs.tr.s, 0);
  EXPECT_EQ(sregs.tr.present, 1);
  EXPECT_EQ(sregs.tr.base, 0x600u);
  EXPECT_EQ(sregs.tr.limit, TSS_BYTES - 1);
  EXPECT_EQ(sregs.ldt.type, 2);
  EXPECT_EQ(sregs.gdt.base, 0x500u);
  EXPECT_EQ(sregs.gdt.limit, GDT_BYTES - 1);
  EXPECT_EQ(sregs.idt.limit, 0);

  EXPECT_EQ(sregs.apic_base, 0xfee00900u);
  EXPECT_EQ(sregs.cr8, 5u);
  EXPECT_EQ(sregs.interrupt_bitmap[1], 0x10u);
}

TEST(LongModeRegs, EntryStackAndArguments) {
  const Regs r = long_mode_regs(0x100000, 0x8000, 0x1111, 0x2222);
  EXPECT_EQ(r.rip, 0x100000u);
  EXPECT_EQ(r.rsp, 0x8000u);
  EXPECT_EQ(r.rdi, 0x1111u);
  EXPECT_EQ(r.rsi, 0x2222u);
  EXPECT_EQ(r.rflags, 0x2u);
  EXPECT_EQ(r.rax, 0u);
}

TEST(LongModeCpuid, OneGigabytePagesFlag) {
  std::vector<CpuidEntry> cpuid = {{0x80000001, 0, 0, 0, 0, 0, 1u << 26}};
  EXPECT_TRUE(cpuid_has_1g_pages(cpuid));
  cpuid[0].edx = 0;
  EXPECT_FALSE(cpuid_has_1g_pages(cpuid));
  EXPECT_FALSE(cpuid_has_1g_pages({}));
}

}  // namespace
}  // namespace rrvm::hv
