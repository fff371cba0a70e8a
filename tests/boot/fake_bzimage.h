// Made-up bzImages for the boot tests: a real setup header over filler bytes, with each field a
// test can break.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "vmm/boot/linux_abi.h"

namespace rrvm::boot::testing {

// A copy of a (packed, so possibly misaligned) field: gtest's EXPECT_EQ binds references.
template <typename T>
T val(T field) {
  return field;
}

struct FakeBzImage {
  uint8_t setup_sects = 4;
  uint16_t boot_flag = linux_abi::BOOT_FLAG;
  uint32_t magic = linux_abi::HDRS_MAGIC;
  uint16_t version = 0x20f;
  uint8_t loadflags = linux_abi::LOADED_HIGH;
  uint16_t xloadflags = linux_abi::XLF_KERNEL_64 | linux_abi::XLF_CAN_BE_LOADED_ABOVE_4G;
  uint8_t relocatable = 1;
  uint32_t kernel_alignment = 0x200000;
  uint64_t pref_address = 0x1000000;
  uint32_t init_size = 0x300000;
  uint32_t initrd_addr_max = 0x7fffffff;
  uint32_t cmdline_size = 2047;
  uint32_t kernel_bytes = 64 * 1024;  // protected-mode part after the setup sectors
  uint32_t syssize_bytes = 64 * 1024; // what the header announces (syssize * 16)

  std::vector<uint8_t> build() const {
    const size_t setup = (size_t{setup_sects == 0 ? 4u : setup_sects} + 1) * 512;
    std::vector<uint8_t> f(setup + kernel_bytes, 0);
    for (size_t i = setup; i < f.size(); ++i) f[i] = static_cast<uint8_t>(i * 7);  // recognisable payload
    linux_abi::SetupHeader h{};
    h.setup_sects = setup_sects;
    h.syssize = syssize_bytes / 16;
    h.boot_flag = boot_flag;
    h.jump = static_cast<uint16_t>(0xeb | ((0x26c - 0x202) << 8));  // jmp over the header to 0x26c
    h.header = magic;
    h.version = version;
    h.loadflags = loadflags;
    h.code32_start = 0x100000;
    h.initrd_addr_max = initrd_addr_max;
    h.kernel_alignment = kernel_alignment;
    h.relocatable_kernel = relocatable;
    h.xloadflags = xloadflags;
    h.cmdline_size = cmdline_size;
    h.pref_address = pref_address;
    h.init_size = init_size;
    std::memcpy(f.data() + linux_abi::SETUP_HEADER_OFFSET, &h, sizeof h);
    return f;
  }
};

}  // namespace rrvm::boot::testing
