#include "vmm/boot/placement.h"

#include <fmt/format.h>

#include <algorithm>

#include "vmm/boot/boot_layout.h"
#include "vmm/boot/memory_map.h"

namespace rrvm::boot {
namespace {

constexpr uint64_t PAGE = 4096;

}  // namespace

Result<uint64_t> place_high(const GuestMemory& mem, uint64_t size, uint64_t floor, uint64_t limit,
                            const std::string& what) {
  const uint64_t top = std::min(limit, low_ram_end(mem));
  const std::string room = fmt::format(" between {:#x} and {:#x}", floor, top);
  if (size > top || top - size < floor) {
    return make_error(what + " of " + std::to_string(size) + " bytes does not fit in guest memory" + room + " (" +
                      std::to_string(top > floor ? top - floor : 0) + " bytes free): give the VM more memory");
  }
  const uint64_t addr = (top - size) & ~(PAGE - 1);
  if (addr < floor || !mem.contains(addr, size)) {
    return make_error(what + " of " + std::to_string(size) + " bytes does not fit in guest memory" + room);
  }
  return addr;
}

Status write_cmdline(const GuestMemory& mem, const std::string& cmdline, uint64_t max_len) {
  if (cmdline.find('\0') != std::string::npos) return make_error("command line contains a NUL byte");
  if (cmdline.size() > max_len) {
    return make_error("command line is " + std::to_string(cmdline.size()) + " bytes; this kernel takes at most " +
                      std::to_string(max_len));
  }
  RRVM_CHECK(max_len < CMDLINE_MAX_BYTES);
  return mem.write(CMDLINE_GPA, cmdline.c_str(), cmdline.size() + 1);
}

Status write_boot_tables(const GuestMemory& mem, const hv::LongModeLayout& layout) {
  RRVM_ASSIGN_OR_RETURN(std::span<uint8_t> low, mem.slice(0, HIGH_MEMORY_START));
  RRVM_TRY(hv::write_long_mode_tables(low, layout));
  // Written through a view, so marked here (after the writes): a reset reloads them, and a live
  // migration may be running then.
  mem.mark_dirty(layout.page_tables_gpa, hv::page_table_bytes(layout));
  mem.mark_dirty(layout.gdt_gpa, hv::GDT_BYTES);
  mem.mark_dirty(layout.tss_gpa, hv::TSS_BYTES);
  return ok_status();
}

}  // namespace rrvm::boot
