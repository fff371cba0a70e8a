// `rrvm snapshot SOCK FILE` and `rrvm restore FILE`: the CLI conveniences over QMP migrate and
// `rrvm run --incoming file:`. A ticking guest saved with one and restored with the other goes on
// counting; progress shows on stderr for slow saves; Ctrl-C cancels a save and the VM runs on;
// bad sockets, foreign monitors and missing or corrupt files give errors naming them.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/e2e/fake_qmp_server.h"
#include "tests/e2e/migration_support.h"

namespace rrvm::e2e {
namespace {

using namespace std::chrono_literals;

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// A ticking rrvm with QMP, its files in `dir` under `name`.
struct TickingVm {
  TickingVm(const TempDir& dir, const std::string& name)
      : files(vm_files(dir, name)), vm(dir, name, vm_args(files, {"--append", "tick_ms=50"})) {}
  VmFiles files;
  RrvmProcess vm;
  QmpClient qmp;
};

void start_ticking(TickingVm& t) {
  ASSERT_EQ(t.qmp.connect(t.files.qmp, 10s), "") << t.vm.describe();
  ASSERT_GE(wait_ticks(t.files.console, 3, 20s).size(), 3u) << read_file(t.files.console);
}

TEST(E2eCliSnapshot, SnapshotThenRestoreContinuesTheTick) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  TickingVm source(dir, "source");
  ASSERT_NO_FATAL_FAILURE(start_ticking(source));
  std::string snap = dir.file("vm.snap");
  RunResult saved = run_rrvm(dir, "snapshot", {"snapshot", "--quit", source.files.qmp, snap});
  ASSERT_EQ(saved.status, 0) << saved.err;
  EXPECT_TRUE(contains(saved.err, "rrvm snapshot: saved " + snap + ": ")) << saved.err;
  EXPECT_TRUE(contains(saved.err, "downtime")) << saved.err;
  // --quit ended the source (status 0: a QMP quit), with the VM stopped since the save.
  ASSERT_EQ(source.vm.wait(20s), 0) << source.vm.describe();
  std::string source_console = read_file(source.files.console);
  ASSERT_FALSE(parse_ticks(source_console).empty());

  VmFiles f = vm_files(dir, "target");
  RrvmProcess target(dir, "target",
                     {"restore", snap, "--trace", f.trace, "--qmp", f.qmp, "--serial", f.console});
  QmpClient qmp;
  ASSERT_EQ(qmp.connect(f.qmp, 10s), "") << target.describe();
  std::vector<Tick> ticks = wait_ticks(f.console, 3, 20s);
  ASSERT_GE(ticks.size(), 3u) << read_file(f.console) << target.describe();
  EXPECT_TRUE(is_continuation(source_console, ticks.front().n))
      << "source's last tick " << parse_ticks(source_console).back().n << ", restored first "
      << ticks.front().n;
  EXPECT_EQ(ticks[1].n, ticks[0].n + 1);
  EXPECT_EQ(qmp.status(), "running");
  // A save and a restore this short show no progress lines.
  EXPECT_FALSE(contains(saved.err, "rrvm snapshot: active")) << saved.err;
  EXPECT_FALSE(contains(source.vm.err(), "rrvm run: active")) << source.vm.err();
  EXPECT_FALSE(contains(target.err(), "rrvm restore: active")) << target.err();
  EXPECT_TRUE(qmp.ok("quit"));
  ASSERT_EQ(target.wait(20s), 0) << target.describe();
  expect_target_load_sequence(load_trace(f.trace));
}

// A save slowed to ~10 KB/s lasts over a second: progress lines on the stderr of both the
// command and the VM (plain lines, since stderr is a file here), the VM runs on with --resume,
// and max-bandwidth is put back.
TEST(E2eCliSnapshot, SlowSaveShowsProgressAndResumes) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  TickingVm source(dir, "source");
  ASSERT_NO_FATAL_FAILURE(start_ticking(source));
  std::string snap = dir.file("vm.snap");
  RunResult saved = run_rrvm(
      dir, "snapshot", {"snapshot", "--resume", "--max-bandwidth", "10K", source.files.qmp, snap});
  ASSERT_EQ(saved.status, 0) << saved.err;
  EXPECT_TRUE(contains(saved.err, "rrvm snapshot: active, pass 1, ")) << saved.err;
  EXPECT_TRUE(contains(saved.err, " sent, ")) << saved.err;
  EXPECT_FALSE(contains(saved.err, "\r")) << "an updating line without a terminal";
  EXPECT_TRUE(contains(saved.err, "rrvm snapshot: saved " + snap)) << saved.err;
  EXPECT_TRUE(std::filesystem::exists(snap));
  // The VM saving itself shows the same progress on its own stderr, and how the save ended.
  EXPECT_TRUE(contains(source.vm.err(), "rrvm run: active, pass 1, ")) << source.vm.err();
  EXPECT_TRUE(wait_until(5s, [&] { return contains(source.vm.err(), "rrvm run: completed, "); }))
      << source.vm.err();
  EXPECT_EQ(source.qmp.status(), "running");
  size_t before = parse_ticks(read_file(source.files.console)).size();
  EXPECT_GT(wait_ticks(source.files.console, before + 2, 10s).size(), before + 1)
      << "the guest does not tick after --resume";
  nlohmann::json params = source.qmp.execute("query-migrate-parameters");
  EXPECT_EQ(params["return"]["max-bandwidth"], 0) << params.dump();
  EXPECT_TRUE(source.qmp.ok("quit"));
  EXPECT_EQ(source.vm.wait(20s), 0) << source.vm.describe();
}

