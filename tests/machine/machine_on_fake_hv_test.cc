// The machine's own sequences on the in-memory hypervisor (fake_machine.h), on every host: QMP
// stop/cont, a snapshot to a file restored by a second machine and a live migration over a unix
// socket to a second process, each while the fake guest writes its RAM, leave traces in QEMU's
// order that `rrvm check --all` accepts; the restored or migrated VM has the source's RAM and
// vCPU state; QMP stop/cont during inmigrate decide whether the target runs after its load. The
// same sequence checks run against real KVM in tests/e2e (skipped where /dev/kvm is missing).
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "tests/e2e/migration_support.h"
#include "tests/e2e/stop_cont_sequence.h"
#include "tests/machine/machine_test_support.h"

namespace rrvm::machine::testing {
namespace {

using core::testing::find_event;
using core::testing::is;
using e2e::TempDir;
using trace::EventType;
using namespace std::chrono_literals;

TEST(MachineOnFakeHv, StopContCyclesTraceQemusKvmclockSequenceAndCheckClean) {
  constexpr int CYCLES = 5;
  TempDir dir;
  MachineConfig config = fake_machine_config(dir.path(), "vm");
  {
    FakeMachine vm(config);
    e2e::QmpClient qmp;
    start_running(vm, config, qmp);
    if (::testing::Test::HasFatalFailure()) return;
    for (int i = 0; i < CYCLES; ++i) {
      ASSERT_TRUE(qmp.ok("stop")) << "cycle " << i;
      EXPECT_EQ(qmp.status(), "paused");
      std::this_thread::sleep_for(20ms);  // paused time the guest's clock must not count
      ASSERT_TRUE(qmp.ok("cont")) << "cycle " << i;
      EXPECT_EQ(qmp.status(), "running");
      size_t runs = vm.vcpu(0).runs();
      ASSERT_TRUE(vm.vcpu(0).wait_runs(runs + 2)) << "vcpu0 did not run again after cont " << i;
    }
    EXPECT_TRUE(qmp.ok("quit"));
    EXPECT_EQ(vm.wait(), 0);
  }

  auto ev = e2e::load_trace(config.trace_path);
  long at = find_event(ev, 0, is(EventType::RunStateChange, "prelaunch -> running"));
  ASSERT_GE(at, 0) << e2e::describe(ev, 0, ev.size());
  for (int i = 0; i < CYCLES && at >= 0; ++i) {
    SCOPED_TRACE("cycle " + std::to_string(i));
    long stop = e2e::expect_stop_sequence(ev, at);
    ASSERT_GE(stop, 0);
    at = e2e::expect_cont_sequence(ev, stop);
    ASSERT_GE(at, 0);
    // The clock set at cont is the one read at the stop: the paused time is not counted.
    long get = find_event(ev, stop - 1, is(EventType::ClockAccess, "get clock="));
    long set = find_event(ev, stop, is(EventType::ClockAccess, "set clock="));
    ASSERT_TRUE(get >= 0 && set > get);
    auto clock_of = [](const std::string& t) {
      return t.substr(t.find("clock="), t.find("ns ") - t.find("clock="));
    };
    EXPECT_EQ(clock_of(ev[get].text), clock_of(ev[set].text)) << ev[get].str() << "\n"
                                                              << ev[set].str();
  }
  e2e::expect_trace_checks_clean(dir, config.trace_path);
}

// What a vCPU's fake holds: the state a restore must reproduce.
struct VcpuState {
  hv::Regs regs;
  hv::Sregs sregs;
  std::map<uint32_t, uint64_t> msrs;
  hv::Blob lapic, events, xsave;
  hv::MpState mp_state;
};

VcpuState state_of(core::testing::FakeVcpu& v) {
  return {v.regs, v.sregs, v.msrs, v.lapic, v.events, v.xsave, v.mp_state};
}

void expect_same_state(const VcpuState& a, const VcpuState& b, size_t index) {
  SCOPED_TRACE("vcpu " + std::to_string(index));
  EXPECT_EQ(std::memcmp(&a.regs, &b.regs, sizeof a.regs), 0)
      << "rip " << a.regs.rip << " vs " << b.regs.rip;
  EXPECT_EQ(std::memcmp(&a.sregs, &b.sregs, sizeof a.sregs), 0);
  EXPECT_EQ(a.msrs, b.msrs);
  EXPECT_EQ(a.lapic, b.lapic);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.xsave, b.xsave);
  EXPECT_EQ(a.mp_state, b.mp_state);
}

// The two sides of a migration: a source with a disk (a fresh image in `dir`) and virtio-rng,
// and a target with the same devices loading from `incoming`.
struct MigrationConfigs {
  MachineConfig source, target;
};
MigrationConfigs migration_configs(const TempDir& dir, const std::string& incoming) {
  MigrationConfigs c{fake_machine_config(dir.path(), "source"),
                     fake_machine_config(dir.path(), "target")};
  c.source.disks = {{e2e::make_tick_disk(dir)}};
  c.source.rng = true;
  c.target.disks = c.source.disks;
  c.target.rng = true;
  c.target.incoming = incoming;
  return c;
}

TEST(MachineOnFakeHv, SnapshotToFileThenRestoreInANewMachine) {
  TempDir dir;
  std::string snapshot = dir.file("vm.snap");
  MigrationConfigs configs = migration_configs(dir, "file:" + snapshot);
  MachineConfig& source_config = configs.source;
  MachineConfig& target_config = configs.target;

  std::vector<VcpuState> saved;
  uint64_t source_ram = 0;
  {
    FakeMachine vm(source_config, /*dirty_ram=*/true);
    e2e::QmpClient qmp;
    start_running(vm, source_config, qmp);
    if (::testing::Test::HasFatalFailure()) return;
    nlohmann::json q = e2e::migrate_and_wait(qmp, "file:" + snapshot, 30s);
    ASSERT_EQ(e2e::str_field(q, "status"), "completed") << q.dump();
    EXPECT_EQ(qmp.status(), "postmigrate");
    // In postmigrate no vCPU runs.
    size_t runs = vm.vcpu(0).runs();
    std::this_thread::sleep_for(20 * FAKE_EXIT_PERIOD);
    EXPECT_EQ(vm.vcpu(0).runs(), runs);
    for (size_t i = 0; i < vm.vcpu_count(); ++i) saved.push_back(state_of(vm.vcpu(i)));
    source_ram = ram_digest(vm.machine().memory());
    EXPECT_TRUE(qmp.ok("quit"));
    EXPECT_EQ(vm.wait(), 0);
  }
  auto source_trace = e2e::load_trace(source_config.trace_path);
  e2e::expect_source_completion_sequence(source_trace);
  e2e::expect_disk_handover(source_trace, nullptr);
  e2e::expect_trace_checks_clean(dir, source_config.trace_path);

  target_config.autostart = false;  // compared before its guest runs (and dirties RAM) again
  {
    FakeMachine vm(target_config, /*dirty_ram=*/true);
    ASSERT_TRUE(vm.ok()) << vm.error();
    vm.start();
    e2e::QmpClient qmp;
    ASSERT_EQ(qmp.connect(target_config.qmp_path, 10s), "");
    ASSERT_TRUE(e2e::wait_until(10s, [&] { return qmp.status() == "paused"; })) << qmp.status();
    ASSERT_EQ(vm.vcpu_count(), saved.size());
    for (size_t i = 0; i < saved.size(); ++i) expect_same_state(saved[i], state_of(vm.vcpu(i)), i);
    EXPECT_EQ(ram_digest(vm.machine().memory()), source_ram) << "the restored RAM differs";
    ASSERT_TRUE(qmp.ok("cont"));
    ASSERT_TRUE(vm.vcpu(0).wait_runs(2) && vm.vcpu(1).wait_runs(2));
    EXPECT_EQ(qmp.status(), "running");
    EXPECT_TRUE(qmp.ok("quit"));
    EXPECT_EQ(vm.wait(), 0);
  }
  auto target_trace = e2e::load_trace(target_config.trace_path);
  e2e::expect_target_load_sequence(target_trace);
  e2e::expect_trace_checks_clean(dir, target_config.trace_path);
}

// Waits until an incoming machine listens for its migration: its QMP monitor is up before that,
// and query-migrate says "none" until the listener is bound.
void wait_incoming_listening(e2e::QmpClient& target_qmp) {
  std::string status;
  EXPECT_TRUE(e2e::wait_until(10s,
                              [&] {
                                status = e2e::str_field(
                                    target_qmp.execute("query-migrate")["return"], "status");
                                return !status.empty() && status != "none";
                              }))
      << "the target does not listen: query-migrate says '" << status << "'";
}

// Live-migrates a running source (untraced) to an incoming machine started with `autostart`;
// `during_inmigrate` is sent to the target's QMP before the source starts. Returns the target's
// status once the load ended.
std::string migrate_with_command_during_inmigrate(bool autostart,
                                                  const std::string& during_inmigrate) {
  TempDir dir;
  MachineConfig source_config = fake_machine_config(dir.path(), "source");
  source_config.trace_path.clear();  // the trace recorder is process-wide: neither side traces
  MachineConfig target_config = fake_machine_config(dir.path(), "target");
  target_config.trace_path.clear();
  target_config.incoming = "unix:" + dir.file("migrate.sock");
  target_config.autostart = autostart;

  FakeMachine target(target_config);
  EXPECT_TRUE(target.ok()) << target.error();
  if (!target.ok()) return "";
  target.start();
  e2e::QmpClient tq;
  EXPECT_EQ(tq.connect(target_config.qmp_path, 10s), "");
  wait_incoming_listening(tq);
  EXPECT_EQ(tq.status(), "inmigrate");
  EXPECT_TRUE(tq.ok(during_inmigrate));
  EXPECT_EQ(tq.status(), "inmigrate") << during_inmigrate << " must not leave inmigrate";

  FakeMachine source(source_config, /*dirty_ram=*/true);
  EXPECT_TRUE(source.ok()) << source.error();
  if (!source.ok()) return "";
  source.start();
  e2e::QmpClient sq;
  EXPECT_EQ(sq.connect(source_config.qmp_path, 10s), "");
  nlohmann::json q = e2e::migrate_and_wait(sq, target_config.incoming, 30s);
  EXPECT_EQ(e2e::str_field(q, "status"), "completed") << q.dump();
  std::string status;
  EXPECT_TRUE(e2e::wait_until(10s, [&] {
    status = tq.status();
    return status != "inmigrate";
  }));
  EXPECT_TRUE(sq.ok("quit"));
  EXPECT_EQ(source.wait(), 0);
  EXPECT_TRUE(tq.ok("quit"));
  EXPECT_EQ(target.wait(), 0);
  return status;
}

// QEMU's qmp_stop / qmp_cont during inmigrate: they only change autostart, which the target reads
// when its load ends.
TEST(MachineOnFakeHv, StopDuringInmigrateKeepsTheTargetPausedAfterTheLoad) {
  EXPECT_EQ(migrate_with_command_during_inmigrate(/*autostart=*/true, "stop"), "paused");
}

TEST(MachineOnFakeHv, ContDuringInmigrateRunsATargetStartedWithoutAutostart) {
  EXPECT_EQ(migrate_with_command_during_inmigrate(/*autostart=*/false, "cont"), "running");
}

// The incoming side of a live migration, in a child process: the trace recorder is
// process-wide, so two traced machines need two processes (as in real use). Once its load has
// left it paused (`config` has no autostart) it writes "RAM-DIGEST VCPUS-DIGEST" to `report`,
// then runs until `quit`. It exits with the machine's status; 90 when the machine could not be
// built, 91 when the load did not end in time. Fork only while the test process has one thread.
pid_t fork_incoming(const MachineConfig& config, const std::string& report) {
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int status = 90;
  {
    FakeMachine vm(config);
    if (vm.ok()) {
      vm.start();
      bool loaded =
          e2e::wait_until(30s, [&] { return vm.machine().run_state() == trace::RunState::Paused; });
      if (loaded) {
        std::ofstream(report + ".tmp")
            << ram_digest(vm.machine().memory()) << " " << vcpus_digest(vm) << "\n";
        std::rename((report + ".tmp").c_str(), report.c_str());
        status = vm.wait(60s);
      } else {
        status = 91;
      }
    }
  }
  std::fflush(nullptr);
  ::_exit(status);
}

// Live migration over a unix socket while the fake guest keeps writing its RAM, both sides
// traced, with a disk whose lock moves from the source process to the target process.
TEST(MachineOnFakeHv, LiveMigrationOverUnixSocketWhileTheGuestWritesItsRam) {
  TempDir dir;
  MigrationConfigs configs = migration_configs(dir, "unix:" + dir.file("migrate.sock"));
  MachineConfig& source_config = configs.source;
  MachineConfig& target_config = configs.target;
  target_config.autostart = false;  // compared before its guest runs (and dirties RAM) again
  const std::string report = dir.file("target.report");

  pid_t target = fork_incoming(target_config, report);
  ASSERT_GT(target, 0);
  e2e::QmpClient tq;
  ASSERT_EQ(tq.connect(target_config.qmp_path, 10s), "");
  wait_incoming_listening(tq);
  EXPECT_EQ(tq.status(), "inmigrate");
  std::string source_digests;
  {
    FakeMachine vm(source_config, /*dirty_ram=*/true);
    e2e::QmpClient qmp;
    start_running(vm, source_config, qmp);
    if (::testing::Test::HasFatalFailure()) return;
    nlohmann::json q = e2e::migrate_iterating(qmp, target_config.incoming);
    ASSERT_EQ(e2e::str_field(q, "status"), "completed") << q.dump();
    EXPECT_GE(q.value(nlohmann::json::json_pointer("/ram/dirty-sync-count"), int64_t{0}), 3)
        << q.dump();
    EXPECT_EQ(qmp.status(), "postmigrate");
    source_digests = std::to_string(ram_digest(vm.machine().memory())) + " " +
                     std::to_string(vcpus_digest(vm)) + "\n";
    EXPECT_TRUE(qmp.ok("quit"));
    EXPECT_EQ(vm.wait(), 0);
  }
  ASSERT_TRUE(e2e::wait_until(30s, [&] { return !e2e::read_file(report).empty(); }));
  EXPECT_EQ(e2e::read_file(report), source_digests)
      << "the target's RAM and vCPU state (left) differ from the source's at completion";
  EXPECT_EQ(tq.status(), "paused");
  EXPECT_TRUE(tq.ok("cont"));
  EXPECT_EQ(tq.status(), "running");
  EXPECT_TRUE(tq.ok("quit"));
  int wstatus = 0;
  ASSERT_EQ(::waitpid(target, &wstatus, 0), target);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << "target status " << wstatus;

  auto source_trace = e2e::load_trace(source_config.trace_path);
  auto target_trace = e2e::load_trace(target_config.trace_path);
  EXPECT_GE(e2e::iteration_pages(source_trace).size(), 3u);
  e2e::expect_source_completion_sequence(source_trace);
  e2e::expect_target_load_sequence(target_trace);
  e2e::expect_disk_handover(source_trace, &target_trace);
  e2e::expect_trace_checks_clean(dir, source_config.trace_path);
  e2e::expect_trace_checks_clean(dir, target_config.trace_path);
}

// A live migration that cannot finish: the target (a child process) is stopped with SIGSTOP once
// it listens, so the source's stream stalls mid-way; then `end_it` ends it (killing the target or
// cancelling). The source must come back to running with its guest going on, record why, and
// leave a trace rrvm check accepts. Returns query-migrate's final status.
std::string stalled_migration(const std::function<void(pid_t target, e2e::QmpClient&)>& end_it) {
  TempDir dir;
  MigrationConfigs configs = migration_configs(dir, "unix:" + dir.file("migrate.sock"));
  MachineConfig& source_config = configs.source;
  MachineConfig& target_config = configs.target;
  target_config.trace_path.clear();  // it dies mid-stream: nothing to check there

  pid_t target = fork_incoming(target_config, dir.file("target.report"));
  EXPECT_GT(target, 0);
  if (target <= 0) return "";
  e2e::QmpClient tq;
  EXPECT_EQ(tq.connect(target_config.qmp_path, 10s), "");
  wait_incoming_listening(tq);
  ::kill(target, SIGSTOP);  // the kernel still accepts the connection; nobody reads it

  std::string status;
  {
    FakeMachine vm(source_config, /*dirty_ram=*/true);
    EXPECT_TRUE(vm.ok()) << vm.error();
    if (!vm.ok()) return "";
    vm.start();
    e2e::QmpClient qmp;
    EXPECT_EQ(qmp.connect(source_config.qmp_path, 10s), "");
    EXPECT_TRUE(vm.vcpu(0).wait_runs(3));
    EXPECT_TRUE(qmp.execute("migrate", {{"uri", target_config.incoming}}).contains("return"));
    std::this_thread::sleep_for(300ms);
    std::string mid = e2e::str_field(qmp.execute("query-migrate")["return"], "status");
    EXPECT_TRUE(mid == "active" || mid == "device" || mid == "setup") << mid;
    end_it(target, qmp);
    nlohmann::json q = e2e::wait_migration_end(qmp, 20s);
    status = e2e::str_field(q, "status");
    if (status == "failed") {
      EXPECT_FALSE(e2e::str_field(q, "error-desc").empty()) << q.dump();
    }
    EXPECT_TRUE(e2e::wait_until(10s, [&] { return qmp.status() == "running"; })) << qmp.status();
    size_t runs = vm.vcpu(0).runs();
    EXPECT_TRUE(vm.vcpu(0).wait_runs(runs + 3)) << "the guest does not run after the migration";
    EXPECT_TRUE(qmp.ok("quit"));
    EXPECT_EQ(vm.wait(), 0);
  }
  ::kill(target, SIGKILL);
  ::waitpid(target, nullptr, 0);
  auto ev = e2e::load_trace(source_config.trace_path);
  EXPECT_GE(find_event(ev, 0, is(EventType::MigrationEvent, status)), 0)
      << "the " << status << " migration is not in the trace";
  e2e::expect_trace_checks_clean(dir, source_config.trace_path);
  return status;
}

TEST(MachineOnFakeHv, TargetKilledMidStreamTheSourceRunsOn) {
  EXPECT_EQ(stalled_migration([](pid_t target, e2e::QmpClient&) {
              ::kill(target, SIGKILL);
              ::waitpid(target, nullptr, 0);
            }),
            "failed");
}

TEST(MachineOnFakeHv, MigrateCancelMidStreamTheSourceRunsOn) {
  EXPECT_EQ(
      stalled_migration([](pid_t, e2e::QmpClient& qmp) { EXPECT_TRUE(qmp.ok("migrate_cancel")); }),
      "cancelled");
}

}  // namespace
}  // namespace rrvm::machine::testing
