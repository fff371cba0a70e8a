// Finding the zero pages of guest RAM cheaply.
//
// is_zero_page() reads a page with a vectorizable word-OR loop that stops at the first non-zero
// 256 bytes. PageResidency answers, for private anonymous memory, which pages the kernel has never
// populated: those are zero without reading them (reading would fault in the shared zero page, a
// page fault per 4 KiB, which for an idle 1 GiB guest costs more than the whole save).
#pragma once

#include <cstdint>
#include <vector>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace rrvm::migration {

bool is_zero_page(const uint8_t* page);

class PageResidency {
 public:
  // /proc/self/pagemap; an error where it cannot be read (callers then read every page).
  static Result<PageResidency> open();

  // For [host, host + pages * 4 KiB) of a private anonymous mapping: sets bit i of `maybe_data`
  // (resized to cover `pages`) when page i is present or swapped out, i.e. may hold non-zero data.
  // A clear bit means the page was never written: it reads as zero.
  Status populated(const uint8_t* host, uint64_t pages, std::vector<uint64_t>& maybe_data) const;

 private:
  explicit PageResidency(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

inline bool test_bit(const std::vector<uint64_t>& bits, uint64_t i) {
  return (bits[i / 64] >> (i % 64)) & 1;
}
inline void set_bit(std::vector<uint64_t>& bits, uint64_t i) {
  bits[i / 64] |= uint64_t{1} << (i % 64);
}

}  // namespace rrvm::migration
