// Snapshot to a file and restore in a new rrvm process. The guest (2 vCPUs, a disk and rng)
// dirties RAM and writes a record to its disk every tick: after the restore its tick counter
// continues, every dirtied page kept its word, the disk still writes, flushes and reads back, the
// image holds the records of both processes in order, its kvmclock never goes backwards and (by
// default) does not count the stopped time; with --clock-advance its wall time matches the
// host's. Both traces show QEMU's sequences. Corrupt snapshot files are refused before any vCPU
// runs.
#include <gtest/gtest.h>
#include <time.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/e2e/migration_support.h"

namespace rrvm::e2e {
namespace {

using namespace std::chrono_literals;

uint64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

struct Saved {
  std::string disk;
  std::string snapshot;
  std::string console;  // the source's console at the end
};

// Boots the busy guest, saves it to DIR/vm.snap over QMP and quits it (which releases the disk
// image's lock for the restoring process).
void save_ticking_guest(const TempDir& dir, Saved* out) {
  VmFiles f = vm_files(dir, "source");
  out->disk = make_tick_disk(dir);
  RrvmProcess vm(dir, "source", vm_args(f, busy_guest_args(out->disk)));
  QmpClient qmp;
  ASSERT_EQ(qmp.connect(f.qmp, 10s), "") << vm.describe();
  ASSERT_GE(wait_ticks(f.console, 3, 20s).size(), 3u) << read_file(f.console) << vm.describe();
  out->snapshot = dir.file("vm.snap");
  nlohmann::json q = migrate_and_wait(qmp, "file:" + out->snapshot, 30s);
  ASSERT_EQ(str_field(q, "status"), "completed") << q.dump();
  EXPECT_EQ(qmp.status(), "postmigrate");
  // A VM in postmigrate does not run: no tick is printed after the save.
  out->console = read_file(f.console);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(read_file(f.console), out->console);
  EXPECT_TRUE(qmp.ok("quit"));
  ASSERT_EQ(vm.wait(20s), 0) << vm.describe();
  expect_source_completion_sequence(load_trace(f.trace));
  expect_trace_checks_clean(dir, f.trace);
}

struct Restored {
  std::vector<Tick> ticks;
  uint64_t host_realtime_at_first_tick = 0;
  std::string console;  // the target's console after it quit
};

// Restores with the source's devices (same disk image) and lets the guest tick three times.
void restore(const TempDir& dir, const Saved& saved, std::vector<std::string> extra,
             Restored* out) {
  VmFiles f = vm_files(dir, "target");
  extra.insert(extra.begin(), {"--incoming", "file:" + saved.snapshot});
  std::vector<std::string> devices = busy_guest_args(saved.disk);
  extra.insert(extra.end(), devices.begin(), devices.end());
  RrvmProcess vm(dir, "target", vm_args(f, extra));
  QmpClient qmp;
  ASSERT_EQ(qmp.connect(f.qmp, 10s), "") << vm.describe();
  ASSERT_GE(wait_ticks(f.console, 1, 20s).size(), 1u) << read_file(f.console) << vm.describe();
  out->host_realtime_at_first_tick = realtime_ns();
  out->ticks = wait_ticks(f.console, 3, 20s);
  ASSERT_GE(out->ticks.size(), 3u);
  EXPECT_EQ(qmp.status(), "running");
  EXPECT_TRUE(qmp.ok("quit"));
  ASSERT_EQ(vm.wait(20s), 0) << vm.describe();
  out->console = read_file(f.console);
  expect_target_load_sequence(load_trace(f.trace));
  expect_trace_checks_clean(dir, f.trace);
}

void expect_continues(const Saved& saved, const Restored& restored) {
  auto before = parse_ticks(saved.console);
  ASSERT_FALSE(before.empty());
  EXPECT_TRUE(is_continuation(saved.console, restored.ticks.front().n))
      << "source's last tick " << before.back().n << ", target's first "
      << restored.ticks.front().n;
  EXPECT_GT(restored.ticks.front().kvmclock_ns, before.back().kvmclock_ns);
  for (size_t i = 1; i < restored.ticks.size(); ++i) {
    EXPECT_GT(restored.ticks[i].kvmclock_ns, restored.ticks[i - 1].kvmclock_ns);
    EXPECT_EQ(restored.ticks[i].n, restored.ticks[i - 1].n + 1);
  }
}

// The work of every tick went on after the restore: RAM kept, disk records written on both sides.
void expect_work_continues(const Saved& saved, const Restored& restored) {
  auto source_work = parse_tick_work(saved.console);
  auto target_work = parse_tick_work(restored.console);
  ASSERT_FALSE(source_work.empty()) << saved.console;
  ASSERT_GE(target_work.size(), 2u) << restored.console;
  EXPECT_GT(target_work.front(), source_work.back());
  // Every complete tick-work line the target printed says disk=ok. (The console may start with
  // the tail of a line the source was printing when it stopped: that is not one of them.)
  size_t disk_ok = 0;
  std::istringstream lines(restored.console);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("tick-work ", 0) == 0 && line.find(" disk=ok") != std::string::npos) ++disk_ok;
  }
  EXPECT_EQ(disk_ok, target_work.size()) << restored.console;
  expect_dirty_ram_verified(restored.console, source_work.back());
  expect_tick_records(saved.disk, target_work.back(), source_work.back(),
                      first_tick_after_stop(restored.console));
}

