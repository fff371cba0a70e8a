// The built rrvm guest ELF (RRVM_GUEST_ELF, set by CMake) for the boot tests, and helpers that
// corrupt copies of it.
#pragma once

#include <elf.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "vmm/base/fd.h"

namespace rrvm::boot::testing {

inline std::vector<uint8_t> guest_elf_bytes() {
  auto s = read_file(RRVM_GUEST_ELF, 64 << 20);
  EXPECT_TRUE(s.ok()) << "the rrvm guest must be built first: " << s.error().describe();
  if (!s.ok()) return {};
  return std::vector<uint8_t>(s->begin(), s->end());
}

inline Elf64_Ehdr ehdr(const std::vector<uint8_t>& f) {
  Elf64_Ehdr h;
  std::memcpy(&h, f.data(), sizeof h);
  return h;
}
inline void set_ehdr(std::vector<uint8_t>& f, const Elf64_Ehdr& h) { std::memcpy(f.data(), &h, sizeof h); }

inline Elf64_Phdr phdr(const std::vector<uint8_t>& f, size_t i) {
  Elf64_Phdr p;
  std::memcpy(&p, f.data() + ehdr(f).e_phoff + i * sizeof p, sizeof p);
  return p;
}
inline void set_phdr(std::vector<uint8_t>& f, size_t i, const Elf64_Phdr& p) {
  std::memcpy(f.data() + ehdr(f).e_phoff + i * sizeof p, &p, sizeof p);
}
// Index of the first program header of `type`.
inline size_t find_phdr(const std::vector<uint8_t>& f, uint32_t type) {
  for (size_t i = 0; i < ehdr(f).e_phnum; ++i) {
    if (phdr(f, i).p_type == type) return i;
  }
  ADD_FAILURE() << "no program header of type " << type;
  return 0;
}

}  // namespace rrvm::boot::testing
