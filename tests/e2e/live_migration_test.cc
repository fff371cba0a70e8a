// Live migration between two rrvm processes over a unix socket and over tcp on 127.0.0.1 while
// the guest (2 vCPUs, a disk, rng) dirties 8 MiB of RAM and writes a record to its disk every tick:
// precopy has to send those pages again while the guest runs; the target continues the guest with
// every page intact, the source ends in postmigrate. Both processes use the same image: the source
// gives up its lock at completion (QEMU's bdrv_inactivate_all), the target opened it unlocked and
// takes it after the load (bdrv_activate_all), and the image holds both sides' records in order.
// A target that dies mid-stream (or right after accepting) or cannot take the image leaves the
// source running, with its image and the failure reported by query-migrate.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/e2e/migration_support.h"
#include "vmm/base/fd.h"

namespace rrvm::e2e {
namespace {

using namespace std::chrono_literals;

// The URI the target says it listens on ("waiting for an incoming migration on URI"), which
// resolves a tcp port 0 to the real port; "" if it did not say so in time.
std::string wait_listening(const RrvmProcess& target) {
  static const std::regex LISTEN("waiting for an incoming migration on (\\S+)");
  std::smatch m;
  std::string err;
  wait_until(10s, [&] {
    err = target.err();
    return std::regex_search(err, m, LISTEN);
  });
  return m.empty() ? "" : m[1].str();
}

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

// Complete lines starting with `prefix` and containing `part`.
size_t count_lines_with(const std::string& text, const std::string& prefix,
                        const std::string& part) {
  size_t n = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) == 0 && line.find(part) != std::string::npos) ++n;
  }
  return n;
}

struct Source {
  explicit Source(const TempDir& dir,
                  const std::vector<std::string>& guest = {"--append", "tick_ms=50"})
      : files(vm_files(dir, "source")), vm(dir, "source", vm_args(files, guest)) {}
  VmFiles files;
  RrvmProcess vm;
  QmpClient qmp;
};

void live_migrate(const std::string& listen_uri) {
  TempDir dir;
  const std::string disk = make_tick_disk(dir);
  const std::vector<std::string> guest = busy_guest_args(disk);
  Source src(dir, guest);
  ASSERT_EQ(src.qmp.connect(src.files.qmp, 10s), "") << src.vm.describe();
  ASSERT_GE(wait_ticks(src.files.console, 2, 20s).size(), 2u) << read_file(src.files.console);

  VmFiles tf = vm_files(dir, "target");
  std::vector<std::string> target_args = {"--incoming", listen_uri};
  target_args.insert(target_args.end(), guest.begin(), guest.end());
  RrvmProcess target(dir, "target", vm_args(tf, target_args));
  std::string uri = wait_listening(target);
  ASSERT_FALSE(uri.empty()) << target.describe();
  nlohmann::json q = migrate_iterating(src.qmp, uri);
  ASSERT_EQ(str_field(q, "status"), "completed") << q.dump();
  EXPECT_GT(q.value(nlohmann::json::json_pointer("/ram/transferred"), int64_t{0}), 0) << q.dump();
  EXPECT_GE(q.value(nlohmann::json::json_pointer("/ram/dirty-sync-count"), int64_t{0}), 3)
      << q.dump();
  EXPECT_EQ(src.qmp.status(), "postmigrate");
  std::string source_console = read_file(src.files.console);

  auto ticks = wait_ticks(tf.console, 2, 20s);
  ASSERT_GE(ticks.size(), 2u) << read_file(tf.console) << target.describe();
  EXPECT_TRUE(is_continuation(source_console, ticks.front().n))
      << "source ended at tick " << parse_ticks(source_console).back().n << ", target began at "
      << ticks.front().n;
  EXPECT_GT(ticks.front().kvmclock_ns, parse_ticks(source_console).back().kvmclock_ns);
  EXPECT_EQ(read_file(src.files.console), source_console) << "the source ran after migrating";

  QmpClient tq;
  ASSERT_EQ(tq.connect(tf.qmp, 10s), "");
  EXPECT_EQ(tq.status(), "running");
  EXPECT_TRUE(tq.ok("quit"));
  EXPECT_TRUE(src.qmp.ok("quit"));
  ASSERT_EQ(target.wait(20s), 0) << target.describe();
  ASSERT_EQ(src.vm.wait(20s), 0) << src.vm.describe();
  // The guest's own checks passed on the target (it would have exited with status 4 or 11), and
  // it went on dirtying its RAM there.
  std::string target_console = read_file(tf.console);
  auto source_work = parse_tick_work(source_console);
  auto target_work = parse_tick_work(target_console);
  ASSERT_FALSE(source_work.empty()) << source_console;
  ASSERT_FALSE(target_work.empty()) << target_console;
  EXPECT_GT(target_work.front(), source_work.back());
  expect_dirty_ram_verified(target_console, source_work.back());
  // The disk: the source's records up to its last tick, then the target's, each read back by the
  // guest (disk=ok) on the side that wrote it.
  expect_tick_records(disk, target_work.back(), source_work.back(),
                      first_tick_after_stop(target_console));
  EXPECT_EQ(count_lines_with(target_console, "tick-work ", " disk=ok"), target_work.size())
      << target_console;

  auto source_events = load_trace(src.files.trace);
  // Passes between the first and the one in the downtime re-sent the working set the guest kept
  // dirtying while it ran.
  auto pages = iteration_pages(source_events);
  ASSERT_GE(pages.size(), 3u);
  EXPECT_GE(*std::max_element(pages.begin() + 1, pages.end() - 1), DIRTY_PAGES)
      << "no precopy pass re-sent the dirtied working set";
  expect_source_completion_sequence(source_events);
  auto target_events = load_trace(tf.trace);
  expect_target_load_sequence(target_events);
  expect_disk_handover(source_events, &target_events);
}