TEST(E2eSnapshot, RestoreContinuesWithoutCountingStoppedTime) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  Saved saved;
  ASSERT_NO_FATAL_FAILURE(save_ticking_guest(dir, &saved));
  std::this_thread::sleep_for(2s);  // stopped time the guest clock must not count
  Restored restored;
  ASSERT_NO_FATAL_FAILURE(restore(dir, saved, {}, &restored));
  expect_continues(saved, restored);
  expect_work_continues(saved, restored);
  uint64_t gap = restored.ticks.front().kvmclock_ns - parse_ticks(saved.console).back().kvmclock_ns;
  EXPECT_LT(gap, 1000000000ull) << "the guest clock counted the >= 2 s the VM was stopped";
}

TEST(E2eSnapshot, ClockAdvanceBringsGuestWallTimeToHostTime) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  Saved saved;
  ASSERT_NO_FATAL_FAILURE(save_ticking_guest(dir, &saved));
  std::this_thread::sleep_for(2s);
  Restored restored;
  ASSERT_NO_FATAL_FAILURE(restore(dir, saved, {"--clock-advance"}, &restored));
  expect_continues(saved, restored);
  expect_work_continues(saved, restored);
  uint64_t gap = restored.ticks.front().kvmclock_ns - parse_ticks(saved.console).back().kvmclock_ns;
  EXPECT_GT(gap, 1800000000ull) << "with --clock-advance the guest clock counts the stopped time";
  int64_t skew =
      int64_t(restored.ticks.front().wall_ns) - int64_t(restored.host_realtime_at_first_tick);
  EXPECT_LT(std::llabs(skew), 1000000000ll)
      << "guest wall time differs from the host's by " << skew << " ns";
}

