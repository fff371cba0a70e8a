// virtio-blk request handling (virtio 1.x §5.2.6).
//
// A request is a 16-byte header (type, reserved, sector) at the start of the device-readable
// bytes, then data (readable for OUT/DISCARD, writable for IN/GET_ID), then one status byte, the
// last device-writable byte. Framing across descriptors is free (§2.6.4).
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "vmm/base/check.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/scatter_gather.h"

namespace rrvm::virtio {
namespace {

struct RequestHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};
static_assert(sizeof(RequestHeader) == BLK_REQ_HEADER_SIZE);

struct DiscardSegment {
  uint64_t sector;
  uint32_t num_sectors;
  uint32_t flags;
};
static_assert(sizeof(DiscardSegment) == BLK_DISCARD_SEG_SIZE);

// Drops the first n bytes from an iovec array, starting at *index.
void advance_iov(std::vector<iovec>& iov, size_t& index, uint64_t n) {
  while (n > 0) {
    iovec& v = iov[index];
    if (n < v.iov_len) {
      v.iov_base = static_cast<uint8_t*>(v.iov_base) + n;
      v.iov_len -= n;
      return;
    }
    n -= v.iov_len;
    ++index;
  }
}

}  // namespace

Result<uint32_t> BlkDevice::process(uint16_t, const DescriptorChain& chain,
                                    const GuestMemory& mem) {
  // The backend only runs while the VM runs, and the VM never runs with an inactive image
  // (QEMU asserts the same in its block layer): a request here without the lock is rrvm's bug.
  RRVM_CHECK_MSG(locked(), "virtio-blk request on a disk image whose lock is not held");
  if (chain.readable_bytes < BLK_REQ_HEADER_SIZE) {
    return make_error(
        fmt::format("block request with {} device-readable bytes: the header "
                    "needs {}",
                    chain.readable_bytes, BLK_REQ_HEADER_SIZE));
  }
  if (chain.writable_bytes == 0) {
    return make_error("block request without a device-writable status byte");
  }
  RequestHeader hdr;
  RRVM_TRY(copy_from_segments(mem, chain.readable, 0, &hdr, sizeof hdr));
  const uint64_t out_len = chain.readable_bytes - BLK_REQ_HEADER_SIZE;
  const uint64_t in_len = chain.writable_bytes - 1;  // the last writable byte is the status
  uint32_t written = 0;
  uint8_t status;
  switch (hdr.type) {
    case BLK_T_IN:
      status = do_read(hdr.sector, chain, mem, in_len, written);
      break;
    case BLK_T_OUT:
      status = do_write(hdr.sector, chain, mem, out_len);
      break;
    case BLK_T_FLUSH:
      status = do_flush();
      break;
    case BLK_T_GET_ID:
      status = do_get_id(chain, mem, in_len, written);
      break;
    case BLK_T_DISCARD:
      status = do_discard(chain, mem, out_len);
      break;
    default:
      status = BLK_S_UNSUPP;
      break;
  }
  RRVM_TRY(copy_to_segments(mem, chain.writable, in_len, &status, 1));
  return written + 1;
}

bool BlkDevice::check_range(const char* what, uint64_t sector, uint64_t bytes) {
  if (bytes % BLK_SECTOR_SIZE != 0) {
    warnings_.warn(fmt::format("{} of {} bytes at sector {}: not whole {}-byte sectors (IOERR)",
                               what, bytes, sector, BLK_SECTOR_SIZE));
    return false;
  }
  uint64_t sectors = bytes / BLK_SECTOR_SIZE;
  if (sector > capacity_ || sectors > capacity_ - sector) {
    warnings_.warn(
        fmt::format("{} of {} sectors at sector {}: beyond the disk's {} sectors "
                    "(IOERR)",
                    what, sectors, sector, capacity_));
    return false;
  }
  return true;
}

bool BlkDevice::transfer(bool to_image, uint64_t offset, uint64_t len) {
  size_t index = 0;
  uint64_t done = 0;
  while (done < len) {
    int count = static_cast<int>(std::min<size_t>(iov_.size() - index, IOV_MAX));
    off_t at = static_cast<off_t>(offset + done);
    ssize_t n = to_image ? ::pwritev(fd_.get(), iov_.data() + index, count, at)
                         : ::preadv(fd_.get(), iov_.data() + index, count, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = n < 0 ? std::strerror(errno) : "unexpected end of the image file";
      warnings_.warn(fmt::format("{} {} bytes at offset {} of {}: {} (IOERR)",
                                 to_image ? "pwritev" : "preadv", len - done, offset + done,
                                 config_.path, why));
      return false;
    }
    done += static_cast<uint64_t>(n);
    advance_iov(iov_, index, static_cast<uint64_t>(n));
  }
  return true;
}

