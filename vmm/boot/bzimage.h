// Parsing a Linux bzImage's setup header (Documentation/arch/x86/boot.rst) for the 64-bit boot
// protocol: rrvm skips the real-mode setup code and enters the protected-mode kernel's
// startup_64 directly, as the 64-bit protocol allows.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "vmm/base/result.h"
#include "vmm/boot/linux_abi.h"

namespace rrvm::boot {

inline constexpr uint16_t MIN_BOOT_PROTOCOL = 0x206;     // cmdline_size, LOADED_HIGH semantics
inline constexpr uint16_t XLOADFLAGS_PROTOCOL = 0x20c;   // xloadflags (XLF_KERNEL_64) appeared

struct BzImage {
  linux_abi::SetupHeader hdr{};  // as in the file; fields past the file's header length are 0
  uint16_t protocol = 0;
  uint64_t setup_bytes = 0;      // (setup_sects + 1) * 512: boot sector and real-mode setup
  uint64_t kernel_offset = 0;    // the protected-mode kernel: file[kernel_offset, +kernel_size)
  uint64_t kernel_size = 0;
  uint64_t load_gpa = 0;         // where it must go: pref_address (2.10+) or 1 MiB
  uint64_t init_size = 0;        // bytes it needs from load_gpa while it decompresses itself
};

// True when `file` has the "HdrS" magic at 0x202.
bool is_bzimage(std::span<const uint8_t> file);

// Validates the header: boot flag, magic, protocol >= 2.06, LOADED_HIGH, XLF_KERNEL_64 (so
// protocol >= 2.12), setup size inside the file, payload not truncated (syssize), a power-of-two
// kernel_alignment that pref_address honours for relocatable kernels.
Result<BzImage> parse_bzimage(std::span<const uint8_t> file, const std::string& name);

}  // namespace rrvm::boot
