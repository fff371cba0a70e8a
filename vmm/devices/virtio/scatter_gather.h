// Byte ranges of a descriptor chain's buffers, seen as one contiguous stream.
//
// virtio 1.x lets the driver frame a request any way it likes (§2.6.4): a block request's header
// may span two descriptors, or share one with the data. These helpers address the chain's
// readable (or writable) buffers as a single byte stream, through GuestMemory's checked views.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/core/guest_memory.h"
#include "vmm/devices/virtio/virtqueue.h"

namespace rrvm::virtio {

// Appends to `out` the host iovecs covering bytes [offset, offset + len) of `segments`.
// Error when the segments hold fewer than offset + len bytes.
Status gather_iov(const GuestMemory& mem, std::span<const Segment> segments, uint64_t offset,
                  uint64_t len, std::vector<iovec>& out);

Status copy_from_segments(const GuestMemory& mem, std::span<const Segment> segments,
                          uint64_t offset, void* out, uint64_t len);
// Marks the pages it wrote dirty (GuestMemory::mark_dirty), piece by piece after each copy.
Status copy_to_segments(const GuestMemory& mem, std::span<const Segment> segments, uint64_t offset,
                        const void* in, uint64_t len);

// Marks the guest pages behind bytes [offset, offset + len) of `segments` dirty, for migration
// (KVM's dirty log does not see rrvm's writes). Call it after the bytes were written through
// gather_iov()'s iovecs (preadv, getrandom), never before; also after a write that failed part
// way, since some bytes may have landed. One load when dirty tracking is off.
void mark_written(const GuestMemory& mem, std::span<const Segment> segments, uint64_t offset,
                  uint64_t len);

}  // namespace rrvm::virtio
