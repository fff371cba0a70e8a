// virtio-blk: opening the image, features, config space, Persist pattern.
// Request handling lives in blk_request.cc.
#include "vmm/devices/virtio/blk.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "trace/recorder.h"

namespace rrvm::virtio {
namespace {

template <typename T>
void put_le(std::array<uint8_t, BLK_CONFIG_SIZE>& cfg, uint32_t offset, T value) {
  std::memcpy(cfg.data() + offset, &value, sizeof value);  // x86-64: already little-endian
}

Result<uint64_t> image_bytes(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_error("stat disk image " + path);
  if (S_ISREG(st.st_mode)) return static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    uint64_t bytes = 0;
    if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0) return errno_error("BLKGETSIZE64 on " + path);
    return bytes;
  }
  return make_error("disk image " + path + " is neither a regular file nor a block device");
}

// Two writers of one image corrupt it; readers may share. LOCK_NB: fail now, never hang.
Status lock_image(int fd, const BlkConfig& config) {
  if (::flock(fd, (config.read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    return errno_error(
        fmt::format("{}: lock disk image {} (is another VM using it?)", config.name, config.path));
  }
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<BlkDevice>> BlkDevice::create(const BlkConfig& config) {
  if (config.path.empty()) return make_error(config.name + ": no disk image path given");
  if (config.serial.size() > BLK_ID_BYTES) {
    return make_error(fmt::format("{}: serial '{}' is longer than {} bytes", config.name,
                                  config.serial, BLK_ID_BYTES));
  }
  int flags = (config.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  Fd fd(::open(config.path.c_str(), flags));
  if (!fd.valid()) {
    return errno_error(fmt::format("{}: open disk image {}{}", config.name, config.path,
                                   config.read_only ? " (read-only)" : ""));
  }
  if (!config.open_inactive) RRVM_TRY(lock_image(fd.get(), config));
  RRVM_ASSIGN_OR_RETURN(uint64_t bytes, image_bytes(fd.get(), config.path));
  if (bytes % BLK_SECTOR_SIZE != 0) {
    spdlog::warn(
        "{}: disk image {} is {} bytes, not a multiple of {}: the last {} bytes are not "
        "visible to the guest",
        config.name, config.path, bytes, BLK_SECTOR_SIZE, bytes % BLK_SECTOR_SIZE);
  }
  return std::unique_ptr<BlkDevice>(
      new BlkDevice(config, std::move(fd), bytes / BLK_SECTOR_SIZE, !config.open_inactive));
}

BlkDevice::BlkDevice(BlkConfig config, Fd fd, uint64_t capacity, bool locked)
    : config_(std::move(config)),
      fd_(std::move(fd)),
      capacity_(capacity),
      locked_(locked),
      warnings_(config_.name) {
  if (config_.serial.empty()) config_.serial = config_.name.substr(0, BLK_ID_BYTES);
  fill_config_space();
}

void BlkDevice::fill_config_space() {
  put_le<uint64_t>(config_space_, BLK_CFG_CAPACITY, capacity_);
  put_le<uint32_t>(config_space_, BLK_CFG_SEG_MAX, SEG_MAX);
  put_le<uint32_t>(config_space_, BLK_CFG_BLK_SIZE, static_cast<uint32_t>(BLK_SECTOR_SIZE));
  if (!config_.read_only) {
    put_le<uint32_t>(config_space_, BLK_CFG_MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS);
    put_le<uint32_t>(config_space_, BLK_CFG_MAX_DISCARD_SEG, MAX_DISCARD_SEG);
    put_le<uint32_t>(config_space_, BLK_CFG_DISCARD_SECTOR_ALIGNMENT, DISCARD_ALIGNMENT_SECTORS);
  }
}

uint64_t BlkDevice::device_features() const {
  uint64_t f = feature_bit(F_VERSION_1) | feature_bit(F_INDIRECT_DESC) |
               feature_bit(BLK_F_SEG_MAX) | feature_bit(BLK_F_BLK_SIZE) | feature_bit(BLK_F_FLUSH);
  // A read-only disk says so; only a writable one can discard.
  f |= config_.read_only ? feature_bit(BLK_F_RO) : feature_bit(BLK_F_DISCARD);
  return f;
}

Status BlkDevice::activate(uint64_t features) {
  features_ = features;
  return ok_status();
}

Status BlkDevice::release_lock(std::string_view why) {
  if (!locked()) return ok_status();
  if (::flock(fd_.get(), LOCK_UN) != 0) {
    return errno_error(fmt::format("{}: unlock disk image {}", config_.name, config_.path));
  }
  locked_.store(false, std::memory_order_release);
  std::string reason = fmt::format("disk image {} inactive: lock released ({})", config_.path, why);
  trace::emit(trace::DeviceBackend{config_.name, trace::BackendOp::Stop, reason});
  spdlog::debug("{}: {}", config_.name, reason);
  return ok_status();
}

Status BlkDevice::acquire_lock(std::string_view why) {
  if (locked()) return ok_status();
  RRVM_TRY(lock_image(fd_.get(), config_));
  locked_.store(true, std::memory_order_release);
  std::string reason = fmt::format("disk image {} active: {} lock taken ({})", config_.path,
                                   config_.read_only ? "shared" : "exclusive", why);
  trace::emit(trace::DeviceBackend{config_.name, trace::BackendOp::Start, reason});
  spdlog::debug("{}: {}", config_.name, reason);
  return ok_status();
}

BlkState BlkDevice::save() const { return BlkState{capacity_, config_.read_only, config_.serial}; }

Result<std::unique_ptr<BlkDevice>> BlkDevice::restore(const BlkConfig& config,
                                                      const BlkState& state) {
  if (state.read_only != config.read_only) {
    return make_error(fmt::format("{}: the snapshot's disk was {}, the configured one is {}",
                                  config.name, state.read_only ? "read-only" : "writable",
                                  config.read_only ? "read-only" : "writable"));
  }
  if (state.serial.empty() || state.serial.size() > BLK_ID_BYTES) {
    return make_error(fmt::format("{}: saved serial of {} bytes (must be 1 to {})", config.name,
                                  state.serial.size(), BLK_ID_BYTES));
  }
  if (!config.serial.empty() && config.serial != state.serial) {
    return make_error(fmt::format("{}: configured serial '{}' differs from the snapshot's '{}'",
                                  config.name, config.serial, state.serial));
  }
  BlkConfig with_serial = config;
  with_serial.serial = state.serial;
  RRVM_ASSIGN_OR_RETURN(std::unique_ptr<BlkDevice> dev, create(with_serial));
  if (dev->capacity_ != state.capacity_sectors) {
    return make_error(fmt::format("{}: disk image {} has {} sectors, the snapshot expects {}",
                                  config.name, config.path, dev->capacity_,
                                  state.capacity_sectors));
  }
  return dev;
}

}  // namespace rrvm::virtio