uint8_t BlkDevice::do_read(uint64_t sector, const DescriptorChain& chain, const GuestMemory& mem,
                           uint64_t len, uint32_t& written) {
  if (!check_range("read", sector, len)) return BLK_S_IOERR;
  iov_.clear();
  if (!gather_iov(mem, chain.writable, 0, len, iov_).ok()) return BLK_S_IOERR;
  bool ok = transfer(false, sector * BLK_SECTOR_SIZE, len);
  // After the preadv, and also when it failed part way: some bytes may have landed.
  mark_written(mem, chain.writable, 0, len);
  if (!ok) return BLK_S_IOERR;
  written = static_cast<uint32_t>(len);  // the chain carries at most 4 GiB
  return BLK_S_OK;
}

uint8_t BlkDevice::do_write(uint64_t sector, const DescriptorChain& chain, const GuestMemory& mem,
                            uint64_t len) {
  if (config_.read_only) {
    warnings_.warn(
        fmt::format("write of {} bytes at sector {} to a read-only disk (IOERR)", len, sector));
    return BLK_S_IOERR;
  }
  if (!check_range("write", sector, len)) return BLK_S_IOERR;
  iov_.clear();
  if (!gather_iov(mem, chain.readable, BLK_REQ_HEADER_SIZE, len, iov_).ok()) return BLK_S_IOERR;
  return transfer(true, sector * BLK_SECTOR_SIZE, len) ? BLK_S_OK : BLK_S_IOERR;
}

uint8_t BlkDevice::do_flush() {
  if (::fdatasync(fd_.get()) != 0) {
    warnings_.warn(fmt::format("fdatasync of {}: {} (IOERR)", config_.path, std::strerror(errno)));
    return BLK_S_IOERR;
  }
  return BLK_S_OK;
}

uint8_t BlkDevice::do_get_id(const DescriptorChain& chain, const GuestMemory& mem, uint64_t len,
                             uint32_t& written) {
  // 20 bytes, zero-padded; not NUL-terminated when the serial uses all 20 (§5.2.6).
  char id[BLK_ID_BYTES] = {};
  std::memcpy(id, config_.serial.data(), std::min<size_t>(config_.serial.size(), BLK_ID_BYTES));
  uint64_t n = std::min<uint64_t>(len, BLK_ID_BYTES);
  if (!copy_to_segments(mem, chain.writable, 0, id, n).ok()) return BLK_S_IOERR;
  written = static_cast<uint32_t>(n);
  return BLK_S_OK;
}

uint8_t BlkDevice::do_discard(const DescriptorChain& chain, const GuestMemory& mem, uint64_t len) {
  if (!(features_ & feature_bit(BLK_F_DISCARD))) return BLK_S_UNSUPP;
  if (len == 0 || len % BLK_DISCARD_SEG_SIZE != 0 || len / BLK_DISCARD_SEG_SIZE > MAX_DISCARD_SEG) {
    warnings_.warn(
        fmt::format("discard with {} bytes of segments: not 1 to {} segments of {} "
                    "bytes (IOERR)",
                    len, MAX_DISCARD_SEG, BLK_DISCARD_SEG_SIZE));
    return BLK_S_IOERR;
  }
  std::array<DiscardSegment, MAX_DISCARD_SEG> segs;
  size_t count = len / BLK_DISCARD_SEG_SIZE;
  // Check every segment before discarding any: a bad request leaves the image untouched.
  for (size_t i = 0; i < count; ++i) {
    uint64_t at = BLK_REQ_HEADER_SIZE + i * BLK_DISCARD_SEG_SIZE;
    if (!copy_from_segments(mem, chain.readable, at, &segs[i], sizeof segs[i]).ok()) {
      return BLK_S_IOERR;
    }
    if (segs[i].flags != 0) return BLK_S_UNSUPP;  // only write-zeroes defines a flag (unmap)
    if (segs[i].num_sectors > MAX_DISCARD_SECTORS) {
      warnings_.warn(fmt::format("discard of {} sectors: more than max_discard_sectors {} (IOERR)",
                                 segs[i].num_sectors, MAX_DISCARD_SECTORS));
      return BLK_S_IOERR;
    }
    if (!check_range("discard", segs[i].sector, uint64_t{segs[i].num_sectors} * BLK_SECTOR_SIZE)) {
      return BLK_S_IOERR;
    }
  }
  for (size_t i = 0; i < count; ++i) {
    off_t at = static_cast<off_t>(segs[i].sector * BLK_SECTOR_SIZE);
    off_t bytes = static_cast<off_t>(uint64_t{segs[i].num_sectors} * BLK_SECTOR_SIZE);
    if (::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, bytes) != 0) {
      warnings_.warn(
          fmt::format("fallocate(PUNCH_HOLE) of {} bytes at offset {} of {}: {} "
                      "(IOERR)",
                      bytes, at, config_.path, std::strerror(errno)));
      return BLK_S_IOERR;
    }
  }
  return BLK_S_OK;
}

}  // namespace rrvm::virtio
