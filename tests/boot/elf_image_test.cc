// The ELF loader on the real rrvm guest and on corrupted copies of it.
#include "vmm/boot/elf_image.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tests/boot/guest_elf.h"
#include "vmm/boot/boot_layout.h"
#include "vmm/guest/include/rrvm_boot_abi.h"

namespace rrvm::boot {
namespace {

using namespace rrvm::boot::testing;

constexpr uint64_t MIB = 1ull << 20;

GuestMemory memory(uint64_t size) { return std::move(GuestMemory::allocate(size)).value(); }

void expect_parse_error(const std::vector<uint8_t>& f, const std::string& fragment) {
  auto r = parse_elf(f, "guest.elf");
  ASSERT_FALSE(r.ok()) << "expected an error containing '" << fragment << "'";
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.rfind("guest.elf", 0), 0u) << r.error().message;
}

TEST(ElfImage, RealGuestHasBothEntryNotes) {
  const auto f = guest_elf_bytes();
  auto image = parse_elf(f, "guest.elf");
  ASSERT_TRUE(image.ok()) << image.error().describe();
  ASSERT_TRUE(image->rrvm_entry.has_value());
  ASSERT_TRUE(image->pvh_entry.has_value());
  EXPECT_EQ(image->rrvm_entry->entry, image->entry) << "e_entry is the rrvm 64-bit entry";
  EXPECT_EQ(image->rrvm_entry->abi_version, uint32_t{RRVM_BOOT_ABI_VERSION});
  EXPECT_EQ(image->rrvm_entry->max_cpus, uint32_t{RRVM_GUEST_MAX_CPUS});
  EXPECT_EQ(image->lowest_gpa(), uint64_t{RRVM_GUEST_LOAD_GPA});
  EXPECT_TRUE(image->contains_gpa(*image->pvh_entry));
  EXPECT_LT(*image->pvh_entry, 1ull << 32);
  ASSERT_EQ(image->segments.size(), 2u);
  EXPECT_GT(image->segments[1].mem_size, image->segments[1].file_size) << "the data segment carries .bss";
}

TEST(ElfImage, LoadCopiesSegmentsAndZeroesBss) {
  const auto f = guest_elf_bytes();
  auto image = parse_elf(f, "guest.elf");
  ASSERT_TRUE(image.ok()) << image.error().describe();
  GuestMemory mem = memory(8 * MIB);
  // Dirty RAM first: the loader, not fresh anonymous memory, must provide the zeroes.
  auto all = mem.slice(0, 8 * MIB);
  std::memset(all->data(), 0xaa, all->size());
  ASSERT_TRUE(load_elf(*image, f, mem, "guest.elf").ok());
  for (const ElfSegment& s : image->segments) {
    auto dst = mem.slice(s.gpa, s.mem_size);
    ASSERT_TRUE(dst.ok());
    EXPECT_EQ(std::memcmp(dst->data(), f.data() + s.file_offset, s.file_size), 0);
    for (uint64_t i = s.file_size; i < s.mem_size; ++i) {
      ASSERT_EQ((*dst)[i], 0) << "bss byte " << i << " of segment at 0x" << std::hex << s.gpa;
    }
  }
  EXPECT_EQ((*all)[image->end_gpa()], 0xaa) << "nothing written past the image";
}

TEST(ElfImage, TruncatedFiles) {
  const auto f = guest_elf_bytes();
  expect_parse_error(std::vector<uint8_t>(f.begin(), f.begin() + 40), "too small for an ELF header");
  const Elf64_Ehdr h = ehdr(f);
  // Cut inside the program headers.
  expect_parse_error(std::vector<uint8_t>(f.begin(), f.begin() + h.e_phoff + 60), "program headers");
  // Cut inside the first segment's data.
  const Elf64_Phdr load = phdr(f, find_phdr(f, PT_LOAD));
  expect_parse_error(std::vector<uint8_t>(f.begin(), f.begin() + load.p_offset + 16), "runs past the end");
}

TEST(ElfImage, BadHeaderFields) {
  const auto good = guest_elf_bytes();
  auto f = good;
  f[EI_CLASS] = ELFCLASS32;
  expect_parse_error(f, "not a 64-bit ELF");
  f = good;
  f[EI_DATA] = ELFDATA2MSB;
  expect_parse_error(f, "little-endian");
  f = good;
  f[1] = 'X';
  expect_parse_error(f, "bad magic");
  f = good;
  Elf64_Ehdr h = ehdr(f);
  h.e_machine = EM_AARCH64;
  set_ehdr(f, h);
  expect_parse_error(f, "not x86-64");
  h = ehdr(good);
  h.e_type = ET_DYN;
  f = good;
  set_ehdr(f, h);
  expect_parse_error(f, "not ET_EXEC");
  h = ehdr(good);
  h.e_phnum = 0;
  f = good;
  set_ehdr(f, h);
  expect_parse_error(f, "0 program headers");
  h = ehdr(good);
  h.e_phnum = 60000;
  f = good;
  set_ehdr(f, h);
  expect_parse_error(f, "60000 program headers");
  h = ehdr(good);
  h.e_phentsize = 32;
  f = good;
  set_ehdr(f, h);
  expect_parse_error(f, "program header size");
}

TEST(ElfImage, BadProgramHeaderOffsets) {
  const auto good = guest_elf_bytes();
  for (uint64_t phoff : {uint64_t{1} << 40, ~uint64_t{0} - 8, uint64_t{good.size()} - 8}) {
    auto f = good;
    Elf64_Ehdr h = ehdr(f);
    h.e_phoff = phoff;
    set_ehdr(f, h);
    expect_parse_error(f, "program headers at offset");
  }
}

TEST(ElfImage, BadSegments) {
  const auto good = guest_elf_bytes();
  const size_t load = find_phdr(good, PT_LOAD);
  auto f = good;
  Elf64_Phdr p = phdr(f, load);
  p.p_filesz = p.p_memsz + 1;
  set_phdr(f, load, p);
  expect_parse_error(f, "more file bytes");

  f = good;
  p = phdr(good, load);
  p.p_offset = ~uint64_t{0} - 4;  // offset + size overflows
  set_phdr(f, load, p);
  expect_parse_error(f, "runs past the end");

  f = good;
  p = phdr(good, load);
  p.p_paddr = ~uint64_t{0} - 0x10;
  set_phdr(f, load, p);
  expect_parse_error(f, "wraps around");

  f = good;
  p = phdr(good, load + 1);
  p.p_paddr = phdr(good, load).p_paddr + 0x10;  // the data segment on top of the code
  set_phdr(f, load + 1, p);
  expect_parse_error(f, "overlap");

  f = good;
  p = phdr(good, load);
  p.p_type = PT_INTERP;
  set_phdr(f, load, p);
  expect_parse_error(f, "dynamically linked");
}

TEST(ElfImage, BadNotes) {
  const auto good = guest_elf_bytes();
  const size_t note = find_phdr(good, PT_NOTE);
  const uint64_t off = phdr(good, note).p_offset;
  auto f = good;
  uint32_t huge = 0x7fffffff;
  std::memcpy(f.data() + off + 4, &huge, 4);  // first note's descsz
  expect_parse_error(f, "runs past the end of its segment");

  // The rrvm note follows the 24-byte Xen note: header(12) + "Xen\0" + 8-byte desc.
  const uint64_t rrvm = off + 24;
  f = good;
  uint32_t bad_size = 8;
  std::memcpy(f.data() + rrvm + 4, &bad_size, 4);
  expect_parse_error(f, "rrvm entry note of 8 bytes");

  f = good;
  uint32_t version = 99;
  std::memcpy(f.data() + rrvm + 12 + 8 + 8, &version, 4);  // header, "rrvm\0" padded to 8, entry
  expect_parse_error(f, "ABI version 99");

  f = good;
  uint64_t entry = 0x4000000;
  std::memcpy(f.data() + rrvm + 12 + 8, &entry, 8);
  expect_parse_error(f, "outside every segment");

  f = good;
  uint64_t pvh = 0x123456789;
  std::memcpy(f.data() + off + 16, &pvh, 8);
  expect_parse_error(f, "not a 32-bit address");
}

TEST(ElfImage, SegmentsMustFitInRamAndAboveOneMiB) {
  const auto good = guest_elf_bytes();
  auto image = parse_elf(good, "guest.elf");
  ASSERT_TRUE(image.ok());
  GuestMemory small = memory(MIB + 64 * 1024);
  auto r = load_elf(*image, good, small, "guest.elf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("does not fit in guest RAM"), std::string::npos) << r.error().message;

  auto f = good;
  const size_t data = find_phdr(f, PT_LOAD) + 1;  // the data segment: the entries stay valid
  Elf64_Phdr p = phdr(f, data);
  p.p_paddr = 0x8000;
  // Small enough not to reach the text at 1 MiB whatever the guest's bss grows to: the check
  // under test is "below 1 MiB", not the overlap check.
  p.p_filesz = std::min<uint64_t>(p.p_filesz, 0x1000);
  p.p_memsz = std::min<uint64_t>(p.p_memsz, 0x1000);
  set_phdr(f, data, p);
  auto low = parse_elf(f, "guest.elf");
  ASSERT_TRUE(low.ok()) << low.error().describe();
  GuestMemory mem = memory(16 * MIB);
  r = load_elf(*low, f, mem, "guest.elf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("below 1 MiB"), std::string::npos) << r.error().message;
}

// Random corruption of the headers must give errors or images that load inside RAM, never a
// crash or an out-of-bounds access (ASan builds check the latter).
TEST(ElfImage, RandomHeaderCorruptionNeverCrashes) {
  const auto good = guest_elf_bytes();
  const Elf64_Ehdr h = ehdr(good);
  const size_t header_bytes = h.e_phoff + h.e_phnum * sizeof(Elf64_Phdr);
  GuestMemory mem = memory(4 * MIB);
  std::mt19937 rng(12345);
  int loaded = 0;
  for (int i = 0; i < 3000; ++i) {
    auto f = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int j = 0; j < flips; ++j) f[rng() % header_bytes] ^= static_cast<uint8_t>(1u << (rng() % 8));
    if (rng() % 8 == 0) f.resize(rng() % f.size());
    auto image = parse_elf(f, "fuzz");
    if (image.ok() && load_elf(*image, f, mem, "fuzz").ok()) ++loaded;
  }
  EXPECT_GT(loaded, 0) << "some corruptions (e.g. of unused fields) still load";
}

}  // namespace
}  // namespace rrvm::boot
