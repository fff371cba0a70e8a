// Test rig for the virtio device model: guest RAM, a counting interrupt line, a driver that
// programs a virtio-mmio transport register by register (as Linux's virtio_mmio does), and a
// writer that builds split-virtqueue descriptor chains in guest memory by hand. Free of gtest so
// that scripts/bench/virtio_bench.cc drives the device model with the same driver.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstring>
#include <memory>
#include <vector>

#include "vmm/core/guest_memory.h"
#include "vmm/core/io_bus.h"
#include "vmm/devices/virtio/mmio_transport.h"
#include "vmm/devices/virtio/virtio_spec.h"

namespace rrvm::virtio::testing {

class CountingInterrupt : public InterruptLine {
 public:
  Status trigger() override {
    count.fetch_add(1);
    return ok_status();
  }
  std::atomic<int> count{0};
};

// A device with one queue that records every chain it serves and answers each with
// `reply_len` written bytes. Its activation can be made to fail.
class TestDevice : public VirtioDevice {
 public:
  explicit TestDevice(uint16_t max_queue_size = 16, uint64_t extra_features = 0)
      : max_queue_size_(max_queue_size), extra_features_(extra_features) {
    for (size_t i = 0; i < config.size(); ++i) config[i] = static_cast<uint8_t>(0xa0 + i);
  }
  const std::string& name() const override { return name_; }
  uint32_t device_id() const override { return 42; }
  uint64_t device_features() const override {
    return feature_bit(F_VERSION_1) | feature_bit(F_INDIRECT_DESC) | extra_features_;
  }
  uint16_t num_queues() const override { return 1; }
  uint16_t max_queue_size() const override { return max_queue_size_; }
  std::span<const uint8_t> config_space() const override { return config; }
  Status activate(uint64_t features) override {
    activated_features = features;
    ++activations;
    if (fail_activation) return make_error("test device refuses to activate");
    return ok_status();
  }
  void reset() override { ++resets; }
  Result<uint32_t> process(uint16_t, const DescriptorChain& chain, const GuestMemory&) override {
    served.push_back(chain);
    return reply_len;
  }

  std::array<uint8_t, 12> config{};
  bool fail_activation = false;
  uint32_t reply_len = 0;
  uint64_t activated_features = 0;
  int activations = 0;
  int resets = 0;
  std::vector<DescriptorChain> served;

 private:
  std::string name_ = "virtio-test0";
  uint16_t max_queue_size_;
  uint64_t extra_features_;
};

// Where a test queue lives in guest RAM. Buffers are allocated from `data` upward.
struct QueueLayout {
  uint16_t size = 16;
  uint64_t desc = 0x10000;
  uint64_t avail = 0x20000;
  uint64_t used = 0x30000;
  uint64_t data = 0x40000;
};

inline constexpr uint64_t TEST_RAM_BYTES = 4ull << 20;  // 4 MiB: guest RAM is [0, 4 MiB)
inline constexpr uint64_t TEST_MMIO_BASE = 0xd0000000;

inline GuestMemory make_test_ram() {
  auto mem = GuestMemory::allocate(TEST_RAM_BYTES);
  RRVM_CHECK(mem.ok());
  return std::move(mem).value();
}

// Guest-physical addresses of the pages marked by GuestMemory's dirty tracking since the previous
// call, ascending; clears the marks (as a migration's dirty-log sync does).
inline std::vector<uint64_t> take_dirty_pages(const GuestMemory& mem) {
  std::vector<uint64_t> pages;
  for (size_t r = 0; r < mem.regions().size(); ++r) {
    std::vector<uint64_t> bits = mem.take_dirty(r);
    for (size_t w = 0; w < bits.size(); ++w) {
      for (uint64_t b = bits[w]; b != 0; b &= b - 1) {
        uint64_t page = w * 64 + static_cast<uint64_t>(std::countr_zero(b));
        pages.push_back(mem.regions()[r].gpa + page * GuestMemory::PAGE_SIZE);
      }
    }
  }
  return pages;
}

// Plays the guest driver against a transport through its MMIO register window.
class MmioDriver {
 public:
  explicit MmioDriver(VirtioMmioTransport& t) : t_(t) {}

  uint32_t read32(uint32_t offset) {
    uint8_t buf[4];
    t_.read(offset, buf);
    uint32_t v;
    std::memcpy(&v, buf, 4);
    return v;
  }
  void write32(uint32_t offset, uint32_t value) {
    uint8_t buf[4];
    std::memcpy(buf, &value, 4);
    t_.write(offset, buf);
  }
  uint32_t status() { return read32(REG_STATUS); }
  void set_status(uint32_t s) { write32(REG_STATUS, s); }

