// Offsets of the Linux boot protocol structures, checked field by field against
// Documentation/arch/x86/boot.rst ("THE REAL-MODE KERNEL HEADER") and zero-page.rst.
#include "vmm/boot/linux_abi.h"

#include <gtest/gtest.h>

#include <cstddef>

#include "vmm/guest/include/rrvm_boot_abi.h"

namespace rrvm::boot::linux_abi {
namespace {

// Offsets in boot.rst are relative to the start of the image / zero page; hdr starts at 0x1f1.
#define EXPECT_HDR_FIELD(field, offset) \
  EXPECT_EQ(offsetof(BootParams, hdr) + offsetof(SetupHeader, field), size_t{offset}) << #field

TEST(LinuxAbi, SetupHeaderOffsetsMatchBootRst) {
  EXPECT_HDR_FIELD(setup_sects, 0x1f1);
  EXPECT_HDR_FIELD(root_flags, 0x1f2);
  EXPECT_HDR_FIELD(syssize, 0x1f4);
  EXPECT_HDR_FIELD(ram_size, 0x1f8);
  EXPECT_HDR_FIELD(vid_mode, 0x1fa);
  EXPECT_HDR_FIELD(root_dev, 0x1fc);
  EXPECT_HDR_FIELD(boot_flag, 0x1fe);
  EXPECT_HDR_FIELD(jump, 0x200);
  EXPECT_HDR_FIELD(header, 0x202);
  EXPECT_HDR_FIELD(version, 0x206);
  EXPECT_HDR_FIELD(realmode_swtch, 0x208);
  EXPECT_HDR_FIELD(start_sys_seg, 0x20c);
  EXPECT_HDR_FIELD(kernel_version, 0x20e);
  EXPECT_HDR_FIELD(type_of_loader, 0x210);
  EXPECT_HDR_FIELD(loadflags, 0x211);
  EXPECT_HDR_FIELD(setup_move_size, 0x212);
  EXPECT_HDR_FIELD(code32_start, 0x214);
  EXPECT_HDR_FIELD(ramdisk_image, 0x218);
  EXPECT_HDR_FIELD(ramdisk_size, 0x21c);
  EXPECT_HDR_FIELD(bootsect_kludge, 0x220);
  EXPECT_HDR_FIELD(heap_end_ptr, 0x224);
  EXPECT_HDR_FIELD(ext_loader_ver, 0x226);
  EXPECT_HDR_FIELD(ext_loader_type, 0x227);
  EXPECT_HDR_FIELD(cmd_line_ptr, 0x228);
  EXPECT_HDR_FIELD(initrd_addr_max, 0x22c);
  EXPECT_HDR_FIELD(kernel_alignment, 0x230);
  EXPECT_HDR_FIELD(relocatable_kernel, 0x234);
  EXPECT_HDR_FIELD(min_alignment, 0x235);
  EXPECT_HDR_FIELD(xloadflags, 0x236);
  EXPECT_HDR_FIELD(cmdline_size, 0x238);
  EXPECT_HDR_FIELD(hardware_subarch, 0x23c);
  EXPECT_HDR_FIELD(hardware_subarch_data, 0x240);
  EXPECT_HDR_FIELD(payload_offset, 0x248);
  EXPECT_HDR_FIELD(payload_length, 0x24c);
  EXPECT_HDR_FIELD(setup_data, 0x250);
  EXPECT_HDR_FIELD(pref_address, 0x258);
  EXPECT_HDR_FIELD(init_size, 0x260);
  EXPECT_HDR_FIELD(handover_offset, 0x264);
  EXPECT_HDR_FIELD(kernel_info_offset, 0x268);
  EXPECT_EQ(sizeof(SetupHeader), 0x26cu - 0x1f1u);
}

TEST(LinuxAbi, ZeroPageOffsetsMatchZeroPageRst) {
  EXPECT_EQ(offsetof(BootParams, screen_info), 0x000u);
  EXPECT_EQ(offsetof(BootParams, apm_bios_info), 0x040u);
  EXPECT_EQ(offsetof(BootParams, tboot_addr), 0x058u);
  EXPECT_EQ(offsetof(BootParams, ist_info), 0x060u);
  EXPECT_EQ(offsetof(BootParams, acpi_rsdp_addr), 0x070u);
  EXPECT_EQ(offsetof(BootParams, hd0_info), 0x080u);
  EXPECT_EQ(offsetof(BootParams, hd1_info), 0x090u);
  EXPECT_EQ(offsetof(BootParams, sys_desc_table), 0x0a0u);
  EXPECT_EQ(offsetof(BootParams, olpc_ofw_header), 0x0b0u);
  EXPECT_EQ(offsetof(BootParams, ext_ramdisk_image), 0x0c0u);
  EXPECT_EQ(offsetof(BootParams, ext_ramdisk_size), 0x0c4u);
  EXPECT_EQ(offsetof(BootParams, ext_cmd_line_ptr), 0x0c8u);
  EXPECT_EQ(offsetof(BootParams, cc_blob_address), 0x13cu);
  EXPECT_EQ(offsetof(BootParams, edid_info), 0x140u);
  EXPECT_EQ(offsetof(BootParams, efi_info), 0x1c0u);
  EXPECT_EQ(offsetof(BootParams, alt_mem_k), 0x1e0u);
  EXPECT_EQ(offsetof(BootParams, scratch), 0x1e4u);
  EXPECT_EQ(offsetof(BootParams, e820_entries), 0x1e8u);
  EXPECT_EQ(offsetof(BootParams, eddbuf_entries), 0x1e9u);
  EXPECT_EQ(offsetof(BootParams, edd_mbr_sig_buf_entries), 0x1eau);
  EXPECT_EQ(offsetof(BootParams, kbd_status), 0x1ebu);
  EXPECT_EQ(offsetof(BootParams, secure_boot), 0x1ecu);
  EXPECT_EQ(offsetof(BootParams, sentinel), 0x1efu);
  EXPECT_EQ(offsetof(BootParams, hdr), 0x1f1u);
  EXPECT_EQ(offsetof(BootParams, edd_mbr_sig_buffer), 0x290u);
  EXPECT_EQ(offsetof(BootParams, e820_table), 0x2d0u);
  EXPECT_EQ(offsetof(BootParams, eddbuf), 0xd00u);
  EXPECT_EQ(sizeof(BootParams), 4096u);
  EXPECT_EQ(sizeof(E820Entry), 20u);
  EXPECT_EQ(sizeof(BootParams::e820_table) / sizeof(E820Entry), 128u);
}

TEST(LinuxAbi, PvhStructuresMatchXenStartInfo) {
  // xen/include/public/arch-x86/hvm/start_info.h
  EXPECT_EQ(offsetof(hvm_start_info, magic), 0u);
  EXPECT_EQ(offsetof(hvm_start_info, version), 4u);
  EXPECT_EQ(offsetof(hvm_start_info, flags), 8u);
  EXPECT_EQ(offsetof(hvm_start_info, nr_modules), 12u);
  EXPECT_EQ(offsetof(hvm_start_info, modlist_paddr), 16u);
  EXPECT_EQ(offsetof(hvm_start_info, cmdline_paddr), 24u);
  EXPECT_EQ(offsetof(hvm_start_info, rsdp_paddr), 32u);
  EXPECT_EQ(offsetof(hvm_start_info, memmap_paddr), 40u);
  EXPECT_EQ(offsetof(hvm_start_info, memmap_entries), 48u);
  EXPECT_EQ(sizeof(hvm_start_info), 56u);
  EXPECT_EQ(offsetof(hvm_memmap_table_entry, type), 16u);
  EXPECT_EQ(sizeof(hvm_memmap_table_entry), 24u);
  EXPECT_EQ(sizeof(hvm_modlist_entry), 32u);
  EXPECT_EQ(offsetof(rrvm_note_entry64, abi_version), 8u);
  EXPECT_EQ(HVM_START_MAGIC_VALUE, 0x336ec578u);
}

}  // namespace
}  // namespace rrvm::boot::linux_abi
