// The Linux x86 boot protocol structures rrvm writes: struct setup_header and the zero page
// (struct boot_params), laid out as Documentation/arch/x86/boot.rst and zero-page.rst define them.
// Packed and checked field by field (tests/boot/linux_abi_test.cc); fields rrvm never touches are
// reserved byte arrays so the offsets stay explicit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rrvm::boot::linux_abi {

inline constexpr uint32_t HDRS_MAGIC = 0x53726448;  // "HdrS"
inline constexpr uint16_t BOOT_FLAG = 0xaa55;
inline constexpr uint64_t SETUP_HEADER_OFFSET = 0x1f1;  // in the bzImage and in boot_params

// loadflags
inline constexpr uint8_t LOADED_HIGH = 0x01;
inline constexpr uint8_t KEEP_SEGMENTS = 0x40;
inline constexpr uint8_t CAN_USE_HEAP = 0x80;
// xloadflags (protocol 2.12+)
inline constexpr uint16_t XLF_KERNEL_64 = 0x01;
inline constexpr uint16_t XLF_CAN_BE_LOADED_ABOVE_4G = 0x02;

inline constexpr uint8_t LOADER_TYPE_UNDEFINED = 0xff;
inline constexpr uint16_t VID_MODE_NORMAL = 0xffff;
inline constexpr uint32_t E820_MAX_ENTRIES_ZEROPAGE = 128;
// The 64-bit entry (startup_64) lies 0x200 bytes into the protected-mode kernel.
inline constexpr uint64_t STARTUP_64_OFFSET = 0x200;

#pragma pack(push, 1)
struct SetupHeader {
  uint8_t setup_sects;         // 0x1f1
  uint16_t root_flags;         // 0x1f2
  uint32_t syssize;            // 0x1f4
  uint16_t ram_size;           // 0x1f8
  uint16_t vid_mode;           // 0x1fa
  uint16_t root_dev;           // 0x1fc
  uint16_t boot_flag;          // 0x1fe
  uint16_t jump;               // 0x200
  uint32_t header;             // 0x202
  uint16_t version;            // 0x206
  uint32_t realmode_swtch;     // 0x208
  uint16_t start_sys_seg;      // 0x20c
  uint16_t kernel_version;     // 0x20e
  uint8_t type_of_loader;      // 0x210
  uint8_t loadflags;           // 0x211
  uint16_t setup_move_size;    // 0x212
  uint32_t code32_start;       // 0x214
  uint32_t ramdisk_image;      // 0x218
  uint32_t ramdisk_size;       // 0x21c
  uint32_t bootsect_kludge;    // 0x220
  uint16_t heap_end_ptr;       // 0x224
  uint8_t ext_loader_ver;      // 0x226
  uint8_t ext_loader_type;     // 0x227
  uint32_t cmd_line_ptr;       // 0x228
  uint32_t initrd_addr_max;    // 0x22c
  uint32_t kernel_alignment;   // 0x230
  uint8_t relocatable_kernel;  // 0x234
  uint8_t min_alignment;       // 0x235
  uint16_t xloadflags;         // 0x236
  uint32_t cmdline_size;       // 0x238
  uint32_t hardware_subarch;   // 0x23c
  uint64_t hardware_subarch_data;  // 0x240
  uint32_t payload_offset;     // 0x248
  uint32_t payload_length;     // 0x24c
  uint64_t setup_data;         // 0x250
  uint64_t pref_address;       // 0x258
  uint32_t init_size;          // 0x260
  uint32_t handover_offset;    // 0x264
  uint32_t kernel_info_offset; // 0x268
};

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
};

struct BootParams {
  uint8_t screen_info[0x40];        // 0x000
  uint8_t apm_bios_info[0x14];      // 0x040
  uint8_t pad1[4];                  // 0x054
  uint64_t tboot_addr;              // 0x058
  uint8_t ist_info[0x10];           // 0x060
  uint64_t acpi_rsdp_addr;          // 0x070
  uint8_t pad2[8];                  // 0x078
  uint8_t hd0_info[16];             // 0x080
  uint8_t hd1_info[16];             // 0x090
  uint8_t sys_desc_table[0x10];     // 0x0a0
  uint8_t olpc_ofw_header[0x10];    // 0x0b0
  uint32_t ext_ramdisk_image;       // 0x0c0
  uint32_t ext_ramdisk_size;        // 0x0c4
  uint32_t ext_cmd_line_ptr;        // 0x0c8
  uint8_t pad3[0x70];               // 0x0cc
  uint32_t cc_blob_address;         // 0x13c
  uint8_t edid_info[0x80];          // 0x140
  uint8_t efi_info[0x20];           // 0x1c0
  uint32_t alt_mem_k;               // 0x1e0
  uint32_t scratch;                 // 0x1e4
  uint8_t e820_entries;             // 0x1e8
  uint8_t eddbuf_entries;           // 0x1e9
  uint8_t edd_mbr_sig_buf_entries;  // 0x1ea
  uint8_t kbd_status;               // 0x1eb
  uint8_t secure_boot;              // 0x1ec
  uint8_t pad4[2];                  // 0x1ed
  uint8_t sentinel;                 // 0x1ef
  uint8_t pad5[1];                  // 0x1f0
  SetupHeader hdr;                  // 0x1f1
  uint8_t pad6[0x290 - 0x1f1 - sizeof(SetupHeader)];
  uint32_t edd_mbr_sig_buffer[16];  // 0x290
  E820Entry e820_table[E820_MAX_ENTRIES_ZEROPAGE];  // 0x2d0
  uint8_t pad7[0x30];               // 0xcd0
  uint8_t eddbuf[6 * 82];           // 0xd00
  uint8_t pad8[0x1000 - 0xd00 - 6 * 82];
};
#pragma pack(pop)

static_assert(sizeof(SetupHeader) == 0x26c - 0x1f1);
static_assert(sizeof(E820Entry) == 20);
static_assert(sizeof(BootParams) == 4096);
static_assert(offsetof(BootParams, hdr) == SETUP_HEADER_OFFSET);

}  // namespace rrvm::boot::linux_abi