  uint64_t device_features() {
    write32(REG_DEVICE_FEATURES_SEL, 1);
    uint64_t hi = read32(REG_DEVICE_FEATURES);
    write32(REG_DEVICE_FEATURES_SEL, 0);
    return hi << 32 | read32(REG_DEVICE_FEATURES);
  }
  void write_driver_features(uint64_t f) {
    write32(REG_DRIVER_FEATURES_SEL, 1);
    write32(REG_DRIVER_FEATURES, static_cast<uint32_t>(f >> 32));
    write32(REG_DRIVER_FEATURES_SEL, 0);
    write32(REG_DRIVER_FEATURES, static_cast<uint32_t>(f));
  }
  void setup_queue(uint16_t index, const QueueLayout& q) {
    write32(REG_QUEUE_SEL, index);
    write32(REG_QUEUE_NUM, q.size);
    write32(REG_QUEUE_DESC_LOW, static_cast<uint32_t>(q.desc));
    write32(REG_QUEUE_DESC_HIGH, static_cast<uint32_t>(q.desc >> 32));
    write32(REG_QUEUE_DRIVER_LOW, static_cast<uint32_t>(q.avail));
    write32(REG_QUEUE_DRIVER_HIGH, static_cast<uint32_t>(q.avail >> 32));
    write32(REG_QUEUE_DEVICE_LOW, static_cast<uint32_t>(q.used));
    write32(REG_QUEUE_DEVICE_HIGH, static_cast<uint32_t>(q.used >> 32));
    write32(REG_QUEUE_READY, 1);
  }
  // The Linux sequence 0 -> 1 -> 3 -> (features) -> 11 -> (queue) -> 15, accepting every
  // feature the device offers. Returns the final status.
  uint32_t bring_up(const QueueLayout& q, uint64_t features_mask = ~0ull) {
    set_status(0);
    set_status(STATUS_ACKNOWLEDGE);
    set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    write_driver_features(device_features() & features_mask);
    set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    setup_queue(0, q);
    set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    return status();
  }
  void notify(uint16_t queue) { write32(REG_QUEUE_NOTIFY, queue); }

 private:
  VirtioMmioTransport& t_;
};

// Builds descriptor chains and publishes them on the avail ring, like a driver would.
class RingWriter {
 public:
  RingWriter(const GuestMemory& mem, const QueueLayout& q) : mem_(mem), q_(q), next_data_(q.data) {
    std::vector<uint8_t> zero(0x10000, 0);
    RRVM_CHECK(mem_.write(q.desc, zero.data(), desc_table_bytes(q.size)).ok());
    RRVM_CHECK(mem_.write(q.avail, zero.data(), avail_ring_bytes(q.size)).ok());
    RRVM_CHECK(mem_.write(q.used, zero.data(), used_ring_bytes(q.size)).ok());
  }

  // Guest memory for a buffer of `len` bytes (16-byte aligned, never reused).
  uint64_t alloc(uint64_t len) {
    uint64_t at = next_data_;
    next_data_ += (len + 15) & ~15ull;
    return at;
  }
  void set_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0) {
    write_desc(q_.desc, index, addr, len, flags, next);
  }
  // A descriptor in an indirect table at `table`.
  void set_table_desc(uint64_t table, uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
                      uint16_t next = 0) {
    write_desc(table, index, addr, len, flags, next);
  }
  // Puts `head` on the avail ring and bumps avail->idx by `idx_step` (1 for a real driver).
  void publish(uint16_t head, uint16_t idx_step = 1) {
    uint16_t slot = avail_idx_ % q_.size;
    RRVM_CHECK(mem_.write_obj<uint16_t>(q_.avail + 4 + 2 * slot, head).ok());
    avail_idx_ = static_cast<uint16_t>(avail_idx_ + idx_step);
    RRVM_CHECK(mem_.write_obj<uint16_t>(q_.avail + 2, avail_idx_).ok());
  }
  void set_avail_flags(uint16_t flags) {
    RRVM_CHECK(mem_.write_obj<uint16_t>(q_.avail, flags).ok());
  }
  uint16_t used_idx() const { return mem_.read_obj<uint16_t>(q_.used + 2).value(); }
  // The used element at ring position `i`: {id, len}.
  std::pair<uint32_t, uint32_t> used(uint16_t i) const {
    uint64_t at = q_.used + 4 + 8 * (i % q_.size);
    return {mem_.read_obj<uint32_t>(at).value(), mem_.read_obj<uint32_t>(at + 4).value()};
  }

 private:
  void write_desc(uint64_t table, uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next) {
    uint64_t at = table + 16ull * index;
    RRVM_CHECK(mem_.write_obj<uint64_t>(at, addr).ok());
    RRVM_CHECK(mem_.write_obj<uint32_t>(at + 8, len).ok());
    RRVM_CHECK(mem_.write_obj<uint16_t>(at + 12, flags).ok());
    RRVM_CHECK(mem_.write_obj<uint16_t>(at + 14, next).ok());
  }

  const GuestMemory& mem_;
  QueueLayout q_;
  uint64_t next_data_;
  uint16_t avail_idx_ = 0;
};

// Guest RAM, an interrupt line and a transport around a device. Not movable: the transport keeps
// references to mem and irq.
template <typename Device = TestDevice>
struct TransportRig {
  explicit TransportRig(std::unique_ptr<Device> d = std::make_unique<Device>())
      : device(d.get()),
        transport(std::make_unique<VirtioMmioTransport>(
            MmioTransportArgs{TEST_MMIO_BASE, &mem, irq}, std::move(d))) {}
  TransportRig(const TransportRig&) = delete;

  GuestMemory mem = make_test_ram();
  std::shared_ptr<CountingInterrupt> irq = std::make_shared<CountingInterrupt>();
  Device* device;
  std::unique_ptr<VirtioMmioTransport> transport;
  MmioDriver driver{*transport};
};

inline constexpr uint32_t STATUS_LIVE =
    STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK;

}  // namespace rrvm::virtio::testing
