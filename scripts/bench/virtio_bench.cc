// Host-side cost of a virtio-blk request: from the queue notification to the used-ring update and
// the interrupt, driving the device model directly (no KVM, no guest). The "guest" is the test
// driver of tests/virtio: it writes the request header and publishes the chain on the avail ring
// (a few ns, included in the figures). The interrupt line writes an eventfd, which is what
// raising a KVM irqfd costs rrvm (KVM's injection work is not included).
//
// The image lives in /tmp and is pre-written, so requests hit the page cache: the figures are the
// device model's own cost plus pread/pwrite of cached pages.
//
//   build/scripts/bench/virtio_bench --benchmark_min_time=1
#include <sys/eventfd.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/hv/fake_hv.h"
#include "tests/virtio/virtio_test_rig.h"
#include "vmm/devices/virtio/blk.h"
#include "vmm/devices/virtio/io_thread.h"
#include "vmm/devices/virtio/rng.h"

namespace rrvm::virtio {
namespace {

using testing::MmioDriver;
using testing::QueueLayout;
using testing::RingWriter;

constexpr uint64_t IMAGE_BYTES = 32ull << 20;
constexpr uint64_t RAM_BYTES = 64ull << 20;
constexpr uint16_t QUEUE_SIZE = 256;
constexpr uint16_t SLOTS = 64;  // requests prepared up front, 3 descriptors each

// What raising a KVM irqfd costs the VMM: one eventfd write.
class EventFdInterrupt : public InterruptLine {
 public:
  EventFdInterrupt() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) { RRVM_CHECK(fd_.valid()); }
  Status trigger() override {
    uint64_t one = 1;
    if (::write(fd_.get(), &one, sizeof one) != sizeof one) return errno_error("eventfd write");
    return ok_status();
  }

 private:
  Fd fd_;
};

std::string make_image() {
  char tmpl[] = "/tmp/rrvm-virtio-bench-XXXXXX";
  RRVM_CHECK(::mkdtemp(tmpl) != nullptr);
  std::string path = std::string(tmpl) + "/disk.img";
  std::vector<char> chunk(1 << 20);
  for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 13);
  std::ofstream f(path, std::ios::binary);
  for (uint64_t done = 0; done < IMAGE_BYTES; done += chunk.size())
    f.write(chunk.data(), chunk.size());
  return path;
}

// A running virtio-blk device with SLOTS requests prepared in guest memory.
class BlkBench {
 public:
  BlkBench(uint32_t type, uint32_t data_bytes) : image_(make_image()), data_bytes_(data_bytes) {
    auto ram = GuestMemory::allocate(RAM_BYTES);
    RRVM_CHECK(ram.ok());
    mem_ = std::move(ram).value();
    auto dev = BlkDevice::create(BlkConfig{"virtio-blk0", image_, false, ""});
    RRVM_CHECK(dev.ok());
    transport_ = std::make_unique<VirtioMmioTransport>(
        MmioTransportArgs{0xd0000000, &mem_, std::make_shared<EventFdInterrupt>()},
        std::move(dev).value());
    q_.size = QUEUE_SIZE;
    ring_ = std::make_unique<RingWriter>(mem_, q_);
    transport_->vm_state_changed(true, trace::RunState::Running);
    MmioDriver driver(*transport_);
    RRVM_CHECK(driver.bring_up(q_) == testing::STATUS_LIVE);
    for (uint16_t k = 0; k < SLOTS; ++k) prepare(k, type);
  }
  ~BlkBench() {
    transport_.reset();
    std::filesystem::remove_all(std::filesystem::path(image_).parent_path());
  }

  // Publishes the request in slot k for the sector after the previous one (wrapping).
  void publish(uint16_t k) {
    uint64_t sector = next_sector_;
    next_sector_ += data_bytes_ / 512;
    if (next_sector_ + data_bytes_ / 512 > IMAGE_BYTES / 512) next_sector_ = 0;
    RRVM_CHECK(mem_.write_obj<uint64_t>(headers_[k] + 8, sector).ok());
    ring_->publish(static_cast<uint16_t>(3 * k));
  }
  VirtioMmioTransport& transport() { return *transport_; }
  uint16_t used_idx() const { return ring_->used_idx(); }
  bool last_ok(uint16_t k) const { return mem_.read_obj<uint8_t>(status_[k]).value() == BLK_S_OK; }

 private:
  void prepare(uint16_t k, uint32_t type) {
    uint64_t hdr = ring_->alloc(16), data = ring_->alloc(data_bytes_), st = ring_->alloc(1);
    RRVM_CHECK(mem_.write_obj<uint32_t>(hdr, type).ok());
    bool in = type == BLK_T_IN;
    uint16_t d = static_cast<uint16_t>(3 * k);
    ring_->set_desc(d, hdr, 16, DESC_F_NEXT, d + 1);
    ring_->set_desc(d + 1, data, data_bytes_, (in ? DESC_F_WRITE : 0) | DESC_F_NEXT, d + 2);
    ring_->set_desc(d + 2, st, 1, DESC_F_WRITE);
    headers_.push_back(hdr);
    status_.push_back(st);
  }

