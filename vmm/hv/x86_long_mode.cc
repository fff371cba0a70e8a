#include "vmm/hv/x86_long_mode.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace rrvm::hv {
namespace {

constexpr uint64_t PAGE = 4096;
constexpr uint64_t GIB = 1ull << 30;
constexpr uint64_t MIB2 = 2ull << 20;
constexpr uint64_t MAX_MAP_GIB = 512;  // one PDPT

// GDT access byte | flags nibble << 12: P, S, type; G, D/B, L.
constexpr uint16_t FLAGS_CODE64 = 0xa09b;  // present, code exec/read accessed, L, G
constexpr uint16_t FLAGS_DATA = 0xc093;    // present, data read/write accessed, D/B, G
constexpr uint16_t FLAGS_CODE32 = 0xc09b;  // present, code exec/read accessed, D/B, G
constexpr uint16_t FLAGS_TSS64 = 0x008b;   // present, system type 0xb: busy 64-bit TSS

uint64_t map_gib(const LongModeLayout& layout) { return (layout.map_bytes + GIB - 1) / GIB; }

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

void put_u64(std::span<uint8_t> ram, uint64_t gpa, uint64_t value) {
  std::memcpy(ram.data() + gpa, &value, sizeof value);  // x86 guests are little-endian, as we are
}

struct Range {
  const char* what;
  uint64_t gpa;
  uint64_t len;
};

Status check_ranges(std::span<uint8_t> ram, const Range (&ranges)[3]) {
  for (const Range& r : ranges) {
    if (r.gpa > ram.size() || r.len > ram.size() - r.gpa) {
      return make_error("long mode setup: " + std::string(r.what) + " at " + hex(r.gpa) + " (" +
                        std::to_string(r.len) + " bytes) is outside guest RAM of " +
                        std::to_string(ram.size()) + " bytes");
    }
  }
  for (size_t i = 0; i < 3; ++i) {
    for (size_t j = i + 1; j < 3; ++j) {
      const Range& a = ranges[i];
      const Range& b = ranges[j];
      if (a.gpa < b.gpa + b.len && b.gpa < a.gpa + a.len) {
        return make_error("long mode setup: " + std::string(a.what) + " at " + hex(a.gpa) +
                          " overlaps " + b.what + " at " + hex(b.gpa));
      }
    }
  }
  return ok_status();
}

Status check_layout(std::span<uint8_t> ram, const LongModeLayout& layout) {
  if (layout.map_bytes == 0 || map_gib(layout) > MAX_MAP_GIB) {
    return make_error("long mode setup: cannot identity-map " + std::to_string(layout.map_bytes) +
                      " bytes (1 byte to 512 GiB)");
  }
  if (layout.page_tables_gpa % PAGE != 0) {
    return make_error("long mode setup: page tables at " + hex(layout.page_tables_gpa) +
                      " are not 4 KiB aligned");
  }
  if (layout.gdt_gpa % 8 != 0) {
    return make_error("long mode setup: GDT at " + hex(layout.gdt_gpa) + " is not 8-byte aligned");
  }
  const Range ranges[3] = {{"page tables", layout.page_tables_gpa, page_table_bytes(layout)},
                           {"GDT", layout.gdt_gpa, GDT_BYTES},
                           {"TSS", layout.tss_gpa, TSS_BYTES}};
  return check_ranges(ram, ranges);
}

void write_page_tables(std::span<uint8_t> ram, const LongModeLayout& layout) {
  const uint64_t pml4 = layout.page_tables_gpa;
  const uint64_t pdpt = pml4 + PAGE;
  std::memset(ram.data() + pml4, 0, page_table_bytes(layout));
  put_u64(ram, pml4, pdpt | PTE_PRESENT | PTE_WRITABLE);
  const uint64_t gib = map_gib(layout);
  for (uint64_t i = 0; i < gib; ++i) {
    if (layout.use_1g_pages) {
      put_u64(ram, pdpt + i * 8, (i * GIB) | PTE_PRESENT | PTE_WRITABLE | PTE_PAGE_SIZE);
      continue;
    }
    const uint64_t pd = pdpt + PAGE + i * PAGE;
    put_u64(ram, pdpt + i * 8, pd | PTE_PRESENT | PTE_WRITABLE);
    for (uint64_t j = 0; j < 512; ++j) {
      put_u64(ram, pd + j * 8, (i * GIB + j * MIB2) | PTE_PRESENT | PTE_WRITABLE | PTE_PAGE_SIZE);
    }
  }
}

void write_gdt_and_tss(std::span<uint8_t> ram, const LongModeLayout& layout) {
  const uint64_t gdt = layout.gdt_gpa;
  put_u64(ram, gdt + 0, 0);
  put_u64(ram, gdt + GDT_CODE64, gdt_entry(FLAGS_CODE64, 0, 0xfffff));
  put_u64(ram, gdt + GDT_DATA, gdt_entry(FLAGS_DATA, 0, 0xfffff));
  put_u64(ram, gdt + GDT_CODE32, gdt_entry(FLAGS_CODE32, 0, 0xfffff));
  // A 64-bit system descriptor takes two slots; the second holds base bits 63:32.
  put_u64(ram, gdt + GDT_TSS,
          gdt_entry(FLAGS_TSS64, static_cast<uint32_t>(layout.tss_gpa), TSS_BYTES - 1));
  put_u64(ram, gdt + GDT_TSS + 8, layout.tss_gpa >> 32);
  std::memset(ram.data() + layout.tss_gpa, 0, TSS_BYTES);
  // I/O map base at the TSS limit: no I/O permission bitmap.
  const uint16_t iomap_base = TSS_BYTES;
  std::memcpy(ram.data() + layout.tss_gpa + 102, &iomap_base, sizeof iomap_base);
}

}  // namespace

