#include "vmm/boot/bzimage.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "vmm/boot/boot_layout.h"

namespace rrvm::boot {
namespace {

using linux_abi::SETUP_HEADER_OFFSET;

std::string version_string(uint16_t v) { return fmt::format("{}.{:02}", v >> 8, v & 0xff); }

// The header's own length: the jump at 0x200 skips to 0x202 + its 8-bit displacement.
uint64_t header_end(std::span<const uint8_t> file) { return 0x202 + uint64_t{file[0x201]}; }

Status check_header(const BzImage& bz, bool has_pref_address, const std::string& name) {
  const linux_abi::SetupHeader& h = bz.hdr;
  if (h.boot_flag != linux_abi::BOOT_FLAG) {
    return make_error(fmt::format("{}: boot flag is {:#x}, not 0xaa55", name, uint16_t{h.boot_flag}));
  }
  if (bz.protocol < MIN_BOOT_PROTOCOL) {
    return make_error(name + ": boot protocol " + version_string(bz.protocol) + " is older than the 2.06 rrvm needs");
  }
  if (!(h.loadflags & linux_abi::LOADED_HIGH)) {
    return make_error(name + ": a zImage (loaded low, below 1 MiB); rrvm boots bzImages");
  }
  if (bz.protocol < XLOADFLAGS_PROTOCOL || !(h.xloadflags & linux_abi::XLF_KERNEL_64)) {
    return make_error(fmt::format("{}: no 64-bit entry point (needs boot protocol 2.12+ with XLF_KERNEL_64; this is "
                                  "{}, xloadflags {:#x})",
                                  name, version_string(bz.protocol), uint16_t{h.xloadflags}));
  }
  const uint32_t align = h.kernel_alignment;
  if (h.relocatable_kernel && (align == 0 || (align & (align - 1)) != 0)) {
    return make_error(fmt::format("{}: kernel_alignment {:#x} is not a power of two", name, align));
  }
  // Only pref_address must honour the alignment: a kernel without one (before 2.10) goes to 1 MiB
  // and its decompressor moves itself to an aligned place.
  if (h.relocatable_kernel && has_pref_address && bz.load_gpa % align != 0) {
    return make_error(
        fmt::format("{}: pref_address {:#x} is not aligned to kernel_alignment {:#x}", name, bz.load_gpa, align));
  }
  return ok_status();
}

}  // namespace

bool is_bzimage(std::span<const uint8_t> file) {
  uint32_t magic = 0;
  if (file.size() < 0x206) return false;
  std::memcpy(&magic, file.data() + 0x202, sizeof magic);
  return magic == linux_abi::HDRS_MAGIC;
}

Result<BzImage> parse_bzimage(std::span<const uint8_t> file, const std::string& name) {
  if (!is_bzimage(file)) return make_error(name + ": not a bzImage (no \"HdrS\" at offset 0x202)");
  const uint64_t end = header_end(file);
  if (end > file.size()) return make_error(name + ": setup header runs past the end of the file");
  BzImage bz;
  const uint64_t copy = std::min<uint64_t>(sizeof bz.hdr, end - SETUP_HEADER_OFFSET);
  std::memcpy(&bz.hdr, file.data() + SETUP_HEADER_OFFSET, copy);
  bz.protocol = bz.hdr.version;
  const uint64_t sects = bz.hdr.setup_sects == 0 ? 4 : bz.hdr.setup_sects;  // 0 means 4 (boot.rst)
  bz.setup_bytes = (sects + 1) * 512;
  if (bz.setup_bytes >= file.size()) {
    return make_error(name + ": setup code (" + std::to_string(bz.setup_bytes) + " bytes) fills the whole " +
                      std::to_string(file.size()) + "-byte file: no kernel after it");
  }
  bz.kernel_offset = bz.setup_bytes;
  bz.kernel_size = file.size() - bz.setup_bytes;
  if (uint64_t{bz.hdr.syssize} * 16 > bz.kernel_size) {
    return make_error(name + ": truncated: the header announces " + std::to_string(uint64_t{bz.hdr.syssize} * 16) +
                      " bytes of kernel, the file has " + std::to_string(bz.kernel_size));
  }
  const bool has_pref_address = bz.protocol >= 0x20a && bz.hdr.pref_address != 0;
  bz.load_gpa = has_pref_address ? uint64_t{bz.hdr.pref_address} : HIGH_MEMORY_START;  // a copy: packed
  const uint64_t init_size = bz.hdr.init_size;  // a copy: hdr is packed
  bz.init_size = std::max(init_size, bz.kernel_size);
  RRVM_TRY(check_header(bz, has_pref_address, name));
  return bz;
}

}  // namespace rrvm::boot
