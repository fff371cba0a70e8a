#include "vmm/boot/elf_image.h"

#include <fmt/format.h>

#include <elf.h>

#include <algorithm>
#include <cstring>

#include "vmm/boot/boot_layout.h"
#include "vmm/guest/include/rrvm_boot_abi.h"

namespace rrvm::boot {
namespace {

// [offset, offset + len) inside a file of `size` bytes, without overflow.
bool in_file(uint64_t offset, uint64_t len, uint64_t size) { return offset <= size && len <= size - offset; }

uint64_t align4(uint64_t v) { return (v + 3) & ~uint64_t{3}; }

template <typename T>
T read_at(std::span<const uint8_t> file, uint64_t offset) {
  T v;
  std::memcpy(&v, file.data() + offset, sizeof v);
  return v;
}

Status check_ident(std::span<const uint8_t> file, const Elf64_Ehdr& eh, const std::string& name) {
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return make_error(name + ": not an ELF file (bad magic)");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) {
    return make_error(name + ": not a 64-bit ELF (class " + std::to_string(eh.e_ident[EI_CLASS]) +
                      "); rrvm boots x86-64 ELF executables");
  }
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB) return make_error(name + ": ELF is not little-endian");
  if (eh.e_ident[EI_VERSION] != EV_CURRENT) return make_error(name + ": unknown ELF version");
  if (eh.e_type != ET_EXEC) {
    return make_error(name + ": ELF type " + std::to_string(eh.e_type) +
                      " is not ET_EXEC (rrvm boots static, non-relocatable executables)");
  }
  if (eh.e_machine != EM_X86_64) {
    return make_error(name + ": ELF machine " + std::to_string(eh.e_machine) + " is not x86-64 (62)");
  }
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) {
    return make_error(name + ": program header size " + std::to_string(eh.e_phentsize) + " is not " +
                      std::to_string(sizeof(Elf64_Phdr)));
  }
  if (eh.e_phnum == 0 || eh.e_phnum > ELF_MAX_PHDRS) {
    return make_error(name + ": " + std::to_string(eh.e_phnum) + " program headers (expected 1 to " +
                      std::to_string(ELF_MAX_PHDRS) + ")");
  }
  if (!in_file(eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr), file.size())) {
    return make_error(fmt::format("{}: program headers at offset {:#x} run past the end of the {}-byte file", name,
                                  eh.e_phoff, file.size()));
  }
  return ok_status();
}

// The NUL-terminated name of a note, as stored (namesz counts the NUL).
bool note_name_is(std::span<const uint8_t> file, uint64_t off, uint32_t namesz, const char* want) {
  const size_t want_len = std::strlen(want);
  return namesz == want_len + 1 && std::memcmp(file.data() + off, want, want_len) == 0 &&
         file[off + want_len] == 0;
}

Status parse_note(std::span<const uint8_t> file, uint64_t desc_off, uint32_t descsz, bool is_rrvm,
                  ElfImage& image, const std::string& where) {
  if (!is_rrvm) {
    if (image.pvh_entry) return make_error(where + ": a second PVH entry note");
    if (descsz != 4 && descsz != 8) return make_error(where + ": PVH entry note of " + std::to_string(descsz) + " bytes");
    image.pvh_entry = descsz == 4 ? read_at<uint32_t>(file, desc_off) : read_at<uint64_t>(file, desc_off);
    return ok_status();
  }
  if (image.rrvm_entry) return make_error(where + ": a second rrvm entry note");
  if (descsz != sizeof(rrvm_note_entry64)) {
    return make_error(where + ": rrvm entry note of " + std::to_string(descsz) + " bytes, expected " +
                      std::to_string(sizeof(rrvm_note_entry64)));
  }
  const auto note = read_at<rrvm_note_entry64>(file, desc_off);
  if (note.abi_version != RRVM_BOOT_ABI_VERSION) {
    return make_error(where + ": rrvm boot ABI version " + std::to_string(note.abi_version) +
                      ", this rrvm speaks version " + std::to_string(RRVM_BOOT_ABI_VERSION));
  }
  if (note.max_cpus == 0) return make_error(where + ": rrvm entry note allows 0 vCPUs");
  image.rrvm_entry = RrvmEntryNote{note.entry, note.abi_version, note.max_cpus};
  return ok_status();
}

Status parse_notes(std::span<const uint8_t> file, const Elf64_Phdr& ph, ElfImage& image, const std::string& name) {
  if (!in_file(ph.p_offset, ph.p_filesz, file.size())) {
    return make_error(fmt::format("{}: note segment at offset {:#x} runs past the end of the file", name, ph.p_offset));
  }
  const uint64_t end = ph.p_offset + ph.p_filesz;
  uint64_t off = ph.p_offset;
  while (end - off >= sizeof(Elf64_Nhdr)) {
    const auto nh = read_at<Elf64_Nhdr>(file, off);
    const uint64_t name_off = off + sizeof(Elf64_Nhdr);
    const uint64_t desc_off = name_off + align4(nh.n_namesz);
    const uint64_t next = desc_off + align4(nh.n_descsz);  // n_* are 32-bit: no overflow in 64
    const std::string where = fmt::format("{}: note at offset {:#x}", name, off);
    if (next > end) return make_error(where + " runs past the end of its segment");
    const bool xen = note_name_is(file, name_off, nh.n_namesz, "Xen") && nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY;
    const bool rrvm = note_name_is(file, name_off, nh.n_namesz, RRVM_ELFNOTE_NAME) && nh.n_type == RRVM_ELFNOTE_ENTRY64;
    if (xen || rrvm) RRVM_TRY(parse_note(file, desc_off, nh.n_descsz, rrvm, image, where));
    off = next;
  }
  return ok_status();
}