uint64_t page_table_bytes(const LongModeLayout& layout) {
  // PML4 + PDPT, plus one page directory per GiB with 2 MiB pages.
  return 2 * PAGE + (layout.use_1g_pages ? 0 : map_gib(layout) * PAGE);
}

bool cpuid_has_1g_pages(std::span<const CpuidEntry> cpuid) {
  for (const CpuidEntry& e : cpuid) {
    if (e.function == 0x80000001 && e.index == 0) return (e.edx >> 26) & 1;
  }
  return false;
}

Status write_long_mode_tables(std::span<uint8_t> ram, const LongModeLayout& layout) {
  RRVM_TRY(check_layout(ram, layout));
  write_page_tables(ram, layout);
  write_gdt_and_tss(ram, layout);
  return ok_status();
}

uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit) {
  return ((uint64_t{base} & 0xff000000u) << 32) | ((uint64_t{flags} & 0xf0ffu) << 40) |
         ((uint64_t{limit} & 0x000f0000u) << 32) | ((uint64_t{base} & 0x00ffffffu) << 16) |
         (uint64_t{limit} & 0x0000ffffu);
}

Segment segment_from_gdt_entry(uint64_t entry, uint16_t selector) {
  Segment s{};
  s.base = ((entry >> 16) & 0xffffff) | (((entry >> 56) & 0xff) << 24);
  const uint32_t raw_limit = static_cast<uint32_t>((entry & 0xffff) | (((entry >> 48) & 0xf) << 16));
  const uint8_t access = static_cast<uint8_t>(entry >> 40);
  const uint8_t flags = static_cast<uint8_t>((entry >> 52) & 0xf);
  s.g = (flags >> 3) & 1;
  s.db = (flags >> 2) & 1;
  s.l = (flags >> 1) & 1;
  s.avl = flags & 1;
  // KVM takes the limit in bytes: with G set the 20-bit limit counts 4 KiB units.
  s.limit = s.g ? (raw_limit << 12) | 0xfff : raw_limit;
  s.selector = selector;
  s.type = access & 0xf;
  s.s = (access >> 4) & 1;
  s.dpl = (access >> 5) & 3;
  s.present = (access >> 7) & 1;
  s.unusable = 0;
  return s;
}

void apply_long_mode_sregs(Sregs& sregs, const LongModeLayout& layout) {
  sregs.cs = segment_from_gdt_entry(gdt_entry(FLAGS_CODE64, 0, 0xfffff), GDT_CODE64);
  const Segment data = segment_from_gdt_entry(gdt_entry(FLAGS_DATA, 0, 0xfffff), GDT_DATA);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
  sregs.tr = segment_from_gdt_entry(gdt_entry(FLAGS_TSS64, 0, TSS_BYTES - 1), GDT_TSS);
  sregs.tr.base = layout.tss_gpa;
  // No LDT; the state the CPU has after reset (selector 0, present, type LDT).
  sregs.ldt = Segment{.base = 0, .limit = 0xffff, .selector = 0, .type = 2, .present = 1};
  sregs.gdt = {layout.gdt_gpa, static_cast<uint16_t>(GDT_BYTES - 1)};
  sregs.idt = {0, 0};
  sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG;
  sregs.cr2 = 0;
  sregs.cr3 = layout.page_tables_gpa;
  sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
  sregs.efer = EFER_LME | EFER_LMA;
}

Regs long_mode_regs(uint64_t entry, uint64_t stack, uint64_t arg0, uint64_t arg1) {
  Regs r{};
  r.rip = entry;
  r.rsp = stack;
  r.rdi = arg0;
  r.rsi = arg1;
  r.rflags = 0x2;
  return r;
}

}  // namespace rrvm::hv