// SIGINT during a slow save cancels it: non-zero exit naming the cancellation, no file, and the
// VM back to running.
TEST(E2eCliSnapshot, InterruptCancelsTheSave) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  TickingVm source(dir, "source");
  ASSERT_NO_FATAL_FAILURE(start_ticking(source));
  std::string snap = dir.file("vm.snap");
  RrvmProcess save(dir, "snapshot", {"snapshot", "--max-bandwidth", "1K", source.files.qmp, snap});
  ASSERT_TRUE(wait_until(10s, [&] { return contains(save.err(), "rrvm snapshot: active"); }))
      << save.describe();
  save.signal(SIGINT);
  ASSERT_EQ(save.wait(20s), 1) << save.describe();
  EXPECT_TRUE(contains(save.err(), "cancelling the save")) << save.err();
  EXPECT_TRUE(contains(save.err(), "saving to " + snap + " cancelled")) << save.err();
  EXPECT_FALSE(std::filesystem::exists(snap));
  EXPECT_EQ(source.qmp.status(), "running");
  EXPECT_TRUE(source.qmp.ok("quit"));
  EXPECT_EQ(source.vm.wait(20s), 0) << source.vm.describe();
}

// Listens on a unix socket and, for one client, writes `greeting` and waits for it to hang up.
class FakeMonitor {
 public:
  FakeMonitor(const std::string& path, std::string greeting)
      : server_(path, [greeting = std::move(greeting)](e2e::FakeQmpPeer& peer) {
          peer.send(greeting);
          peer.wait_for_hangup();
        }) {}

 private:
  e2e::FakeQmpServer server_;
};

// No KVM needed: the CLI refuses before any VM is involved.
TEST(E2eCliSnapshot, BadSocketsAreNamed) {
  TempDir dir;
  std::string snap = dir.file("vm.snap");
  std::string missing = dir.file("missing.sock");
  RunResult r = run_rrvm(dir, "missing", {"snapshot", missing, snap});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, "QMP socket " + missing + ": No such file or directory")) << r.err;

  std::string plain = dir.file("plain");
  std::ofstream(plain) << "not a socket\n";
  r = run_rrvm(dir, "plain", {"snapshot", plain, snap});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, plain + " is not a unix socket")) << r.err;

  std::string junk = dir.file("junk.sock");
  {
    FakeMonitor monitor(junk, "SSH-2.0-OpenSSH_9.2\r\n");
    r = run_rrvm(dir, "junk", {"snapshot", junk, snap});
  }
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, junk + " is not a QMP monitor (no QMP greeting)")) << r.err;
  EXPECT_TRUE(contains(r.err, "SSH-2.0")) << r.err;

  std::string qemu = dir.file("qemu.sock");
  {
    FakeMonitor monitor(qemu,
                        R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, )"
                        R"("package": "Debian 1:7.2+dfsg-7"}, "capabilities": ["oob"]}})"
                        "\r\n");
    r = run_rrvm(dir, "qemu", {"snapshot", qemu, snap});
  }
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, qemu + " is a QMP monitor but not rrvm's")) << r.err;
  EXPECT_TRUE(contains(r.err, "Debian 1:7.2")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(snap));
}

TEST(E2eCliSnapshot, RestoreOfMissingFileNamesIt) {
  TempDir dir;
  std::string missing = dir.file("missing.snap");
  RunResult r = run_rrvm(dir, "restore", {"restore", "--no-trace", missing});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(
      r.err, "rrvm restore: cannot open the snapshot " + missing + ": No such file or directory"))
      << r.err;
  r = run_rrvm(dir, "restore-dir", {"restore", "--no-trace", dir.path()});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_TRUE(contains(r.err, dir.path() + " is not a regular file")) << r.err;
}

// A file that is not a snapshot, and a real one cut short: refused with the file named, status
// 1, and no vCPU ran (nothing on the console).
TEST(E2eCliSnapshot, RestoreOfCorruptFileNamesIt) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  TickingVm source(dir, "source");
  ASSERT_NO_FATAL_FAILURE(start_ticking(source));
  std::string snap = dir.file("vm.snap");
  RunResult saved = run_rrvm(dir, "snapshot", {"snapshot", "--quit", source.files.qmp, snap});
  ASSERT_EQ(saved.status, 0) << saved.err;
  ASSERT_EQ(source.vm.wait(20s), 0) << source.vm.describe();
  std::string bytes = read_file(snap);
  ASSERT_GT(bytes.size(), 4096u);

  std::string truncated = dir.file("truncated.snap");
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  std::string text = dir.file("text.snap");
  std::ofstream(text) << "this is not a snapshot, but it is long enough to hold a preamble\n";
  for (const auto& [file, why] : {std::pair{truncated, "truncated"}, std::pair{text, "preamble"}}) {
    SCOPED_TRACE(file);
    std::string console = file + ".console";
    RunResult r = run_rrvm(dir, "restore", {"restore", "--no-trace", "--serial", console, file});
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_TRUE(contains(r.err, "snapshot " + file + ": ")) << r.err;
    EXPECT_TRUE(contains(r.err, why)) << r.err;
    EXPECT_EQ(read_file(console), "") << "a vCPU ran";
  }
}

}  // namespace
}  // namespace rrvm::e2e
