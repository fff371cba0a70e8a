// ELF64 x86-64 executables as rrvm boots them: the rrvm guest (with its PVH and rrvm notes) and
// Linux's uncompressed vmlinux. parse_elf() validates everything it returns against the file
// (every header, note and segment inside it, sizes that do not overflow, segments that do not
// overlap); load_elf() validates against guest RAM before writing anything.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/core/guest_memory.h"

namespace rrvm::boot {

struct ElfSegment {
  uint64_t file_offset;
  uint64_t gpa;  // p_paddr: rrvm loads by physical address, as QEMU and Firecracker do
  uint64_t file_size;
  uint64_t mem_size;  // >= file_size; the rest is zeroed
  uint32_t flags;     // PF_X 1, PF_W 2, PF_R 4
};

struct RrvmEntryNote {
  uint64_t entry;
  uint32_t abi_version;
  uint32_t max_cpus;
};

struct ElfImage {
  uint64_t entry = 0;                     // e_entry
  std::vector<ElfSegment> segments;       // PT_LOAD with mem_size > 0, in file order
  std::optional<uint64_t> pvh_entry;      // XEN_ELFNOTE_PHYS32_ENTRY
  std::optional<RrvmEntryNote> rrvm_entry;  // rrvm's 64-bit entry note

  uint64_t lowest_gpa() const;
  uint64_t end_gpa() const;  // one past the highest loaded byte
  // True when [gpa, gpa + 1) lies inside a loaded segment.
  bool contains_gpa(uint64_t gpa) const;
};

inline constexpr uint32_t ELF_MAX_PHDRS = 64;

// Parses and validates `file` (named `name` in errors).
Result<ElfImage> parse_elf(std::span<const uint8_t> file, const std::string& name);

// Copies every segment to guest RAM and zeroes its tail (.bss). Checks first that every segment
// lies inside RAM and at or above 1 MiB (below is rrvm's boot area); writes nothing on error.
Status load_elf(const ElfImage& image, std::span<const uint8_t> file, const GuestMemory& mem,
                const std::string& name);

bool is_elf(std::span<const uint8_t> file);

}  // namespace rrvm::boot
