// Live migration between two FakeMigratables over unix and tcp sockets while a writer thread keeps
// dirtying guest RAM, plus what happens when the target disappears, refuses, or the user cancels.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "tests/migration/migration_test_util.h"
#include "vmm/migration/stream_reader.h"

namespace rrvm::migration {
namespace {

using test::contains;
using test::FakeMigratable;
using test::in_order;
using test::TempDir;
using trace::RunState;

FakeMigratable::Options live_options() {
  FakeMigratable::Options o;
  o.memory_bytes = 64ull << 20;
  o.hole_start = 48ull << 20;
  return o;
}

// Runs a live migration to a real target listening on `listen_uri` while the source's writer
// dirties a 16 MiB working set; checks convergence and that both sides end identical.
void migrate_live(const std::string& listen_uri) {
  auto options = live_options();
  auto source = test::make_vm(options);
  source->fill_random(0, 4096, 11);  // 16 MiB of data for the first pass
  auto target = test::make_target_for(options);
  MigrationManager incoming(*target);
  ASSERT_TRUE(incoming.start_incoming(listen_uri).ok());

  // The rate limit (16 pages per ms) stretches the first pass to ~250 ms, so the writer (up to 8
  // pages per ms) leaves far more dirty pages than 20 ms allow: more passes must run, each
  // shorter than the one before, until the rest fits the limit.
  MigrationParameters params;
  params.max_bandwidth = 64ull << 20;
  params.downtime_limit_ms = 20;
  source->start_writer(0, 4096, 8, 99);
  std::vector<MigrationStatus> events;
  std::mutex events_mu;
  MigrationManager outgoing(*source, [&](const MigrationStats& s) {
    std::lock_guard lock(events_mu);
    events.push_back(s.status);
  });
  ASSERT_TRUE(outgoing.set_parameters(params).ok());
  ASSERT_TRUE(outgoing.start(incoming.incoming_uri()).ok());
  MigrationStats out = outgoing.wait();
  MigrationStats in = incoming.wait();
  ASSERT_EQ(out.status, MigrationStatus::Completed) << out.error;
  ASSERT_EQ(in.status, MigrationStatus::Completed) << in.error;
  EXPECT_GT(source->pages_written(), 0u);

  // First pass, at least one dirty pass, and the final pass with the VM stopped.
  EXPECT_GE(out.iterations, 3u) << "writes during the first pass: " << source->pages_written()
                                << ", expected downtime " << out.expected_downtime_ms
                                << " ms, total " << out.total_time_ms << " ms";
  EXPECT_EQ(in.iterations, out.iterations);
  EXPECT_LE(out.expected_downtime_ms, params.downtime_limit_ms) << "completed before converging";
  EXPECT_LT(out.downtime_ms, 2000u);
  EXPECT_EQ(events.front(), MigrationStatus::Setup);
  EXPECT_EQ(events.back(), MigrationStatus::Completed);

  // The writer stopped at vm_stop: the last image of the source is what the target holds.
  EXPECT_EQ(source->run_state(), RunState::PostMigrate);
  EXPECT_EQ(target->run_state(), RunState::Running);
  source->stop_writer();
  EXPECT_TRUE(target->ram_image() == source->ram_image()) << "RAM differs after live migration";
  EXPECT_EQ(target->section_data("kvmclock"), source->section_data("kvmclock"));
}

TEST(LiveMigration, UnixSocketWithDirtyingWriter) {
  TempDir dir;
  migrate_live("unix:" + dir.file("m.sock"));
}

TEST(LiveMigration, TcpLoopbackWithDirtyingWriter) { migrate_live("tcp:127.0.0.1:0"); }

// A "target" that accepts the connection, reads `bytes` bytes (or to the End record when 0) and
// then closes it, like a target process killed mid-stream.
std::future<void> vanishing_target(std::unique_ptr<Listener> listener, uint64_t bytes) {
  return std::async(std::launch::async, [listener = std::move(listener), bytes] {
    auto channel = listener->accept();
    RRVM_CHECK(channel.ok());
    if (bytes > 0) {
      std::vector<uint8_t> sink(bytes);
      (void)(*channel)->read_exact(sink);
      return;
    }
    StreamReader reader(**channel, "vanishing target");
    RRVM_CHECK(reader.read_preamble().ok());
    while (true) {
      auto record = reader.next();
      RRVM_CHECK(record.ok());
      if (record->kind == RecordKind::End) return;  // closes without acknowledging
    }
  });
}

TEST(LiveMigration, TargetGoneDuringTheFirstPass) {
  TempDir dir;
  auto source = test::make_vm(live_options());
  source->fill_random(0, 4096, 3);
  auto listener = listen_incoming_channel("unix:" + dir.file("m.sock"));
  ASSERT_TRUE(listener.ok());
  std::string uri = (*listener)->uri();
  auto target = vanishing_target(std::move(listener).value(), 1 << 20);
  MigrationStats out = test::migrate_out(*source, uri);
  target.get();
  ASSERT_EQ(out.status, MigrationStatus::Failed);
  EXPECT_TRUE(out.error.find("Broken pipe") != std::string::npos ||
              out.error.find("Connection reset") != std::string::npos)
      << out.error;
  EXPECT_EQ(source->run_state(), RunState::Running);
  EXPECT_FALSE(contains(source->calls(), "vm_stop_force_state finish-migrate"));
  EXPECT_TRUE(contains(source->calls(), "stop_dirty_log"));
}

TEST(LiveMigration, TargetGoneAfterTheLastByteResumesTheSource) {
  auto source = test::make_vm(live_options());
  source->fill_random(0, 64, 3);
  auto listener = listen_incoming_channel("tcp:127.0.0.1:0");
  ASSERT_TRUE(listener.ok());
  std::string uri = (*listener)->uri();
  auto target = vanishing_target(std::move(listener).value(), 0);
  MigrationStats out = test::migrate_out(*source, uri);
  target.get();
  ASSERT_EQ(out.status, MigrationStatus::Failed);
  EXPECT_NE(out.error.find("peer closed the connection"), std::string::npos) << out.error;
  // Stopped for completion, images given up before End, then taken back before running again:
  // the target never confirmed.
  EXPECT_TRUE(
      in_order(source->calls(), {"vm_stop_force_state finish-migrate", "save_section serial",
                                 "inactivate_disks", "activate_disks", "vm_start"}));
  EXPECT_EQ(source->run_state(), RunState::Running);
  EXPECT_TRUE(source->disks_active());
}

// A live target takes the images after the load and before its Ack; when it cannot, it refuses,
// and the source (which gave them up before End) takes them back and runs on.
TEST(LiveMigration, TargetThatCannotTakeTheDisksRefusesAndTheSourceTakesThemBack) {
  TempDir dir;
  auto options = live_options();
  auto source = test::make_vm(options);
  auto target = test::make_target_for(options);
  target->fail_activate_disks("virtio-blk0: lock disk image /tmp/d.img: Resource busy");
  MigrationManager incoming(*target);
  ASSERT_TRUE(incoming.start_incoming("unix:" + dir.file("m.sock")).ok());
  MigrationStats out = test::migrate_out(*source, incoming.incoming_uri());
  MigrationStats in = incoming.wait();
  ASSERT_EQ(in.status, MigrationStatus::Failed);
  ASSERT_EQ(out.status, MigrationStatus::Failed);
  EXPECT_NE(out.error.find("the migration target refused the stream"), std::string::npos)
      << out.error;
  EXPECT_NE(out.error.find("/tmp/d.img"), std::string::npos) << out.error;
  EXPECT_TRUE(in_order(target->calls(), {"cpu_synchronize_all_post_init", "activate_disks"}));
  EXPECT_FALSE(contains(target->calls(), "vm_start"));
  EXPECT_TRUE(in_order(source->calls(), {"inactivate_disks", "activate_disks", "vm_start"}));
  EXPECT_EQ(source->run_state(), RunState::Running);
  EXPECT_TRUE(source->disks_active());
}

// QEMU refuses to run a VM whose images it could not take back: after a failed completion the
// source then stays paused, says why, and does not start.
TEST(LiveMigration, SourceThatCannotTakeItsDisksBackStaysPaused) {
  auto source = test::make_vm(live_options());
  source->fill_random(0, 64, 3);
  source->fail_activate_disks("virtio-blk0: lock disk image /tmp/d.img: Resource busy");
  auto listener = listen_incoming_channel("tcp:127.0.0.1:0");
  ASSERT_TRUE(listener.ok());
  std::string uri = (*listener)->uri();
  auto target = vanishing_target(std::move(listener).value(), 0);
  MigrationStats out = test::migrate_out(*source, uri);
  target.get();
  ASSERT_EQ(out.status, MigrationStatus::Failed);
  EXPECT_NE(out.error.find("peer closed the connection"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("the VM stays paused"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("/tmp/d.img"), std::string::npos) << out.error;
  EXPECT_EQ(source->run_state(), RunState::Paused);
  EXPECT_FALSE(contains(source->calls(), "vm_start"));
  EXPECT_FALSE(source->disks_active());
}

TEST(LiveMigration, TargetRefusalIsReportedToTheSource) {
  TempDir dir;
  auto options = live_options();
  auto source = test::make_vm(options);
  auto target = test::make_target_for(options);
  target->fail_load("kvmclock", "kvmclock state is not valid");
  MigrationManager incoming(*target);
  ASSERT_TRUE(incoming.start_incoming("unix:" + dir.file("m.sock")).ok());
  MigrationStats out = test::migrate_out(*source, incoming.incoming_uri());
  MigrationStats in = incoming.wait();
  ASSERT_EQ(in.status, MigrationStatus::Failed);
  ASSERT_EQ(out.status, MigrationStatus::Failed);
  EXPECT_NE(out.error.find("the migration target refused the stream"), std::string::npos)
      << out.error;
  EXPECT_NE(out.error.find("kvmclock state is not valid"), std::string::npos) << out.error;
  EXPECT_EQ(source->run_state(), RunState::Running);
  EXPECT_EQ(target->run_state(), RunState::InMigrate);
}

TEST(LiveMigration, TargetOfAnotherShapeTellsTheSourceWhy) {
  TempDir dir;
  auto options = live_options();
  auto source = test::make_vm(options);
  source->fill_random(0, 8192, 4);  // more than the socket buffers hold: the source is writing
  FakeMigratable::Options other = options;
  other.vcpus = 4;
  auto target = test::make_target_for(other);
  MigrationManager incoming(*target);
  ASSERT_TRUE(incoming.start_incoming("tcp:127.0.0.1:0").ok());
  MigrationStats out = test::migrate_out(*source, incoming.incoming_uri());
  EXPECT_EQ(incoming.wait().status, MigrationStatus::Failed);
  ASSERT_EQ(out.status, MigrationStatus::Failed);
  EXPECT_NE(out.error.find("the migration target refused the stream"), std::string::npos)
      << out.error;
  EXPECT_NE(out.error.find("the stream's VM has 2 vCPUs, this VM has 4"), std::string::npos)
      << out.error;
  EXPECT_EQ(source->run_state(), RunState::Running);
}

TEST(LiveMigration, CancelResumesTheSourceAndFailsTheTarget) {
  TempDir dir;
  auto options = live_options();
  auto source = test::make_vm(options);
  source->fill_random(0, 8192, 5);
  auto target = test::make_target_for(options);
  MigrationManager incoming(*target);
  ASSERT_TRUE(incoming.start_incoming("unix:" + dir.file("m.sock")).ok());
  MigrationManager outgoing(*source);
  MigrationParameters slow;
  slow.max_bandwidth = 2 << 20;  // 32 MiB would take 16 s
  ASSERT_TRUE(outgoing.set_parameters(slow).ok());
  ASSERT_TRUE(outgoing.start(incoming.incoming_uri()).ok());
  while (outgoing.query().ram_transferred < (256 << 10))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto t0 = std::chrono::steady_clock::now();
  outgoing.cancel();
  MigrationStats out = outgoing.wait();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(out.status, MigrationStatus::Cancelled);
  EXPECT_NE(out.error.find("cancelled"), std::string::npos) << out.error;
  EXPECT_EQ(source->run_state(), RunState::Running);
  MigrationStats in = incoming.wait();
  EXPECT_EQ(in.status, MigrationStatus::Failed);
  EXPECT_EQ(target->run_state(), RunState::InMigrate);
}

// A rate-limited source sends what it has written before it waits out the limit (the target
// holds every byte the source reports as sent), and a limit lifted with set_parameters applies
// within a slot instead of after the wait the old limit imposed.
TEST(LiveMigration, RateLimitSendsBeforeWaitingAndALiftedLimitAppliesAtOnce) {
  TempDir dir;
  auto options = live_options();
  auto source = test::make_vm(options);
  source->fill_random(0, 8, 7);  // one 32 KiB run: small enough to be buffered by the writer
  auto target = test::make_target_for(options);
  MigrationManager incoming(*target);
  ASSERT_TRUE(incoming.start_incoming("unix:" + dir.file("m.sock")).ok());
  MigrationManager outgoing(*source);
  MigrationParameters p;
  p.max_bandwidth = 4 << 10;  // the first run alone overshoots the limit by ~8 s
  ASSERT_TRUE(outgoing.set_parameters(p).ok());
  ASSERT_TRUE(outgoing.start(incoming.incoming_uri()).ok());
  uint64_t sent = 0;
  uint64_t received = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    sent = outgoing.query().ram_transferred;
    received = incoming.query().ram_transferred;
  } while (!(sent > (32u << 10) && received == sent) &&
           std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(sent > (32u << 10) && received == sent)
      << "sent " << sent << ", received " << received;
  ASSERT_EQ(outgoing.query().status, MigrationStatus::Active) << "the limit did not hold";

  auto t0 = std::chrono::steady_clock::now();
  p.max_bandwidth = 0;
  ASSERT_TRUE(outgoing.set_parameters(p).ok());
  EXPECT_EQ(outgoing.wait().status, MigrationStatus::Completed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3))
      << "the lifted limit still waited out the old one";
  EXPECT_EQ(incoming.wait().status, MigrationStatus::Completed);
  EXPECT_EQ(target->ram_image(), source->ram_image());
}

TEST(LiveMigration, CancelWhileWaitingForASource) {
  TempDir dir;
  auto target = test::make_target_for(live_options());
  MigrationManager incoming(*target);
  ASSERT_TRUE(incoming.start_incoming("unix:" + dir.file("m.sock")).ok());
  EXPECT_EQ(incoming.query().status, MigrationStatus::Setup);
  incoming.cancel();
  EXPECT_EQ(incoming.wait().status, MigrationStatus::Cancelled);
}

TEST(LiveMigration, QueryReportsProgressWhileActive) {
  TempDir dir;
  auto options = live_options();
  auto source = test::make_vm(options);
  source->fill_random(0, 4096, 5);
  auto target = test::make_target_for(options);
  MigrationManager incoming(*target);
  ASSERT_TRUE(incoming.start_incoming("unix:" + dir.file("m.sock")).ok());
  MigrationManager outgoing(*source);
  MigrationParameters p;
  p.max_bandwidth = 32ull << 20;  // ~0.5 s for 16 MiB
  ASSERT_TRUE(outgoing.set_parameters(p).ok());
  ASSERT_TRUE(outgoing.start(incoming.incoming_uri()).ok());
  MigrationStats mid;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    mid = outgoing.query();
  } while (mid.status != MigrationStatus::Completed && mid.ram_transferred < (4 << 20));
  ASSERT_EQ(mid.status, MigrationStatus::Active);
  EXPECT_EQ(mid.ram_total, options.memory_bytes);
  EXPECT_GT(mid.total_time_ms, 0u);
  EXPECT_GT(mid.pages_sent, 0u);
  EXPECT_GT(mid.bandwidth, 0u);
  EXPECT_EQ(outgoing.wait().status, MigrationStatus::Completed);
  EXPECT_EQ(incoming.wait().status, MigrationStatus::Completed);
  EXPECT_EQ(target->ram_image(), source->ram_image());
}

}  // namespace
}  // namespace rrvm::migration
