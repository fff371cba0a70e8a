#include "vmm/boot/memory_map.h"

#include <algorithm>
#include <string>

#include "vmm/boot/boot_layout.h"

namespace rrvm::boot {
namespace {

constexpr uint64_t FOUR_GIB = 1ull << 32;

void add(std::vector<MemoryMapEntry>& out, uint64_t start, uint64_t end, MemoryType type) {
  if (end > start) out.push_back(MemoryMapEntry{start, end - start, type});
}

}  // namespace

Result<std::vector<MemoryMapEntry>> build_memory_map(const GuestMemory& mem) {
  if (!mem.contains(0, HIGH_MEMORY_START)) {
    return make_error("guest memory must cover at least [0, 1 MiB) for rrvm's boot structures; it has " +
                      std::to_string(mem.total_size()) + " bytes");
  }
  std::vector<RamRegion> regions = mem.regions();
  std::sort(regions.begin(), regions.end(), [](const RamRegion& a, const RamRegion& b) { return a.gpa < b.gpa; });
  std::vector<MemoryMapEntry> out;
  for (const RamRegion& r : regions) {
    const uint64_t start = r.gpa;
    const uint64_t end = r.gpa + r.size;
    if (start >= HIGH_MEMORY_START || end <= EBDA_START) {
      add(out, start, end, MemoryType::Ram);
      continue;
    }
    // The region overlaps the legacy window: split it around [EBDA_START, 1 MiB).
    add(out, start, std::min(end, EBDA_START), MemoryType::Ram);
    add(out, std::max(start, EBDA_START), std::min(end, HIGH_MEMORY_START), MemoryType::Reserved);
    add(out, std::max(start, HIGH_MEMORY_START), end, MemoryType::Ram);
  }
  return out;
}

uint64_t low_ram_end(const GuestMemory& mem) {
  uint64_t end = 0;
  for (const RamRegion& r : mem.regions()) {
    if (r.gpa < FOUR_GIB) end = std::max(end, std::min(r.gpa + r.size, FOUR_GIB));
  }
  return end;
}

}  // namespace rrvm::boot
