// virtio-blk (virtio 1.x §5.2) backed by a raw image file.
//
// Requests: IN (pread), OUT (pwrite), FLUSH (fdatasync), GET_ID, and DISCARD (fallocate punch
// hole) on writable images. Every request is checked against the image: sector ranges must lie
// inside the capacity (else VIRTIO_BLK_S_IOERR, nothing touched), data lengths must be whole
// sectors, a read-only image (VIRTIO_BLK_F_RO offered) fails writes with IOERR. A request
// without a 16-byte header or without a status byte cannot be answered at all: that is an Error,
// which the transport turns into DEVICE_NEEDS_RESET.
//
// The image is locked with flock() (exclusive, or shared when read-only) so that two VMs cannot
// write one image at once. Migration hands the lock over as QEMU hands over its image locks
// (bdrv_inactivate_all / bdrv_activate_all): the source releases it once its I/O has stopped at
// completion, the target opens the image unlocked (BlkConfig::open_inactive) and takes it after
// the load, before any vCPU runs. No request is served while the lock is not held.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <sys/uio.h>

#include "vmm/base/fd.h"
#include "vmm/devices/virtio/virtio_device.h"
#include "vmm/devices/virtio/virtio_spec.h"
#include "vmm/devices/virtio/warning_log.h"

namespace rrvm::virtio {

struct BlkConfig {
  std::string name = "virtio-blk0";
  std::string path;
  bool read_only = false;
  std::string serial;  // GET_ID answer, at most 20 bytes; empty: the device name
  // Open without taking the lock (an incoming migration: the source still holds it until its
  // completion). acquire_lock() must succeed before the device serves a request.
  bool open_inactive = false;
};

// Persist pattern. The image contents are not part of it: the disk is shared storage.
struct BlkState {
  uint64_t capacity_sectors = 0;  // must match the image at restore
  bool read_only = false;
  std::string serial;

  bool operator==(const BlkState&) const = default;
};

class BlkDevice final : public VirtioDevice {
 public:
  static constexpr uint16_t QUEUE_SIZE = 256;
  // Segments per request the driver may use (seg_max): the queue size minus header and status.
  static constexpr uint32_t SEG_MAX = QUEUE_SIZE - 2;
  static constexpr uint32_t MAX_DISCARD_SECTORS = 1u << 22;  // 2 GiB per discard segment
  static constexpr uint32_t MAX_DISCARD_SEG = 16;
  static constexpr uint32_t DISCARD_ALIGNMENT_SECTORS = 8;  // 4 KiB: the file system's block

  // Opens and locks the image (unless config.open_inactive). Errors name the path: missing file,
  // not a regular file or block device, locked by another process, a serial longer than 20 bytes.
  static Result<std::unique_ptr<BlkDevice>> create(const BlkConfig& config);
  // Opens the image like create() and checks it still matches the saved state.
  static Result<std::unique_ptr<BlkDevice>> restore(const BlkConfig& config, const BlkState& state);
  BlkState save() const;

  // The migration handover. Called with the device's backend stopped (no request in flight or to
  // come until the VM runs again); each records a DeviceBackend event naming the image.
  // release_lock(): flock(LOCK_UN), a no-op when not held. acquire_lock(): the lock create()
  // takes, non-blocking; a no-op when held; fails when another process holds the image.
  Status release_lock(std::string_view why);
  Status acquire_lock(std::string_view why);
  bool locked() const { return locked_.load(std::memory_order_acquire); }
  const std::string& image_path() const { return config_.path; }

  uint64_t capacity_sectors() const { return capacity_; }
  bool read_only() const { return config_.read_only; }

  const std::string& name() const override { return config_.name; }
  uint32_t device_id() const override { return DEVICE_ID_BLOCK; }
  uint64_t device_features() const override;
  uint16_t num_queues() const override { return 1; }
  uint16_t max_queue_size() const override { return QUEUE_SIZE; }
  std::span<const uint8_t> config_space() const override { return config_space_; }
  Status activate(uint64_t features) override;
  void reset() override { features_ = 0; }
  Result<uint32_t> process(uint16_t queue, const DescriptorChain& chain,
                           const GuestMemory& mem) override;

 private:
  BlkDevice(BlkConfig config, Fd fd, uint64_t capacity, bool locked);
  void fill_config_space();

  // Request types (blk_request.cc). Each returns a VIRTIO_BLK_S_* status; `written` counts
  // bytes stored into the chain's writable data part.
  uint8_t do_read(uint64_t sector, const DescriptorChain& chain, const GuestMemory& mem,
                  uint64_t len, uint32_t& written);
  uint8_t do_write(uint64_t sector, const DescriptorChain& chain, const GuestMemory& mem,
                   uint64_t len);
  uint8_t do_flush();
  uint8_t do_get_id(const DescriptorChain& chain, const GuestMemory& mem, uint64_t len,
                    uint32_t& written);
  uint8_t do_discard(const DescriptorChain& chain, const GuestMemory& mem, uint64_t len);
  bool check_range(const char* what, uint64_t sector, uint64_t bytes);
  // Transfers `len` bytes between the image at `offset` and guest buffers; false on error.
  bool transfer(bool to_image, uint64_t offset, uint64_t len);

  BlkConfig config_;
  Fd fd_;
  uint64_t capacity_;  // in 512-byte sectors
  // Written with the backend stopped, read by the I/O thread while serving: atomic so the check in
  // process() needs no lock of its own.
  std::atomic<bool> locked_;
  uint64_t features_ = 0;
  std::array<uint8_t, BLK_CONFIG_SIZE> config_space_{};
  std::vector<iovec> iov_;  // reused scatter-gather list of the current request
  WarningLog warnings_;  // requests answered with IOERR: bad ranges from the guest, failed host I/O
};

}  // namespace rrvm::virtio