// A snapshot to a file gives the disk image up as a live migration does (QEMU inactivates for any
// migration): a restore takes it while the source still sits in postmigrate. `cont` on the source
// then fails, naming the image the restored VM holds, and leaves it in postmigrate; once the
// restored VM is gone, `cont` takes the image back and the source's guest runs and writes again.
TEST(E2eSnapshot, RestoreWhileTheSourceSitsInPostmigrate) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  VmFiles sf = vm_files(dir, "source");
  const std::string disk = make_tick_disk(dir);
  RrvmProcess source(dir, "source", vm_args(sf, busy_guest_args(disk)));
  QmpClient sq;
  ASSERT_EQ(sq.connect(sf.qmp, 10s), "") << source.describe();
  ASSERT_GE(wait_ticks(sf.console, 3, 20s).size(), 3u) << read_file(sf.console);
  const std::string snapshot = dir.file("vm.snap");
  nlohmann::json q = migrate_and_wait(sq, "file:" + snapshot, 30s);
  ASSERT_EQ(str_field(q, "status"), "completed") << q.dump();
  ASSERT_EQ(sq.status(), "postmigrate");
  const std::string source_console = read_file(sf.console);

  VmFiles tf = vm_files(dir, "target");
  std::vector<std::string> args = {"--incoming", "file:" + snapshot};
  for (const std::string& a : busy_guest_args(disk)) args.push_back(a);
  RrvmProcess target(dir, "target", vm_args(tf, args));
  QmpClient tq;
  ASSERT_EQ(tq.connect(tf.qmp, 10s), "") << target.describe();
  ASSERT_GE(wait_ticks(tf.console, 2, 20s).size(), 2u)
      << read_file(tf.console) << target.describe();
  EXPECT_EQ(tq.status(), "running");

  nlohmann::json refused = sq.execute("cont");
  ASSERT_TRUE(refused.contains("error")) << refused.dump();
  std::string why = refused["error"].value("desc", "");
  EXPECT_NE(why.find("lock disk image " + disk), std::string::npos) << why;
  EXPECT_EQ(sq.status(), "postmigrate");
  EXPECT_EQ(read_file(sf.console), source_console) << "the source ran without its disk image";

  EXPECT_TRUE(tq.ok("quit"));
  ASSERT_EQ(target.wait(20s), 0) << target.describe();
  std::string target_console = read_file(tf.console);
  auto source_work = parse_tick_work(source_console);
  auto target_work = parse_tick_work(target_console);
  ASSERT_FALSE(source_work.empty());
  ASSERT_FALSE(target_work.empty()) << target_console;
  expect_tick_records(disk, target_work.back(), source_work.back(),
                      first_tick_after_stop(target_console));

  ASSERT_TRUE(sq.ok("cont"));
  EXPECT_EQ(sq.status(), "running");
  size_t seen = parse_tick_work(read_file(sf.console)).size();
  EXPECT_TRUE(wait_until(10s, [&] {
    return parse_tick_work(read_file(sf.console)).size() >= seen + 2;
  })) << read_file(sf.console);
  EXPECT_TRUE(sq.ok("quit"));
  ASSERT_EQ(source.wait(20s), 0) << source.describe();
  auto ev = load_trace(sf.trace);
  expect_disk_handover(ev, nullptr);
  long taken = core::testing::find_event(
      ev, 0, core::testing::is(trace::EventType::DeviceBackend, "lock taken"));
  long resumed = core::testing::find_event(
      ev, 0, core::testing::is(trace::EventType::RunStateChange, "postmigrate -> running"));
  EXPECT_TRUE(taken >= 0 && taken < resumed) << taken << " " << resumed;
}

// A corrupt snapshot: rrvm refuses it with a message naming where, exits non-zero, and the
// guest never ran (nothing on its console).
void expect_refused(const TempDir& dir, const Saved& saved, const std::string& file,
                    const std::string& what) {
  std::string console = file + ".console";
  std::vector<std::string> args = {"run",   "--no-trace", "--serial",
                                   console, "--incoming", "file:" + file};
  std::vector<std::string> devices = busy_guest_args(saved.disk);
  args.insert(args.end(), devices.begin(), devices.end());
  RunResult r = run_rrvm(dir, "bad", args);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_NE(*r.status, 0) << r.err;
  EXPECT_FALSE(r.signaled) << r.err;
  // The message names the part of the stream (a device section, or RAM, which is QEMU's "ram"
  // section) and the offset where it went wrong.
  EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
  EXPECT_TRUE(r.err.find("section '") != std::string::npos ||
              r.err.find("RAM") != std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("offset"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
  EXPECT_EQ(read_file(console), "") << "a vCPU ran";
}

TEST(E2eSnapshot, TruncatedAndBitFlippedSnapshotsAreRefused) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  Saved saved;
  ASSERT_NO_FATAL_FAILURE(save_ticking_guest(dir, &saved));
  std::string bytes = read_file(saved.snapshot);
  ASSERT_GT(bytes.size(), 4096u);
  // Cut in the middle of the stream.
  std::string truncated = dir.file("truncated.snap");
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_refused(dir, saved, truncated, "truncated");
  // Flip one bit in the middle of the file.
  std::string flipped = dir.file("flipped.snap");
  std::string copy = bytes;
  copy[copy.size() / 2] = char(copy[copy.size() / 2] ^ 0x10);
  std::ofstream(flipped, std::ios::binary) << copy;
  expect_refused(dir, saved, flipped, "mismatch");
}

}  // namespace
}  // namespace rrvm::e2e
