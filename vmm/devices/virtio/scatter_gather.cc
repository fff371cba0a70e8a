#include "vmm/devices/virtio/scatter_gather.h"

#include <fmt/format.h>

#include <cstring>

#include "vmm/base/check.h"

namespace rrvm::virtio {

namespace {

// Calls fn(gpa, host_bytes, stream_offset_of_those_bytes) for each piece of [offset, offset + len).
// No allocation: a block request's header and status byte go through here on every request.
template <typename Fn>
Status for_each_piece(const GuestMemory& mem, std::span<const Segment> segments, uint64_t offset,
                      uint64_t len, Fn fn) {
  uint64_t done = 0;
  for (const Segment& s : segments) {
    if (done == len) break;
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    uint64_t n = std::min<uint64_t>(s.len - offset, len - done);
    RRVM_ASSIGN_OR_RETURN(std::span<uint8_t> host, mem.slice(s.gpa + offset, n));
    fn(s.gpa + offset, host, done);
    done += n;
    offset = 0;
  }
  if (done != len) {
    return make_error(
        fmt::format("the chain's buffers end {} bytes short of the {} requested", len - done, len));
  }
  return ok_status();
}

}  // namespace

Status gather_iov(const GuestMemory& mem, std::span<const Segment> segments, uint64_t offset,
                  uint64_t len, std::vector<iovec>& out) {
  return for_each_piece(mem, segments, offset, len,
                        [&out](uint64_t, std::span<uint8_t> host, uint64_t) {
                          out.push_back(iovec{host.data(), host.size()});
                        });
}

Status copy_from_segments(const GuestMemory& mem, std::span<const Segment> segments,
                          uint64_t offset, void* out, uint64_t len) {
  auto* dst = static_cast<uint8_t*>(out);
  return for_each_piece(mem, segments, offset, len,
                        [dst](uint64_t, std::span<uint8_t> host, uint64_t at) {
                          std::memcpy(dst + at, host.data(), host.size());
                        });
}

Status copy_to_segments(const GuestMemory& mem, std::span<const Segment> segments, uint64_t offset,
                        const void* in, uint64_t len) {
  const auto* src = static_cast<const uint8_t*>(in);
  return for_each_piece(mem, segments, offset, len,
                        [&mem, src](uint64_t gpa, std::span<uint8_t> host, uint64_t at) {
                          std::memcpy(host.data(), src + at, host.size());
                          mem.mark_dirty(gpa, host.size());
                        });
}

void mark_written(const GuestMemory& mem, std::span<const Segment> segments, uint64_t offset,
                  uint64_t len) {
  if (!mem.dirty_tracking()) return;
  // Callers mark only what they gathered or copied before: a range past the chain's buffers is
  // rrvm's bug.
  Status st = for_each_piece(mem, segments, offset, len,
                             [&mem](uint64_t gpa, std::span<uint8_t> host, uint64_t) {
                               mem.mark_dirty(gpa, host.size());
                             });
  RRVM_CHECK_MSG(st.ok(), "marking bytes beyond the chain's buffers dirty");
}

}  // namespace rrvm::virtio
