#include "vmm/boot/linux_boot.h"

#include <fmt/format.h>

#include <cstring>

#include "vmm/boot/acpi/acpi_tables.h"
#include "vmm/boot/boot_layout.h"
#include "vmm/boot/placement.h"

namespace rrvm::boot {
namespace {

constexpr uint64_t FOUR_GIB = 1ull << 32;

Status check_kernel_range(const GuestMemory& mem, uint64_t start, uint64_t end, const std::string& name) {
  if (start < HIGH_MEMORY_START) {
    return make_error(fmt::format("{}: loads at {:#x}, below 1 MiB where rrvm keeps its boot structures", name, start));
  }
  if (end > low_ram_end(mem) || !mem.contains(start, end - start)) {
    return make_error(fmt::format("guest memory ({} MiB) is too small for {}: it needs [{:#x}, {:#x})",
                                  mem.total_size() >> 20, name, start, end));
  }
  return ok_status();
}

// Command line, initrd, zero page and page tables: the part bzImage and vmlinux share.
Result<BootPlan> finish(const GuestMemory& mem, const linux_abi::SetupHeader& hdr, BootPlan plan,
                        const LinuxBootOptions& o, uint32_t cmdline_size) {
  plan.mode = EntryMode::Linux64;
  plan.vcpus = o.vcpus;
  plan.boot_info_gpa = ZERO_PAGE_GPA;
  plan.layout = long_mode_layout();
  RRVM_ASSIGN_OR_RETURN(plan.memory_map, build_memory_map(mem));
  // The tables live in the window the memory map reports as reserved (below 1 MiB).
  RRVM_ASSIGN_OR_RETURN(const acpi::AcpiLayout acpi,
                        acpi::write_acpi_tables(mem, acpi::AcpiConfig{o.vcpus, o.virtio_mmio}));
  plan.acpi_rsdp_gpa = acpi.rsdp;
  plan.cmdline = o.cmdline.empty() ? DEFAULT_LINUX_CMDLINE : o.cmdline;
  RRVM_TRY(write_cmdline(mem, plan.cmdline, std::min<uint64_t>(cmdline_size, CMDLINE_MAX_BYTES - 1)));
  plan.cmdline_gpa = CMDLINE_GPA;
  if (!o.initrd.empty()) {
    // initrd_addr_max is the highest byte the initrd may occupy; 0 (a made-up header) means none.
    const uint64_t limit = hdr.initrd_addr_max != 0 ? uint64_t{hdr.initrd_addr_max} + 1 : FOUR_GIB;
    RRVM_ASSIGN_OR_RETURN(plan.initrd_gpa, place_high(mem, o.initrd.size(), plan.kernel_end, limit, "initrd"));
    plan.initrd_size = o.initrd.size();
    RRVM_TRY(mem.write(plan.initrd_gpa, o.initrd.data(), o.initrd.size()));
  }
  RRVM_ASSIGN_OR_RETURN(const linux_abi::BootParams params, make_boot_params(hdr, plan));
  RRVM_TRY(mem.write_obj(ZERO_PAGE_GPA, params));
  RRVM_TRY(write_boot_tables(mem, plan.layout));
  return plan;
}

}  // namespace

Result<linux_abi::BootParams> make_boot_params(const linux_abi::SetupHeader& hdr, const BootPlan& plan) {
  if (plan.memory_map.size() > linux_abi::E820_MAX_ENTRIES_ZEROPAGE) {
    return make_error("memory map has " + std::to_string(plan.memory_map.size()) + " entries; the zero page holds " +
                      std::to_string(linux_abi::E820_MAX_ENTRIES_ZEROPAGE));
  }
  linux_abi::BootParams bp;
  std::memset(&bp, 0, sizeof bp);
  bp.hdr = hdr;
  bp.hdr.type_of_loader = linux_abi::LOADER_TYPE_UNDEFINED;
  bp.hdr.vid_mode = linux_abi::VID_MODE_NORMAL;
  bp.hdr.cmd_line_ptr = static_cast<uint32_t>(plan.cmdline_gpa);
  bp.ext_cmd_line_ptr = static_cast<uint32_t>(plan.cmdline_gpa >> 32);
  bp.hdr.ramdisk_image = static_cast<uint32_t>(plan.initrd_gpa);
  bp.ext_ramdisk_image = static_cast<uint32_t>(plan.initrd_gpa >> 32);
  bp.hdr.ramdisk_size = static_cast<uint32_t>(plan.initrd_size);
  bp.ext_ramdisk_size = static_cast<uint32_t>(plan.initrd_size >> 32);
  // Linux takes the RSDP from here before scanning 0xe0000-0xfffff (boot protocol 2.14+).
  bp.acpi_rsdp_addr = plan.acpi_rsdp_gpa;
  bp.e820_entries = static_cast<uint8_t>(plan.memory_map.size());
  for (size_t i = 0; i < plan.memory_map.size(); ++i) {
    const MemoryMapEntry& e = plan.memory_map[i];
    bp.e820_table[i] = linux_abi::E820Entry{e.addr, e.size, static_cast<uint32_t>(e.type)};
  }
  return bp;
}

Result<BootPlan> load_bzimage(const GuestMemory& mem, std::span<const uint8_t> file, const BzImage& bz,
                              const LinuxBootOptions& o) {
  BootPlan plan;
  plan.kernel_start = bz.load_gpa;
  plan.kernel_end = bz.load_gpa + bz.init_size;
  RRVM_TRY(check_kernel_range(mem, plan.kernel_start, plan.kernel_end, o.name));
  RRVM_TRY(mem.write(bz.load_gpa, file.data() + bz.kernel_offset, bz.kernel_size));
  plan.entry = bz.load_gpa + linux_abi::STARTUP_64_OFFSET;
  linux_abi::SetupHeader hdr = bz.hdr;
  hdr.code32_start = static_cast<uint32_t>(bz.load_gpa);
  return finish(mem, hdr, std::move(plan), o, hdr.cmdline_size);
}

Result<BootPlan> load_vmlinux(const GuestMemory& mem, std::span<const uint8_t> file, const ElfImage& image,
                              const LinuxBootOptions& o) {
  if (!image.contains_gpa(image.entry)) {
    return make_error(fmt::format(
        "{}: entry {:#x} is not inside a loaded segment (rrvm enters a vmlinux at its physical entry address)",
        o.name, image.entry));
  }
  BootPlan plan;
  plan.kernel_start = image.lowest_gpa();
  plan.kernel_end = image.end_gpa();
  RRVM_TRY(check_kernel_range(mem, plan.kernel_start, plan.kernel_end, o.name));
  RRVM_TRY(load_elf(image, file, mem, o.name));
  plan.entry = image.entry;
  // No setup header in a vmlinux: make up the fields the kernel reads, as Firecracker does.
  linux_abi::SetupHeader hdr{};
  hdr.boot_flag = linux_abi::BOOT_FLAG;
  hdr.header = linux_abi::HDRS_MAGIC;
  hdr.kernel_alignment = VMLINUX_KERNEL_ALIGNMENT;
  hdr.cmdline_size = VMLINUX_CMDLINE_SIZE;
  return finish(mem, hdr, std::move(plan), o, VMLINUX_CMDLINE_SIZE);
}

}  // namespace rrvm::boot