  std::string image_;
  uint32_t data_bytes_;
  GuestMemory mem_;
  QueueLayout q_;
  std::unique_ptr<RingWriter> ring_;
  std::unique_ptr<VirtioMmioTransport> transport_;
  std::vector<uint64_t> headers_, status_;
  uint64_t next_sector_ = 0;
};

// One request per notification, the notification being a direct call (what the I/O thread does
// after reading the ioeventfd).
void run_single(benchmark::State& state, uint32_t type, uint32_t bytes) {
  BlkBench b(type, bytes);
  uint16_t k = 0;
  for (auto _ : state) {
    b.publish(k);
    b.transport().notify(0);
    k = static_cast<uint16_t>((k + 1) % SLOTS);
  }
  RRVM_CHECK(b.last_ok(static_cast<uint16_t>((k + SLOTS - 1) % SLOTS)));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * bytes);
}

void BM_BlkRead4K(benchmark::State& s) { run_single(s, BLK_T_IN, 4096); }
void BM_BlkWrite4K(benchmark::State& s) { run_single(s, BLK_T_OUT, 4096); }
void BM_BlkRead64K(benchmark::State& s) { run_single(s, BLK_T_IN, 65536); }
BENCHMARK(BM_BlkRead4K);
BENCHMARK(BM_BlkWrite4K);
BENCHMARK(BM_BlkRead64K);

// Eight requests per notification (a driver that batches kicks): one interrupt per batch.
void BM_BlkRead4KBatch8(benchmark::State& state) {
  BlkBench b(BLK_T_IN, 4096);
  uint16_t k = 0;
  for (auto _ : state) {
    for (int i = 0; i < 8; ++i, k = static_cast<uint16_t>((k + 1) % SLOTS)) b.publish(k);
    b.transport().notify(0);
  }
  state.SetItemsProcessed(state.iterations() * 8);
}
BENCHMARK(BM_BlkRead4KBatch8);

// The notification as a QueueNotify MMIO write (no ioeventfd): register decode included.
void BM_BlkRead4KMmioNotify(benchmark::State& state) {
  BlkBench b(BLK_T_IN, 4096);
  MmioDriver driver(b.transport());
  uint16_t k = 0;
  for (auto _ : state) {
    b.publish(k);
    driver.notify(0);
    k = static_cast<uint16_t>((k + 1) % SLOTS);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BlkRead4KMmioNotify);

// Through the ioeventfd and the I/O thread: the eventfd write KVM would do, the I/O thread
// waking up and serving, until the used ring moves (the caller spins on it, as a polling guest).
class IoEventVm : public hv::testing::FakeVm {
 public:
  Status ioeventfd(const hv::IoEventFd& ev, bool assign) override {
    if (assign) fd = ev.fd;
    return ok_status();
  }
  int fd = -1;
};

void BM_BlkRead4KIoeventfd(benchmark::State& state) {
  BlkBench b(BLK_T_IN, 4096);
  auto io = IoThread::start("io-bench");
  RRVM_CHECK(io.ok());
  IoEventVm vm;
  RRVM_CHECK(b.transport().attach_ioeventfds(vm, **io).ok());
  uint16_t k = 0;
  for (auto _ : state) {
    uint16_t before = b.used_idx();
    b.publish(k);
    uint64_t one = 1;
    RRVM_CHECK(::write(vm.fd, &one, sizeof one) == sizeof one);
    while (b.used_idx() == before) std::this_thread::yield();
    k = static_cast<uint16_t>((k + 1) % SLOTS);
  }
  b.transport().detach_ioeventfds();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BlkRead4KIoeventfd)->UseRealTime();

// virtio-rng: 64 bytes of entropy per request.
void BM_Rng64(benchmark::State& state) {
  auto ram = GuestMemory::allocate(RAM_BYTES);
  RRVM_CHECK(ram.ok());
  VirtioMmioTransport t(MmioTransportArgs{0xd0000000, &*ram, std::make_shared<EventFdInterrupt>()},
                        std::make_unique<RngDevice>());
  QueueLayout q;
  RingWriter ring(*ram, q);
  t.vm_state_changed(true, trace::RunState::Running);
  MmioDriver driver(t);
  RRVM_CHECK(driver.bring_up(q) == testing::STATUS_LIVE);
  ring.set_desc(0, ring.alloc(64), 64, DESC_F_WRITE);
  for (auto _ : state) {
    ring.publish(0);
    t.notify(0);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Rng64);

}  // namespace
}  // namespace rrvm::virtio

BENCHMARK_MAIN();