Status add_load_segment(std::span<const uint8_t> file, const Elf64_Phdr& ph, size_t index, ElfImage& image,
                        const std::string& name) {
  const std::string what = name + ": segment " + std::to_string(index);
  if (ph.p_filesz > ph.p_memsz) {
    return make_error(what + " has more file bytes (" + std::to_string(ph.p_filesz) + ") than memory bytes (" +
                      std::to_string(ph.p_memsz) + ")");
  }
  if (!in_file(ph.p_offset, ph.p_filesz, file.size())) {
    return make_error(fmt::format("{} (offset {:#x}, {} bytes) runs past the end of the {}-byte file", what,
                                  ph.p_offset, ph.p_filesz, file.size()));
  }
  if (ph.p_paddr + ph.p_memsz < ph.p_paddr) return make_error(what + " wraps around the address space");
  if (ph.p_memsz == 0) return ok_status();
  image.segments.push_back(ElfSegment{ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz, ph.p_flags});
  return ok_status();
}

Status check_overlaps(const ElfImage& image, const std::string& name) {
  std::vector<ElfSegment> sorted = image.segments;
  std::sort(sorted.begin(), sorted.end(), [](const ElfSegment& a, const ElfSegment& b) { return a.gpa < b.gpa; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].gpa < sorted[i - 1].gpa + sorted[i - 1].mem_size) {
      return make_error(fmt::format("{}: segments at {:#x} and {:#x} overlap", name, sorted[i - 1].gpa, sorted[i].gpa));
    }
  }
  return ok_status();
}

Status check_entries(const ElfImage& image, const std::string& name) {
  if (image.rrvm_entry && !image.contains_gpa(image.rrvm_entry->entry)) {
    return make_error(fmt::format("{}: rrvm 64-bit entry {:#x} is outside every segment", name, image.rrvm_entry->entry));
  }
  if (image.pvh_entry) {
    if (*image.pvh_entry >= (1ull << 32)) {
      return make_error(fmt::format("{}: PVH entry {:#x} is not a 32-bit address", name, *image.pvh_entry));
    }
    if (!image.contains_gpa(*image.pvh_entry)) {
      return make_error(fmt::format("{}: PVH entry {:#x} is outside every segment", name, *image.pvh_entry));
    }
  }
  return ok_status();
}

}  // namespace

uint64_t ElfImage::lowest_gpa() const {
  uint64_t low = UINT64_MAX;
  for (const ElfSegment& s : segments) low = std::min(low, s.gpa);
  return low;
}

uint64_t ElfImage::end_gpa() const {
  uint64_t end = 0;
  for (const ElfSegment& s : segments) end = std::max(end, s.gpa + s.mem_size);
  return end;
}

bool ElfImage::contains_gpa(uint64_t gpa) const {
  return std::any_of(segments.begin(), segments.end(),
                     [gpa](const ElfSegment& s) { return gpa >= s.gpa && gpa - s.gpa < s.mem_size; });
}

bool is_elf(std::span<const uint8_t> file) {
  return file.size() >= SELFMAG && std::memcmp(file.data(), ELFMAG, SELFMAG) == 0;
}

Result<ElfImage> parse_elf(std::span<const uint8_t> file, const std::string& name) {
  if (file.size() < sizeof(Elf64_Ehdr)) {
    return make_error(name + ": " + std::to_string(file.size()) + " bytes is too small for an ELF header");
  }
  const auto eh = read_at<Elf64_Ehdr>(file, 0);
  RRVM_TRY(check_ident(file, eh, name));
  ElfImage image;
  image.entry = eh.e_entry;
  for (size_t i = 0; i < eh.e_phnum; ++i) {
    const auto ph = read_at<Elf64_Phdr>(file, eh.e_phoff + i * sizeof(Elf64_Phdr));
    if (ph.p_type == PT_LOAD) RRVM_TRY(add_load_segment(file, ph, i, image, name));
    if (ph.p_type == PT_NOTE) RRVM_TRY(parse_notes(file, ph, image, name));
    if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC) {
      return make_error(name + ": dynamically linked ELF (PT_INTERP or PT_DYNAMIC); rrvm boots static kernels");
    }
  }
  if (image.segments.empty()) return make_error(name + ": no loadable segment");
  RRVM_TRY(check_overlaps(image, name));
  RRVM_TRY(check_entries(image, name));
  return image;
}

Status load_elf(const ElfImage& image, std::span<const uint8_t> file, const GuestMemory& mem, const std::string& name) {
  for (size_t i = 0; i < image.segments.size(); ++i) {
    const ElfSegment& s = image.segments[i];
    const std::string what = fmt::format("{}: segment [{:#x}, {:#x})", name, s.gpa, s.gpa + s.mem_size);
    if (s.gpa < HIGH_MEMORY_START) return make_error(what + " is below 1 MiB, where rrvm keeps its boot structures");
    if (!mem.contains(s.gpa, s.mem_size)) {
      return make_error(what + " does not fit in guest RAM (" + std::to_string(mem.total_size() >> 20) +
                        " MiB): give the VM more memory");
    }
    if (!in_file(s.file_offset, s.file_size, file.size())) return make_error(what + " is not inside the file");
  }
  for (const ElfSegment& s : image.segments) {
    // write() and zero() mark the pages, for a live migration during a reset's reload.
    RRVM_TRY(mem.write(s.gpa, file.data() + s.file_offset, s.file_size));
    RRVM_TRY(mem.zero(s.gpa + s.file_size, s.mem_size - s.file_size));
  }
  return ok_status();
}

}  // namespace rrvm::boot
