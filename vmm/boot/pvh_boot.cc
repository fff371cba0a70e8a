#include "vmm/boot/pvh_boot.h"

#include <sstream>

#include "vmm/boot/boot_layout.h"
#include "vmm/boot/placement.h"
#include "vmm/guest/include/rrvm_boot_abi.h"

namespace rrvm::boot {
namespace {

Status check_mode(const ElfImage& image, const PvhBootOptions& o) {
  if (o.mode == EntryMode::Rrvm64) {
    if (!image.rrvm_entry) return make_error(o.name + ": no rrvm 64-bit entry note");
    if (o.vcpus > image.rrvm_entry->max_cpus) {
      return make_error(o.name + " supports at most " + std::to_string(image.rrvm_entry->max_cpus) +
                        " vCPUs; the VM has " + std::to_string(o.vcpus));
    }
    return ok_status();
  }
  if (o.mode == EntryMode::Pvh32) {
    if (!image.pvh_entry) return make_error(o.name + ": no PVH entry note (Xen, XEN_ELFNOTE_PHYS32_ENTRY)");
    return ok_status();
  }
  return make_error(o.name + ": entry mode " + entry_mode_name(o.mode) + " is not a PVH-style boot");
}

Status write_memmap(const GuestMemory& mem, const std::vector<MemoryMapEntry>& map) {
  if (map.size() > MAX_MEMMAP_ENTRIES) {
    return make_error("memory map has " + std::to_string(map.size()) + " entries; at most " +
                      std::to_string(MAX_MEMMAP_ENTRIES) + " fit");
  }
  for (size_t i = 0; i < map.size(); ++i) {
    const hvm_memmap_table_entry e{map[i].addr, map[i].size, static_cast<uint32_t>(map[i].type), 0};
    RRVM_TRY(mem.write_obj(MEMMAP_GPA + i * sizeof e, e));
  }
  return ok_status();
}

// Places the initrd as module 0 (as QEMU's PVH boot passes -initrd); returns the module count.
Result<uint32_t> place_module(const GuestMemory& mem, const ElfImage& image, const PvhBootOptions& o,
                              BootPlan& plan) {
  if (o.initrd.empty()) return 0u;
  RRVM_ASSIGN_OR_RETURN(plan.initrd_gpa, place_high(mem, o.initrd.size(), image.end_gpa(), 1ull << 32, "initrd"));
  plan.initrd_size = o.initrd.size();
  RRVM_TRY(mem.write(plan.initrd_gpa, o.initrd.data(), o.initrd.size()));
  const hvm_modlist_entry module{plan.initrd_gpa, plan.initrd_size, 0, 0};
  RRVM_TRY(mem.write_obj(MODLIST_GPA, module));
  return 1u;
}

}  // namespace

Result<std::string> rrvm_guest_cmdline(const std::string& user, uint32_t vcpus) {
  std::istringstream words(user);
  std::string word;
  const std::string want = std::to_string(vcpus);
  while (words >> word) {
    if (word.rfind("cpus=", 0) != 0) continue;
    if (word.substr(5) == want) return user;
    return make_error("command line says " + word + " but the VM has " + want + " vCPUs");
  }
  return user.empty() ? "cpus=" + want : user + " cpus=" + want;
}

Result<BootPlan> load_pvh_elf(const GuestMemory& mem, std::span<const uint8_t> file, const ElfImage& image,
                              const PvhBootOptions& o) {
  RRVM_TRY(check_mode(image, o));
  BootPlan plan;
  plan.mode = o.mode;
  plan.vcpus = o.vcpus;
  plan.entry = o.mode == EntryMode::Rrvm64 ? image.rrvm_entry->entry : *image.pvh_entry;
  plan.boot_info_gpa = START_INFO_GPA;
  plan.layout = long_mode_layout();
  plan.kernel_start = image.lowest_gpa();
  plan.kernel_end = image.end_gpa();
  RRVM_ASSIGN_OR_RETURN(plan.memory_map, build_memory_map(mem));
  RRVM_TRY(load_elf(image, file, mem, o.name));
  if (image.rrvm_entry) {
    RRVM_ASSIGN_OR_RETURN(plan.cmdline, rrvm_guest_cmdline(o.cmdline, o.vcpus));
  } else {
    plan.cmdline = o.cmdline;
  }
  const uint64_t max_cmdline = image.rrvm_entry ? RRVM_GUEST_CMDLINE_MAX - 1 : CMDLINE_MAX_BYTES - 1;
  RRVM_TRY(write_cmdline(mem, plan.cmdline, max_cmdline));
  plan.cmdline_gpa = CMDLINE_GPA;
  RRVM_ASSIGN_OR_RETURN(const uint32_t modules, place_module(mem, image, o, plan));
  RRVM_TRY(write_memmap(mem, plan.memory_map));
  hvm_start_info info{};
  info.magic = HVM_START_MAGIC_VALUE;
  info.version = 1;
  info.nr_modules = modules;
  info.modlist_paddr = modules != 0 ? MODLIST_GPA : 0;
  info.cmdline_paddr = CMDLINE_GPA;
  info.memmap_paddr = MEMMAP_GPA;
  info.memmap_entries = static_cast<uint32_t>(plan.memory_map.size());
  RRVM_TRY(mem.write_obj(START_INFO_GPA, info));
  RRVM_TRY(write_boot_tables(mem, plan.layout));
  return plan;
}

}  // namespace rrvm::boot