TEST(E2eLiveMigration, OverUnixSocket) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;  // only for a short socket path the target creates
  live_migrate("unix:" + dir.file("mig.sock"));
}

TEST(E2eLiveMigration, OverTcpLoopback) {
  RRVM_E2E_REQUIRE_KVM();
  live_migrate("tcp:127.0.0.1:0");
}

// A migration slowed to 4 KB/s lasts over a second: both rrvm processes show progress on their
// stderr (plain lines: stderr is a file here), each with how it ended. Lifting the limit lets it
// converge.
TEST(E2eLiveMigration, SlowTransferShowsProgressOnBothSides) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  Source src(dir);
  ASSERT_EQ(src.qmp.connect(src.files.qmp, 10s), "") << src.vm.describe();
  ASSERT_GE(wait_ticks(src.files.console, 2, 20s).size(), 2u) << read_file(src.files.console);
  VmFiles tf = vm_files(dir, "target");
  RrvmProcess target(dir, "target", vm_args(tf, {"--incoming", "unix:" + dir.file("mig.sock")}));
  std::string uri = wait_listening(target);
  ASSERT_FALSE(uri.empty()) << target.describe();

  // Slow enough that even the first pass (~30 KiB) outlasts a second: the pass after the stop
  // is not rate limited, so a rate that only delays later passes would end too soon.
  ASSERT_TRUE(src.qmp.ok("migrate-set-parameters", {{"max-bandwidth", 4000}}));
  ASSERT_TRUE(src.qmp.ok("migrate", {{"uri", uri}}));
  EXPECT_TRUE(wait_until(20s,
                         [&] {
                           return contains(src.vm.err(), "rrvm run: active, pass ") &&
                                  contains(target.err(), "rrvm run: active, pass ");
                         }))
      << src.vm.describe() << target.describe();
  EXPECT_TRUE(contains(src.vm.err(), " sent, ")) << src.vm.err();
  EXPECT_TRUE(contains(target.err(), " received, ")) << target.err();
  EXPECT_FALSE(contains(src.vm.err() + target.err(), "\r")) << "an updating line in a log";

  ASSERT_TRUE(src.qmp.ok("migrate-set-parameters", {{"max-bandwidth", 0}}));
  nlohmann::json q;
  wait_until(30s, [&] {
    q = src.qmp.execute("query-migrate");
    std::string status = str_field(q["return"], "status");
    return status != "setup" && status != "active";
  });
  ASSERT_EQ(str_field(q["return"], "status"), "completed") << q.dump();
  EXPECT_TRUE(wait_until(10s,
                         [&] {
                           return contains(src.vm.err(), "rrvm run: completed, pass ") &&
                                  contains(target.err(), "rrvm run: completed, pass ");
                         }))
      << src.vm.describe() << target.describe();
  ASSERT_GE(wait_ticks(tf.console, 2, 20s).size(), 2u) << read_file(tf.console);

  QmpClient tq;
  ASSERT_EQ(tq.connect(tf.qmp, 10s), "");
  EXPECT_TRUE(tq.ok("quit"));
  EXPECT_TRUE(src.qmp.ok("quit"));
  EXPECT_EQ(target.wait(20s), 0) << target.describe();
  EXPECT_EQ(src.vm.wait(20s), 0) << src.vm.describe();
}

