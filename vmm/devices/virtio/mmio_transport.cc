// virtio-mmio register access: decoding, access-size checks, feature and queue registers.
// Status handling lives in mmio_status.cc, queue service in mmio_queues.cc.
#include "vmm/devices/virtio/mmio_transport.h"

#include <fmt/format.h>

#include <cstring>

#include "trace/span.h"
#include "vmm/devices/virtio/virtio_spec.h"

namespace rrvm::virtio {
namespace {

struct RegisterName {
  uint32_t offset;
  const char* name;
};
constexpr RegisterName REGISTER_NAMES[] = {
    {REG_MAGIC_VALUE, "MagicValue"},
    {REG_VERSION, "Version"},
    {REG_DEVICE_ID, "DeviceID"},
    {REG_VENDOR_ID, "VendorID"},
    {REG_DEVICE_FEATURES, "DeviceFeatures"},
    {REG_DEVICE_FEATURES_SEL, "DeviceFeaturesSel"},
    {REG_DRIVER_FEATURES, "DriverFeatures"},
    {REG_DRIVER_FEATURES_SEL, "DriverFeaturesSel"},
    {REG_QUEUE_SEL, "QueueSel"},
    {REG_QUEUE_NUM_MAX, "QueueNumMax"},
    {REG_QUEUE_NUM, "QueueNum"},
    {REG_QUEUE_READY, "QueueReady"},
    {REG_QUEUE_NOTIFY, "QueueNotify"},
    {REG_INTERRUPT_STATUS, "InterruptStatus"},
    {REG_INTERRUPT_ACK, "InterruptACK"},
    {REG_STATUS, "Status"},
    {REG_QUEUE_DESC_LOW, "QueueDescLow"},
    {REG_QUEUE_DESC_HIGH, "QueueDescHigh"},
    {REG_QUEUE_DRIVER_LOW, "QueueDriverLow"},
    {REG_QUEUE_DRIVER_HIGH, "QueueDriverHigh"},
    {REG_QUEUE_DEVICE_LOW, "QueueDeviceLow"},
    {REG_QUEUE_DEVICE_HIGH, "QueueDeviceHigh"},
    {REG_CONFIG_GENERATION, "ConfigGeneration"},
};

// The register's name in the spec, or nullptr for an offset with no register.
const char* register_name(uint32_t offset) {
  for (const RegisterName& r : REGISTER_NAMES) {
    if (r.offset == offset) return r.name;
  }
  return nullptr;
}

std::string describe_offset(uint32_t offset) {
  const char* name = register_name(offset);
  return name ? fmt::format("{} (0x{:03x})", name, offset) : fmt::format("offset 0x{:03x}", offset);
}

void set_low(uint64_t& v, uint32_t low) { v = (v & 0xffffffff00000000ull) | low; }
void set_high(uint64_t& v, uint32_t high) { v = (v & 0xffffffffull) | (uint64_t{high} << 32); }

}  // namespace

VirtioMmioTransport::VirtioMmioTransport(const MmioTransportArgs& args,
                                         std::unique_ptr<VirtioDevice> device)
    : base_(args.base),
      transport_name_(fmt::format("virtio-mmio@0x{:x}", args.base)),
      mem_(*args.memory),
      interrupt_(args.interrupt),
      device_(std::move(device)),
      warnings_(device_->name()) {
  RRVM_CHECK(args.memory != nullptr && interrupt_ != nullptr);
  RRVM_CHECK(device_->num_queues() > 0);
  RRVM_CHECK(REG_CONFIG + device_->config_space().size() <= MMIO_WINDOW_SIZE);
  RRVM_CHECK(device_->device_features() & feature_bit(F_VERSION_1));
  queues_.reserve(device_->num_queues());
  for (uint16_t q = 0; q < device_->num_queues(); ++q)
    queues_.emplace_back(device_->max_queue_size());
  pending_.assign(device_->num_queues(), false);
}

VirtioMmioTransport::~VirtioMmioTransport() { detach_ioeventfds(); }

void VirtioMmioTransport::read(uint64_t offset, std::span<uint8_t> data) {
  if (offset >= REG_CONFIG) {
    std::lock_guard lock(mu_);
    read_config(offset - REG_CONFIG, data);
    return;
  }
  std::memset(data.data(), 0, data.size());
  if (data.size() != 4 || offset % 4 != 0) {
    warnings_.warn(fmt::format("ignored {}-byte read at {}: registers take aligned 32-bit accesses",
                               data.size(), describe_offset(static_cast<uint32_t>(offset))));
    return;
  }
  uint32_t value;
  {
    std::lock_guard lock(mu_);
    value = read_register(static_cast<uint32_t>(offset));
  }
  std::memcpy(data.data(), &value, sizeof value);
}

void VirtioMmioTransport::write(uint64_t offset, std::span<const uint8_t> data) {
  bool aligned_word = data.size() == 4 && offset % 4 == 0;
  uint32_t value = 0;
  if (aligned_word) std::memcpy(&value, data.data(), sizeof value);
  // QueueNotify is the request hot path (when no ioeventfd is attached): no span for it.
  if (aligned_word && offset == REG_QUEUE_NOTIFY) {
    notify(value);
    return;
  }
  trace::Span span("virtio_mmio_write");
  if (offset >= REG_CONFIG) {
    warnings_.warn(
        fmt::format("ignored {}-byte write to config space offset 0x{:x}: the config "
                    "space of {} is read-only",
                    data.size(), offset - REG_CONFIG, device_->name()));
    return;
  }
  if (!aligned_word) {
    warnings_.warn(
        fmt::format("ignored {}-byte write at {}: registers take aligned 32-bit "
                    "accesses",
                    data.size(), describe_offset(static_cast<uint32_t>(offset))));
    return;
  }
  std::lock_guard lock(mu_);
  write_register(static_cast<uint32_t>(offset), value);
}

uint32_t VirtioMmioTransport::read_register(uint32_t offset) {
  switch (offset) {
    case REG_MAGIC_VALUE:
      return MMIO_MAGIC;
    case REG_VERSION:
      return MMIO_VERSION;
    case REG_DEVICE_ID:
      return device_->device_id();
    case REG_VENDOR_ID:
      return MMIO_VENDOR_ID;
    case REG_DEVICE_FEATURES: {
      uint64_t f = device_->device_features();
      if (device_features_sel_ == 0) return static_cast<uint32_t>(f);
      if (device_features_sel_ == 1) return static_cast<uint32_t>(f >> 32);
      return 0;  // no feature bits beyond 63
    }
    case REG_QUEUE_NUM_MAX: {
      Virtqueue* q = selected_queue();
      return q ? q->max_size() : 0;  // 0: "queue not available" (§4.2.2)
    }
    case REG_QUEUE_READY: {
      Virtqueue* q = selected_queue();
      return q && q->config().ready ? 1 : 0;
    }
    case REG_INTERRUPT_STATUS:
      return interrupt_status_;
    case REG_STATUS:
      return status_;
    case REG_CONFIG_GENERATION:
      return config_generation_;
    default:
      warnings_.warn(fmt::format("ignored read of {}: {}", describe_offset(offset),
                                 register_name(offset) ? "write-only register" : "no register"));
      return 0;
  }
}

void VirtioMmioTransport::write_register(uint32_t offset, uint32_t value) {
  switch (offset) {
    case REG_DEVICE_FEATURES_SEL:
      device_features_sel_ = value;
      return;
    case REG_DRIVER_FEATURES_SEL:
      driver_features_sel_ = value;
      return;
    case REG_QUEUE_SEL:
      queue_sel_ = value;
      return;
    case REG_DRIVER_FEATURES:
      if (status_ & STATUS_FEATURES_OK) {
        warnings_.warn(
            fmt::format("ignored DriverFeatures write 0x{:x}: features are fixed once "
                        "FEATURES_OK is set",
                        value));
      } else if (driver_features_sel_ == 0) {
        set_low(driver_features_, value);
      } else if (driver_features_sel_ == 1) {
        set_high(driver_features_, value);
      } else if (value != 0) {
        warnings_.warn(
            fmt::format("ignored DriverFeatures write 0x{:x} with DriverFeaturesSel {}: "
                        "no feature bits beyond 63",
                        value, driver_features_sel_));
      }
      return;
    case REG_INTERRUPT_ACK:
      interrupt_status_ &= ~value;
      return;
    case REG_STATUS:
      set_status_by_guest(value);
      return;
    case REG_QUEUE_NUM:
    case REG_QUEUE_READY:
    case REG_QUEUE_DESC_LOW:
    case REG_QUEUE_DESC_HIGH:
    case REG_QUEUE_DRIVER_LOW:
    case REG_QUEUE_DRIVER_HIGH:
    case REG_QUEUE_DEVICE_LOW:
    case REG_QUEUE_DEVICE_HIGH:
      write_queue_register(offset, value);
      return;
    default:
      warnings_.warn(fmt::format("ignored write 0x{:x} to {}: {}", value, describe_offset(offset),
                                 register_name(offset) ? "read-only register" : "no register"));
      return;
  }
}

Virtqueue* VirtioMmioTransport::selected_queue() {
  return queue_sel_ < queues_.size() ? &queues_[queue_sel_] : nullptr;
}

void VirtioMmioTransport::write_queue_register(uint32_t offset, uint32_t value) {
  Virtqueue* q = selected_queue();
  if (!q) {
    warnings_.warn(fmt::format("ignored {} write: QueueSel {} selects no queue ({} has {})",
                               register_name(offset), queue_sel_, device_->name(), queues_.size()));
    return;
  }
  if (offset == REG_QUEUE_READY) {
    write_queue_ready(*q, value);
    return;
  }
  QueueConfig& c = q->config();
  if (c.ready) {
    warnings_.warn(
        fmt::format("ignored {} write 0x{:x}: queue {} is ready (the driver sets up a "
                    "queue before writing QueueReady)",
                    register_name(offset), value, queue_sel_));
    return;
  }
  switch (offset) {
    case REG_QUEUE_NUM:
      if (value > 0xffff) {
        warnings_.warn(
            fmt::format("ignored QueueNum {} for queue {}: above 65535", value, queue_sel_));
      } else {
        c.size = static_cast<uint16_t>(value);  // checked at activation
      }
      return;
    case REG_QUEUE_DESC_LOW:
      set_low(c.desc_addr, value);
      return;
    case REG_QUEUE_DESC_HIGH:
      set_high(c.desc_addr, value);
      return;
    case REG_QUEUE_DRIVER_LOW:
      set_low(c.driver_addr, value);
      return;
    case REG_QUEUE_DRIVER_HIGH:
      set_high(c.driver_addr, value);
      return;
    case REG_QUEUE_DEVICE_LOW:
      set_low(c.device_addr, value);
      return;
    case REG_QUEUE_DEVICE_HIGH:
      set_high(c.device_addr, value);
      return;
    default:
      RRVM_FATAL(fmt::format("not a queue register: 0x{:x}", offset));
  }
}

void VirtioMmioTransport::write_queue_ready(Virtqueue& q, uint32_t value) {
  if (value > 1) {
    warnings_.warn(fmt::format("ignored QueueReady write {} for queue {}", value, queue_sel_));
  } else if (value == 0 && q.config().ready) {
    // The driver takes the queue down (Linux does when it deletes its virtqueues). Without
    // VIRTIO_F_RING_RESET it cannot bring it back before a device reset.
    q.reset();
  } else {
    q.config().ready = value == 1;
  }
}

void VirtioMmioTransport::read_config(uint64_t offset, std::span<uint8_t> data) {
  std::span<const uint8_t> config = device_->config_space();
  size_t n = data.size();
  bool size_ok = n == 1 || n == 2 || n == 4 || n == 8;
  if (!size_ok || offset > config.size() || n > config.size() - offset) {
    std::memset(data.data(), 0, n);
    warnings_.warn(
        fmt::format("ignored {}-byte config space read at offset 0x{:x} ({} has {} "
                    "bytes of config space)",
                    n, offset, device_->name(), config.size()));
    return;
  }
  std::memcpy(data.data(), config.data() + offset, n);
}

Status VirtioMmioTransport::attach_ioeventfds(hv::Vm& vm, IoThread& io) {
  RRVM_CHECK(!notifiers_);
  RRVM_ASSIGN_OR_RETURN(
      notifiers_, QueueNotifiers::attach(vm, io, base_ + REG_QUEUE_NOTIFY, device_->num_queues(),
                                         [this](uint16_t queue) { notify(queue); }));
  return ok_status();
}

void VirtioMmioTransport::detach_ioeventfds() {
  // Not under mu_: tearing the notifiers down waits for a running handler, which takes mu_.
  notifiers_.reset();
}

uint32_t VirtioMmioTransport::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

bool VirtioMmioTransport::backend_running() const {
  std::lock_guard lock(mu_);
  return backend_running_;
}

uint64_t VirtioMmioTransport::requests_served() const {
  std::lock_guard lock(mu_);
  return requests_served_;
}

}  // namespace rrvm::virtio
