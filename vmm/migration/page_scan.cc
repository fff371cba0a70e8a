#include "vmm/migration/page_scan.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "vmm/migration/format.h"

namespace rrvm::migration {

namespace {
// Guest RAM is raw bytes; reading it as words must not fall foul of strict aliasing.
using AliasedWord = uint64_t __attribute__((may_alias));

constexpr uint64_t PAGEMAP_PRESENT = uint64_t{1} << 63;
constexpr uint64_t PAGEMAP_SWAPPED = uint64_t{1} << 62;
constexpr size_t PAGEMAP_BATCH = 4096;  // entries per pread
}  // namespace

bool is_zero_page(const uint8_t* page) {
  const auto* words = reinterpret_cast<const AliasedWord*>(page);
  constexpr size_t WORDS = PAGE_SIZE / sizeof(uint64_t);
  constexpr size_t CHUNK = 32;  // 256 bytes: one early-exit test per chunk
  for (size_t i = 0; i < WORDS; i += CHUNK) {
    uint64_t acc = 0;
    for (size_t j = 0; j < CHUNK; ++j) acc |= words[i + j];
    if (acc != 0) return false;
  }
  return true;
}

Result<PageResidency> PageResidency::open() {
  Fd fd(::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error("open /proc/self/pagemap");
  return PageResidency(std::move(fd));
}

Status PageResidency::populated(const uint8_t* host, uint64_t pages,
                                std::vector<uint64_t>& maybe_data) const {
  maybe_data.assign((pages + 63) / 64, 0);
  uint64_t first = reinterpret_cast<uintptr_t>(host) / PAGE_SIZE;
  std::vector<uint64_t> entries(PAGEMAP_BATCH);
  for (uint64_t done = 0; done < pages;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(PAGEMAP_BATCH, pages - done));
    off_t at = static_cast<off_t>((first + done) * sizeof(uint64_t));
    ssize_t got = ::pread(fd_.get(), entries.data(), n * sizeof(uint64_t), at);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno_error("read /proc/self/pagemap");
    if (got == 0 || got % sizeof(uint64_t) != 0)
      return make_error("read /proc/self/pagemap: short read");
    size_t count = static_cast<size_t>(got) / sizeof(uint64_t);
    for (size_t i = 0; i < count; ++i) {
      if (entries[i] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED)) set_bit(maybe_data, done + i);
    }
    done += count;
  }
  return ok_status();
}

}  // namespace rrvm::migration