// After a failed migration: query-migrate says failed with a reason, the source runs again and
// its guest goes on ticking.
// With a disk, the source has its image back too: the guest's tick work still writes, flushes
// and reads back its records (more `disk=ok` lines, none failing).
void expect_disk_work_goes_on(const std::string& console_path) {
  size_t before = count_lines_with(read_file(console_path), "tick-work ", " disk=ok");
  EXPECT_TRUE(wait_until(10s, [&] {
    return count_lines_with(read_file(console_path), "tick-work ", " disk=ok") >= before + 2;
  })) << "the guest's disk work stopped after the failed migration";
  std::string console = read_file(console_path);
  EXPECT_EQ(count_lines_with(console, "tick-work ", " disk="),
            count_lines_with(console, "tick-work ", " disk=ok"))
      << console;
}

void expect_source_recovered(Source& src, bool disk = false) {
  nlohmann::json q;
  wait_until(20s, [&] {
    q = src.qmp.execute("query-migrate");
    return str_field(q["return"], "status") == "failed";
  });
  ASSERT_EQ(str_field(q["return"], "status"), "failed") << q.dump();
  EXPECT_FALSE(str_field(q["return"], "error-desc").empty()) << q.dump();
  EXPECT_TRUE(wait_until(10s, [&] { return src.qmp.status() == "running"; }));
  size_t seen = parse_ticks(read_file(src.files.console)).size();
  EXPECT_GT(wait_ticks(src.files.console, seen + 2, 10s).size(), seen + 1)
      << "the guest does not tick after the failed migration";
  if (disk) expect_disk_work_goes_on(src.files.console);
  EXPECT_TRUE(src.qmp.ok("quit"));
  ASSERT_EQ(src.vm.wait(20s), 0) << src.vm.describe();
  auto ev = load_trace(src.files.trace);
  long failed = core::testing::find_event(
      ev, 0, core::testing::is(trace::EventType::MigrationEvent, "failed"));
  EXPECT_GE(failed, 0) << "the failure is recorded in the trace";
}

TEST(E2eLiveMigration, TargetKilledMidStreamSourceResumes) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  const std::string disk = make_tick_disk(dir);
  Source src(dir, busy_guest_args(disk));
  ASSERT_EQ(src.qmp.connect(src.files.qmp, 10s), "") << src.vm.describe();
  ASSERT_GE(wait_ticks(src.files.console, 2, 20s).size(), 2u);
  VmFiles tf = vm_files(dir, "target");
  RrvmProcess target(dir, "target", vm_args(tf, {"--incoming", "unix:" + dir.file("mig.sock")}));
  std::string uri = wait_listening(target);
  ASSERT_FALSE(uri.empty()) << target.describe();
  // A stopped target still completes the connection (the kernel accepts into the backlog) but
  // never reads or acknowledges: the source is left mid-stream until the target dies.
  ::kill(target.pid(), SIGSTOP);
  ASSERT_TRUE(src.qmp.execute("migrate", {{"uri", uri}}).contains("return"));
  std::this_thread::sleep_for(500ms);
  nlohmann::json q = src.qmp.execute("query-migrate");
  std::string mid = str_field(q["return"], "status");
  EXPECT_TRUE(mid == "active" || mid == "device" || mid == "setup") << q.dump();
  target.signal(SIGKILL);
  ASSERT_TRUE(target.wait(10s).has_value());
  expect_source_recovered(src, true);
  EXPECT_TRUE(parse_ticks(read_file(tf.console)).empty()) << "the killed target ran the guest";
}

