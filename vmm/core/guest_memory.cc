#include "vmm/core/guest_memory.h"

#include <sys/mman.h>

namespace rrvm {

Result<GuestMemory> GuestMemory::allocate(uint64_t size, uint64_t hole_start) {
  if (size == 0 || size % PAGE_SIZE != 0) {
    return make_error("guest memory size " + std::to_string(size) +
                      " is not a positive multiple of 4 KiB");
  }
  GuestMemory mem;
  uint64_t low = std::min(size, hole_start);
  uint64_t high = size - low;
  RRVM_ASSIGN_OR_RETURN(Mapping low_map, Mapping::anonymous(low));
  mem.regions_.push_back(RamRegion{0, low, low_map.data(), 0});
  mem.mappings_.push_back(std::move(low_map));
  if (high > 0) {
    RRVM_ASSIGN_OR_RETURN(Mapping high_map, Mapping::anonymous(high));
    mem.regions_.push_back(RamRegion{4ull << 30, high, high_map.data(), 1});
    mem.mappings_.push_back(std::move(high_map));
  }
  return mem;
}

uint64_t GuestMemory::total_size() const {
  uint64_t total = 0;
  for (const auto& r : regions_) total += r.size;
  return total;
}

Result<std::span<uint8_t>> GuestMemory::slice(uint64_t gpa, uint64_t len) const {
  for (const auto& r : regions_) {
    // Written to avoid overflow: gpa + len may wrap for hostile inputs.
    if (gpa >= r.gpa && gpa - r.gpa <= r.size && len <= r.size - (gpa - r.gpa)) {
      return std::span<uint8_t>(r.host + (gpa - r.gpa), len);
    }
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "guest range 0x%llx+0x%llx is outside guest RAM",
                static_cast<unsigned long long>(gpa), static_cast<unsigned long long>(len));
  return make_error(buf);
}

bool GuestMemory::contains(uint64_t gpa, uint64_t len) const { return slice(gpa, len).ok(); }

Status GuestMemory::read(uint64_t gpa, void* out, uint64_t len) const {
  RRVM_ASSIGN_OR_RETURN(auto s, slice(gpa, len));
  std::memcpy(out, s.data(), len);
  return ok_status();
}

Status GuestMemory::write(uint64_t gpa, const void* in, uint64_t len) const {
  RRVM_ASSIGN_OR_RETURN(auto s, slice(gpa, len));
  std::memcpy(s.data(), in, len);
  mark_dirty(gpa, len);
  return ok_status();
}

Status GuestMemory::zero(uint64_t gpa, uint64_t len) const {
  RRVM_ASSIGN_OR_RETURN(auto s, slice(gpa, len));
  // Regions start page-aligned in the host too, so guest and host page boundaries agree.
  uint64_t first_page = (gpa + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE;
  uint64_t end_page = (gpa + len) / PAGE_SIZE * PAGE_SIZE;
  if (first_page < end_page) {
    uint8_t* head_end = s.data() + (first_page - gpa);
    std::memset(s.data(), 0, first_page - gpa);
    if (::madvise(head_end, end_page - first_page, MADV_DONTNEED) != 0) {
      std::memset(head_end, 0, end_page - first_page);  // still correct, only slower
    }
    std::memset(head_end + (end_page - first_page), 0, gpa + len - end_page);
  } else {
    std::memset(s.data(), 0, len);
  }
  mark_dirty(gpa, len);
  return ok_status();
}

void GuestMemory::set_dirty_tracking(bool on) {
  if (on && dirty_.empty()) {
    for (const auto& r : regions_) {
      size_t words = (r.size / PAGE_SIZE + 63) / 64;
      dirty_.push_back(std::make_unique<std::atomic<uint64_t>[]>(words));
    }
  }
  if (on) {
    // Marks left from an earlier migration would only cause needless re-sends: the first pass of
    // the next one sends every page anyway.
    for (size_t i = 0; i < regions_.size(); ++i) {
      size_t words = (regions_[i].size / PAGE_SIZE + 63) / 64;
      for (size_t w = 0; w < words; ++w) dirty_[i][w].store(0, std::memory_order_relaxed);
    }
  }
  tracking_->store(on, std::memory_order_release);
}

void GuestMemory::mark_dirty(uint64_t gpa, uint64_t len) const {
  if (len == 0 || !dirty_tracking()) return;
  for (size_t i = 0; i < regions_.size(); ++i) {
    const auto& r = regions_[i];
    if (gpa < r.gpa || gpa - r.gpa >= r.size) continue;
    uint64_t first = (gpa - r.gpa) / PAGE_SIZE;
    uint64_t last = (std::min(gpa - r.gpa + len, r.size) - 1) / PAGE_SIZE;
    for (uint64_t p = first; p <= last; ++p) {
      // Release, paired with take_dirty()'s acquire: the sender that sees the mark sees the bytes.
      dirty_[i][p / 64].fetch_or(1ull << (p % 64), std::memory_order_release);
    }
    return;
  }
}

std::vector<uint64_t> GuestMemory::take_dirty(size_t region) const {
  const auto& r = regions_.at(region);
  std::vector<uint64_t> out((r.size / PAGE_SIZE + 63) / 64, 0);
  if (dirty_.empty()) return out;
  for (size_t w = 0; w < out.size(); ++w) {
    out[w] = dirty_[region][w].exchange(0, std::memory_order_acquire);
  }
  return out;
}

}  // namespace rrvm
