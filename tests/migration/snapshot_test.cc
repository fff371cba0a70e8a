// File snapshots end to end with FakeMigratable: save, restore, QEMU's call order, run states, and
// refusals of streams that do not fit the target VM.
#include <gtest/gtest.h>

#include "tests/migration/migration_test_util.h"

namespace rrvm::migration {
namespace {

using test::contains;
using test::FakeMigratable;
using test::in_order;
using test::TempDir;
using trace::RunState;

FakeMigratable::Options two_region_options() {
  FakeMigratable::Options o;
  o.memory_bytes = 40ull << 20;
  o.hole_start = 24ull << 20;  // region 0: 24 MiB at 0, region 1: 16 MiB at 4 GiB
  return o;
}

std::vector<uint8_t> binary_blob(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((i * 7 + seed) % 251 * (i % 3 != 0));
  return v;
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = two_region_options();
    source_ = test::make_vm(options_);
    source_->fill_random(0x10000, 300, 1);                  // region 0, across run boundaries
    source_->fill_random((4ull << 30) + (5 << 20), 40, 2);  // region 1
    ASSERT_TRUE(source_->memory().write_obj<uint64_t>(23ull << 20, 0x1122334455667788ull).ok());
    source_->set_section_data("cpu/0", binary_blob(5000, 1));
    source_->set_section_data("kvmclock", binary_blob(40, 2));
    source_->set_section_data("serial", {});  // an empty section is legal
  }
  FakeMigratable::Options options_;
  std::unique_ptr<FakeMigratable> source_;
  TempDir dir_;
};

TEST_F(SnapshotTest, RoundTripGivesIdenticalRamAndSections) {
  const std::string path = dir_.file("vm.snap");
  MigrationStats out = test::migrate_out(*source_, "file:" + path);
  ASSERT_EQ(out.status, MigrationStatus::Completed) << out.error;
  EXPECT_EQ(dir_.entries(), std::vector<std::string>{"vm.snap"});
  EXPECT_EQ(source_->run_state(), RunState::PostMigrate);
  EXPECT_EQ(out.pages_sent, 300u + 40u + 1u);
  EXPECT_EQ(out.iterations, 2u);  // the full pass and the final one with the VM stopped
  EXPECT_GT(out.stream_bytes, 0u);

  auto target = test::make_target_for(options_);
  MigrationStats in = test::restore_from(*target, path);
  ASSERT_EQ(in.status, MigrationStatus::Completed) << in.error;
  EXPECT_TRUE(in.incoming);
  EXPECT_EQ(target->ram_image(), source_->ram_image());
  for (const SectionInfo& s : options_.sections) {
    EXPECT_EQ(target->section_data(s.name), source_->section_data(s.name)) << s.name;
  }
  EXPECT_EQ(target->run_state(), RunState::Running);
  EXPECT_EQ(in.stream_bytes, out.stream_bytes);
}

TEST_F(SnapshotTest, SourceFollowsQemusCompletionOrder) {
  ASSERT_EQ(test::migrate_out(*source_, "file:" + dir_.file("vm.snap")).status,
            MigrationStatus::Completed);
  auto calls = source_->calls();
  EXPECT_TRUE(in_order(calls, {"start_dirty_log", "fetch_dirty_log 0", "fetch_dirty_log 1",
                               "vm_stop_force_state finish-migrate", "cpu_synchronize_all_states",
                               "fetch_dirty_log 0", "fetch_dirty_log 1", "save_section cpu/0",
                               "save_section cpu/1", "save_section kvmclock", "save_section serial",
                               "inactivate_disks", "stop_dirty_log", "set_run_state postmigrate"}))
      << ::testing::PrintToString(calls);
  EXPECT_FALSE(contains(calls, "vm_start"));
  // A snapshot to a file gives the images up too (QEMU does so for any migration): a restore can
  // take them while this VM sits in postmigrate.
  EXPECT_FALSE(source_->disks_active());
  EXPECT_FALSE(contains(calls, "activate_disks"));
}

TEST_F(SnapshotTest, TargetLoadsEverythingBeforeStarting) {
  const std::string path = dir_.file("vm.snap");
  ASSERT_EQ(test::migrate_out(*source_, "file:" + path).status, MigrationStatus::Completed);
  auto target = test::make_target_for(options_);
  ASSERT_EQ(test::restore_from(*target, path).status, MigrationStatus::Completed);
  EXPECT_EQ(target->calls(),
            (std::vector<std::string>{"set_run_state inmigrate", "load_section cpu/0 v1",
                                      "load_section cpu/1 v1", "load_section kvmclock v1",
                                      "load_section serial v1", "cpu_synchronize_all_post_init",
                                      "activate_disks", "vm_start"}));
  EXPECT_TRUE(target->disks_active());
}

// The target opened its images unlocked; one it cannot take after the load (another process holds
// it) refuses the snapshot, named in the error, and the VM never runs.
TEST_F(SnapshotTest, TargetThatCannotTakeItsDiskImagesIsRefused) {
  const std::string path = dir_.file("vm.snap");
  ASSERT_EQ(test::migrate_out(*source_, "file:" + path).status, MigrationStatus::Completed);
  auto target = test::make_target_for(options_);
  target->fail_activate_disks(
      "virtio-blk0: lock disk image /tmp/d.img (is another VM using it?): Resource temporarily "
      "unavailable (errno 11)");
  MigrationStats in = test::restore_from(*target, path);
  ASSERT_EQ(in.status, MigrationStatus::Failed);
  EXPECT_NE(in.error.find("taking the disk images after the load"), std::string::npos) << in.error;
  EXPECT_NE(in.error.find("/tmp/d.img"), std::string::npos) << in.error;
  EXPECT_EQ(target->run_state(), RunState::InMigrate);
  EXPECT_FALSE(contains(target->calls(), "vm_start"));
  EXPECT_FALSE(target->disks_active());
}

TEST_F(SnapshotTest, SnapshotOfAPausedVmRestoresPaused) {
  ASSERT_TRUE(source_->vm_stop_force_state(RunState::Paused, "test").ok());
  const std::string path = dir_.file("vm.snap");
  ASSERT_EQ(test::migrate_out(*source_, "file:" + path).status, MigrationStatus::Completed);
  EXPECT_EQ(source_->run_state(), RunState::PostMigrate);
  auto target = test::make_target_for(options_);
  ASSERT_EQ(test::restore_from(*target, path).status, MigrationStatus::Completed);
  EXPECT_EQ(target->run_state(), RunState::Paused);
  EXPECT_FALSE(contains(target->calls(), "vm_start"));
}

TEST_F(SnapshotTest, NoAutostartLeavesTheTargetPaused) {
  const std::string path = dir_.file("vm.snap");
  ASSERT_EQ(test::migrate_out(*source_, "file:" + path).status, MigrationStatus::Completed);
  auto target = test::make_target_for(options_);
  target->autostart_on = false;
  ASSERT_EQ(test::restore_from(*target, path).status, MigrationStatus::Completed);
  EXPECT_EQ(target->run_state(), RunState::Paused);
  EXPECT_FALSE(contains(target->calls(), "vm_start"));
}

TEST_F(SnapshotTest, SnapshotTakenAgainAfterRestoreIsTheSame) {
  const std::string first = dir_.file("a.snap");
  ASSERT_EQ(test::migrate_out(*source_, "file:" + first).status, MigrationStatus::Completed);
  auto target = test::make_target_for(options_);
  ASSERT_EQ(test::restore_from(*target, first).status, MigrationStatus::Completed);
  const std::string second = dir_.file("b.snap");
  ASSERT_EQ(test::migrate_out(*target, "file:" + second).status, MigrationStatus::Completed);
  auto again = test::make_target_for(options_);
  ASSERT_EQ(test::restore_from(*again, second).status, MigrationStatus::Completed);
  EXPECT_EQ(again->ram_image(), source_->ram_image());
  for (const SectionInfo& s : options_.sections)
    EXPECT_EQ(again->section_data(s.name), source_->section_data(s.name));
}

TEST_F(SnapshotTest, FailedSaveResumesTheVmAndLeavesNoFile) {
  source_->fail_save("kvmclock", "KVM_GET_CLOCK: Invalid argument");
  MigrationStats out = test::migrate_out(*source_, "file:" + dir_.file("vm.snap"));
  ASSERT_EQ(out.status, MigrationStatus::Failed);
  EXPECT_NE(out.error.find("section 'kvmclock'"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("KVM_GET_CLOCK"), std::string::npos) << out.error;
  EXPECT_EQ(source_->run_state(), RunState::Running);
  EXPECT_TRUE(in_order(source_->calls(), {"vm_stop_force_state finish-migrate",
                                          "save_section kvmclock", "stop_dirty_log", "vm_start"}));
  // The failure came before the images were given up: nothing to take back.
  EXPECT_FALSE(contains(source_->calls(), "inactivate_disks"));
  EXPECT_TRUE(source_->disks_active());
  EXPECT_TRUE(dir_.entries().empty()) << ::testing::PrintToString(dir_.entries());
}

TEST_F(SnapshotTest, FailedSaveOfAPausedVmPutsItsStateBack) {
  ASSERT_TRUE(source_->vm_stop_force_state(RunState::Paused, "test").ok());
  source_->fail_save("serial", "boom");
  ASSERT_EQ(test::migrate_out(*source_, "file:" + dir_.file("vm.snap")).status,
            MigrationStatus::Failed);
  EXPECT_EQ(source_->run_state(), RunState::Paused);
  EXPECT_FALSE(contains(source_->calls(), "vm_start"));
}

TEST_F(SnapshotTest, SectionLoadErrorRefusesTheSnapshotBeforeAnyVcpuRuns) {
  const std::string path = dir_.file("vm.snap");
  ASSERT_EQ(test::migrate_out(*source_, "file:" + path).status, MigrationStatus::Completed);
  auto target = test::make_target_for(options_);
  target->fail_load("cpu/1", "MSR 0x6e0 (IA32_TSC_DEADLINE) is not loadable");
  MigrationStats in = test::restore_from(*target, path);
  ASSERT_EQ(in.status, MigrationStatus::Failed);
  EXPECT_NE(in.error.find("section 'cpu/1'"), std::string::npos) << in.error;
  EXPECT_NE(in.error.find("IA32_TSC_DEADLINE"), std::string::npos) << in.error;
  EXPECT_EQ(target->run_state(), RunState::InMigrate);
  EXPECT_FALSE(contains(target->calls(), "cpu_synchronize_all_post_init"));
  EXPECT_FALSE(contains(target->calls(), "vm_start"));
}

// Restores the snapshot of SetUp's VM into a VM built from `options`; returns the error.
std::string restore_error(const std::string& path, const FakeMigratable::Options& options) {
  auto target = test::make_target_for(options);
  MigrationStats in = test::restore_from(*target, path);
  EXPECT_EQ(in.status, MigrationStatus::Failed);
  EXPECT_TRUE(target->calls().size() <= 1) << "refused before loading anything";
  EXPECT_EQ(target->ram_image(), std::vector<uint8_t>(options.memory_bytes, 0))
      << "refused before any RAM";
  return in.error;
}

TEST_F(SnapshotTest, RefusesAVmThatDoesNotMatch) {
  const std::string path = dir_.file("vm.snap");
  ASSERT_EQ(test::migrate_out(*source_, "file:" + path).status, MigrationStatus::Completed);
  auto expect = [&](FakeMigratable::Options o, const std::string& what) {
    std::string error = restore_error(path, o);
    EXPECT_NE(error.find("snapshot " + path + ": header at offset 16: "), std::string::npos)
        << error;
    EXPECT_NE(error.find(what), std::string::npos) << error;
  };
  FakeMigratable::Options o = options_;
  o.vcpus = 1;
  expect(o, "the stream's VM has 2 vCPUs, this VM has 1");
  o = options_;
  o.memory_bytes += 1 << 20;
  expect(o, "bytes of RAM");
  o = options_;
  o.hole_start = 16ull << 20;
  expect(o, "RAM region 0 differs");
  o = options_;
  o.cpu_vendor = "AuthenticAMD";
  expect(o, "host, this host is 'AuthenticAMD'");
  o = options_;
  o.sections.pop_back();
  expect(o, "unknown section 'serial'");
  o = options_;
  o.sections.push_back({"virtio-rng0"});
  expect(o, "no section 'virtio-rng0'");
  o = options_;
  o.sections[2] = {"kvmclock", 3, 2};
  expect(o, "section 'kvmclock' has version 1, this rrvm loads versions 2..3");
}

TEST_F(SnapshotTest, OlderSectionVersionsLoadWhenSupported) {
  FakeMigratable::Options v2 = options_;
  v2.sections[2] = {"kvmclock", 2, 1};
  const std::string path = dir_.file("vm.snap");
  ASSERT_EQ(test::migrate_out(*source_, "file:" + path).status, MigrationStatus::Completed);
  auto target = test::make_target_for(v2);
  ASSERT_EQ(test::restore_from(*target, path).status, MigrationStatus::Completed);
  EXPECT_TRUE(contains(target->calls(), "load_section kvmclock v1"));
}

TEST_F(SnapshotTest, TargetMustNotHaveRun) {
  const std::string path = dir_.file("vm.snap");
  ASSERT_EQ(test::migrate_out(*source_, "file:" + path).status, MigrationStatus::Completed);
  auto running = test::make_vm(options_);
  MigrationStats in = test::restore_from(*running, path);
  ASSERT_EQ(in.status, MigrationStatus::Failed);
  EXPECT_NE(in.error.find("needs a VM that has not run"), std::string::npos) << in.error;
}

TEST_F(SnapshotTest, ManagerRefusesASecondMigrationAndBadParameters) {
  MigrationManager manager(*source_);
  MigrationParameters p;
  p.max_bandwidth = 1 << 20;  // slow enough to still be running below
  ASSERT_TRUE(manager.set_parameters(p).ok());
  source_->fill_random(0, 2048, 9);
  ASSERT_TRUE(manager.start("file:" + dir_.file("a.snap")).ok());
  Status second = manager.start("file:" + dir_.file("b.snap"));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message.find("already in progress"), std::string::npos);
  manager.cancel();
  EXPECT_EQ(manager.wait().status, MigrationStatus::Cancelled);
  EXPECT_FALSE(manager.start("ftp:x").ok());
  p.downtime_limit_ms = 0;
  EXPECT_FALSE(manager.set_parameters(p).ok());
  p.downtime_limit_ms = 300;
  p.zstd_level = 1000;
  EXPECT_FALSE(manager.set_parameters(p).ok());
}

}  // namespace
}  // namespace rrvm::migration
