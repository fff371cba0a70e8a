// The rrvm guest drives rrvm's virtio-blk and virtio-rng through the real `rrvm run`: the trace
// shows each device's status going 0 → 1 → 3 → 11 → 15 with its cause chain (the vCPU's MMIO
// exit → the transport → the status write), the backend starting inside the DRIVER_OK write, the
// guest's reset at the end, and on stop the status rrvm re-applies itself (QEMU's
// virtio_vmstate_change), recorded as rrvm's (source=vmm) under the run-state change's span.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/e2e/e2e_test_support.h"

namespace rrvm::e2e {
namespace {

using core::testing::backtrace_has;
using core::testing::find_event;
using core::testing::is;
using trace::EventType;
using namespace std::chrono_literals;

const std::vector<std::string> DEVICES = {"virtio-blk0", "virtio-rng0"};

// The new status of each of the guest's status writes to `device`, in order, space-separated.
std::string guest_status_sequence(const std::vector<TracedEvent>& ev, const std::string& device) {
  std::string seq;
  for (const auto& e : ev) {
    if (e.type != EventType::DeviceStatusWrite) continue;
    if (e.text.find("device=" + device + " ") == std::string::npos) continue;
    if (e.text.find("source=guest") == std::string::npos) continue;
    // "... transport=... 11 -> 15 (names) source=guest ...": the first arrow is the numeric one.
    size_t arrow = e.text.find(" -> ");
    size_t end = e.text.find(' ', arrow + 4);
    if (!seq.empty()) seq += ' ';
    seq += e.text.substr(arrow + 4, end - arrow - 4);
  }
  return seq;
}

TEST(E2eVirtio, StatusWritesWithCauseChainsAndVmmReappliedOnStop) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  std::string image = dir.file("disk.img");
  { std::ofstream(image, std::ios::binary).put('\0'); }
  std::filesystem::resize_file(image, 1u << 20);
  VmFiles f = vm_files(dir, "vm");
  RrvmProcess vm(dir, "vm",
                 vm_args(f, {"--disk", image, "--rng", "--append",
                             "scenario=virtio-blk,virtio-rng,ticks tick_ms=50"}));
  QmpClient qmp;
  ASSERT_EQ(qmp.connect(f.qmp, 10s), "") << vm.describe();
  ASSERT_GE(wait_ticks(f.console, 1, 20s).size(), 1u) << read_file(f.console) << vm.describe();
  const std::string console = read_file(f.console);
  EXPECT_EQ(count_lines(console, "rrvm-guest: virtio-blk ok"), 1u) << console;
  EXPECT_EQ(count_lines(console, "rrvm-guest: virtio-rng ok"), 1u) << console;
  ASSERT_TRUE(qmp.ok("stop"));
  ASSERT_TRUE(qmp.ok("cont"));
  EXPECT_TRUE(qmp.ok("quit"));
  ASSERT_EQ(vm.wait(20s), 0) << vm.describe();

  auto ev = load_trace(f.trace);
  for (const auto& device : DEVICES) {
    SCOPED_TRACE(device);
    // Reset first, then ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK; the guest resets the device
    // when its step is done.
    EXPECT_EQ(guest_status_sequence(ev, device), "0 1 3 11 15 0") << describe(ev, 0, ev.size());
    long ok = find_event(ev, 0, [&](const TracedEvent& e) {
      return e.type == EventType::DeviceStatusWrite &&
             e.text.find("device=" + device + " ") != std::string::npos &&
             e.text.find(" 11 -> 15 ") != std::string::npos;
    });
    ASSERT_GE(ok, 0);
    EXPECT_EQ(ev[ok].thread.rfind("vcpu", 0), 0u) << ev[ok].str();
    EXPECT_TRUE(backtrace_has(ev[ok], {"virtio_set_status", "virtio_mmio_write", "address_space_rw"}))
        << ev[ok].str();
    // The MMIO exit that caused it was recorded just before, on the same vCPU thread.
    long exit = -1;
    for (long i = ok - 1; i >= 0 && exit < 0; --i) {
      if (ev[i].type == EventType::VcpuExit && ev[i].thread == ev[ok].thread) exit = i;
    }
    ASSERT_GE(exit, 0);
    EXPECT_NE(ev[exit].text.find("mmio write"), std::string::npos) << ev[exit].str();
    // DRIVER_OK starts the backend inside the same write (QEMU: vhost start under virtio_set_status).
    long start = find_event(ev, ok, is(EventType::DeviceBackend, "device=" + device + " start"));
    ASSERT_GE(start, 0);
    EXPECT_EQ(ev[start].backtrace, ev[ok].backtrace) << ev[start].str();
    long reset = find_event(ev, ok, is(EventType::DeviceReset, "device=" + device + " "));
    EXPECT_GE(reset, 0) << "the guest's reset at the end of its step";
  }

  // stop/cont: rrvm re-applies each device's current status (QEMU's virtio_vmstate_change), as
  // its own write under the run-state change's span, and no guest write appears there.
  long stop = find_event(ev, 0, is(EventType::RunStateChange, "running -> paused"));
  ASSERT_GE(stop, 0);
  long cont = find_event(ev, stop, is(EventType::RunStateChange, "paused -> running"));
  ASSERT_GE(cont, 0);
  for (const auto& device : DEVICES) {
    SCOPED_TRACE(device);
    long on_stop = find_event(ev, stop, is(EventType::DeviceStatusWrite, "device=" + device + " "));
    ASSERT_GE(on_stop, 0);
    EXPECT_LT(on_stop, cont);
    EXPECT_NE(ev[on_stop].text.find("source=vmm"), std::string::npos) << ev[on_stop].str();
    EXPECT_TRUE(backtrace_has(ev[on_stop], {"virtio_vmstate_change", "vm_state_notify", "vm_stop"}))
        << ev[on_stop].str();
    // QEMU's virtio_vmstate_change re-applies the status on start only for a started device;
    // the guest reset these, so cont writes nothing to them.
    long next_change = find_event(ev, cont + 1, is(EventType::RunStateChange));
    long on_cont = find_event(ev, cont, is(EventType::DeviceStatusWrite, "device=" + device + " "));
    EXPECT_TRUE(on_cont < 0 || (next_change >= 0 && on_cont > next_change))
        << ev[on_cont].str();
  }
}

}  // namespace
}  // namespace rrvm::e2e