// A target that cannot take its disk image after the load (another process holds it) refuses the
// migration naming the image and exits as for any failed load; the source, which gave its image
// up before its End record, takes it back and its guest goes on writing to it.
TEST(E2eLiveMigration, TargetThatCannotLockItsDiskRefusesAndTheSourceTakesItsBack) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  const std::string disk = make_tick_disk(dir);
  Source src(dir, busy_guest_args(disk));
  ASSERT_EQ(src.qmp.connect(src.files.qmp, 10s), "") << src.vm.describe();
  ASSERT_GE(wait_ticks(src.files.console, 2, 20s).size(), 2u) << read_file(src.files.console);
  // The target's image (same size) is locked by this test, as by another VM.
  const std::string other = dir.file("other.img");
  ASSERT_TRUE(std::filesystem::copy_file(disk, other));
  Fd held(::open(other.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(held.valid()) << std::strerror(errno);
  ASSERT_EQ(::flock(held.get(), LOCK_EX | LOCK_NB), 0) << std::strerror(errno);

  VmFiles tf = vm_files(dir, "target");
  std::vector<std::string> target_args = {"--incoming", "unix:" + dir.file("mig.sock")};
  for (const std::string& a : busy_guest_args(other)) target_args.push_back(a);
  RrvmProcess target(dir, "target", vm_args(tf, target_args));
  std::string uri = wait_listening(target);
  ASSERT_FALSE(uri.empty()) << target.describe();
  nlohmann::json q = migrate_and_wait(src.qmp, uri, 30s);
  EXPECT_EQ(str_field(q, "status"), "failed") << q.dump();
  std::string why = str_field(q, "error-desc");
  EXPECT_NE(why.find("the migration target refused the stream"), std::string::npos) << why;
  EXPECT_NE(why.find(other), std::string::npos) << why;
  auto status = target.wait(20s);
  ASSERT_TRUE(status.has_value()) << target.describe();
  EXPECT_EQ(*status, 1) << target.describe();
  EXPECT_NE(target.err().find("lock disk image " + other), std::string::npos) << target.err();
  EXPECT_TRUE(parse_ticks(read_file(tf.console)).empty()) << "the refusing target ran the guest";

  EXPECT_TRUE(wait_until(10s, [&] { return src.qmp.status() == "running"; }));
  expect_disk_work_goes_on(src.files.console);
  EXPECT_TRUE(src.qmp.ok("quit"));
  ASSERT_EQ(src.vm.wait(20s), 0) << src.vm.describe();
  // Released before End, taken back before the VM ran again.
  auto ev = load_trace(src.files.trace);
  long released = core::testing::find_event(
      ev, 0, core::testing::is(trace::EventType::DeviceBackend, "lock released"));
  long taken = core::testing::find_event(
      ev, released, core::testing::is(trace::EventType::DeviceBackend, "lock taken"));
  long resumed = core::testing::find_event(
      ev, released, core::testing::is(trace::EventType::RunStateChange, "-> running"));
  ASSERT_GE(released, 0);
  EXPECT_TRUE(taken > released && taken < resumed) << released << " " << taken << " " << resumed;
}

TEST(E2eLiveMigration, TargetGoneRightAfterAcceptSourceResumes) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  Source src(dir);
  ASSERT_EQ(src.qmp.connect(src.files.qmp, 10s), "") << src.vm.describe();
  ASSERT_GE(wait_ticks(src.files.console, 2, 20s).size(), 2u);
  // A stand-in target that accepts the connection and dies at once (closes it unread).
  std::string path = dir.file("mig.sock");
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0)
      << std::strerror(errno);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_TRUE(src.qmp.execute("migrate", {{"uri", "unix:" + path}}).contains("return"));
  int conn = ::accept(listener, nullptr, nullptr);
  ASSERT_GE(conn, 0) << std::strerror(errno);
  ::close(conn);
  ::close(listener);
  expect_source_recovered(src);
}

}  // namespace
}  // namespace rrvm::e2e
