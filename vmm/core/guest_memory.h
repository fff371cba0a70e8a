// Guest RAM as the host sees it, with bounds-checked access.
//
// Every guest-physical address that comes from the guest (descriptor tables, buffers, pvclock
// pages) or from a file (snapshots, traces) goes through here: an address range that is not fully
// inside one RAM region is an error, never an out-of-bounds host access.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <span>
#include <type_traits>
#include <vector>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace rrvm {

struct RamRegion {
  uint64_t gpa;   // guest physical start
  uint64_t size;  // bytes, a multiple of 4 KiB
  uint8_t* host;  // host address of gpa
  uint32_t slot;  // KVM memory slot
};

class GuestMemory {
 public:
  static constexpr uint64_t PAGE_SIZE = 4096;

  // Allocates anonymous RAM for [0, size), split around the 32-bit PCI/MMIO hole like QEMU's pc
  // machine: RAM above `hole_start` (default 3 GiB) continues at 4 GiB.
  static Result<GuestMemory> allocate(uint64_t size, uint64_t hole_start = 3ull << 30);

  GuestMemory() = default;
  GuestMemory(GuestMemory&&) = default;
  GuestMemory& operator=(GuestMemory&&) = default;

  const std::vector<RamRegion>& regions() const { return regions_; }
  uint64_t total_size() const;  // bytes of RAM (not counting the hole)

  // Host view of [gpa, gpa + len): error unless the whole range lies inside one region.
  Result<std::span<uint8_t>> slice(uint64_t gpa, uint64_t len) const;
  bool contains(uint64_t gpa, uint64_t len) const;

  Status read(uint64_t gpa, void* out, uint64_t len) const;
  // Marks the pages it wrote (mark_dirty).
  Status write(uint64_t gpa, const void* in, uint64_t len) const;
  // Zeroes [gpa, gpa + len) and marks it: whole pages are given back to the kernel
  // (MADV_DONTNEED: RAM is private anonymous memory, so they read as zero again and cost nothing
  // until touched), only partial pages at the ends are written. An ELF's BSS on fresh RAM would
  // otherwise fault in every page of it just to write zeros over zeros.
  Status zero(uint64_t gpa, uint64_t len) const;

  // Host-side dirty tracking, for migration. KVM's dirty log sees only the guest's own writes;
  // rrvm's writes into guest RAM are reported here: write() marks its pages, and code that writes
  // through a slice() view (virtio DMA into guest buffers, the used ring) calls mark_dirty().
  // Off by default, when mark_dirty() is one load. Turning it on clears the marks.
  void set_dirty_tracking(bool on);
  bool dirty_tracking() const { return tracking_->load(std::memory_order_acquire); }
  // Call it AFTER the bytes are in guest RAM, never before: a RAM pass that takes the mark between
  // an early mark and the write would send the old page, and nothing would send it again.
  void mark_dirty(uint64_t gpa, uint64_t len) const;
  // Pages of regions()[region] marked since the previous call, one bit per page; clears them.
  // Every write marked here is visible to whoever then reads the page.
  std::vector<uint64_t> take_dirty(size_t region) const;

  template <typename T>
  Result<T> read_obj(uint64_t gpa) const {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    RRVM_TRY(read(gpa, &v, sizeof(T)));
    return v;
  }
  template <typename T>
  Status write_obj(uint64_t gpa, const T& v) const {
    static_assert(std::is_trivially_copyable_v<T>);
    return write(gpa, &v, sizeof(T));
  }

 private:
  std::vector<RamRegion> regions_;
  std::vector<Mapping> mappings_;  // own the host memory behind regions_
  // One bitmap per region (bit = page); allocated by set_dirty_tracking(true).
  std::vector<std::unique_ptr<std::atomic<uint64_t>[]>> dirty_;
  std::unique_ptr<std::atomic<bool>> tracking_ = std::make_unique<std::atomic<bool>>(false);
};

}  // namespace rrvm
