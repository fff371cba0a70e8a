// The trace of a snapshot and a restore shows QEMU's sequence: spans named like QEMU's functions
// on the "migration" and "migration-incoming" threads, MIGRATION phases, one SnapshotSection per
// section, each event with the backtrace QEMU's gdb session shows.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/migration/migration_test_util.h"
#include "trace/event_record.h"
#include "trace/names.h"
#include "trace/reader.h"
#include "trace/recorder.h"

namespace rrvm::migration {
namespace {

using test::in_order;
using test::TempDir;

struct TracedEvent {
  std::string thread;
  std::string what;                    // "span NAME", "migration PHASE", "section save NAME"
  std::vector<std::string> backtrace;  // innermost first
};

// Records what `body` does into a trace at `path` and returns its events.
template <typename Fn>
std::vector<TracedEvent> record(const std::string& path, Fn&& body) {
  trace::Header header;
  header.rrvm_version = "test";
  auto recorder = trace::Recorder::open({.path = path}, header);
  RRVM_CHECK_MSG(recorder.ok(), recorder.ok() ? "" : recorder.error().describe());
  trace::install(recorder->get());
  body();
  trace::install(nullptr);
  RRVM_CHECK((*recorder)->close().ok());

  auto reader = trace::Reader::open(path);
  RRVM_CHECK_MSG(reader.ok(), reader.ok() ? "" : reader.error().describe());
  std::vector<TracedEvent> out;
  while (true) {
    auto next = (*reader)->next();
    RRVM_CHECK_MSG(next.ok(), next.ok() ? "" : next.error().describe());
    const trace::EventRecord* e = *next;
    if (e == nullptr) break;
    TracedEvent t{(*reader)->thread_name(e->thread), "", {}};
    if (auto* b = std::get_if<trace::SpanBegin>(&e->body)) {
      t.what = "span " + std::string(b->name);
    } else if (auto* m = std::get_if<trace::MigrationEvent>(&e->body)) {
      t.what = "migration " + std::string(trace::migration_phase_name(m->phase));
    } else if (auto* s = std::get_if<trace::SnapshotSection>(&e->body)) {
      t.what = "section " + std::string(trace::section_op_name(s->op)) + " " +
               std::string(s->device) + (s->ok ? "" : " failed");
    } else {
      continue;
    }
    for (const trace::SpanFrame& f : (*reader)->backtrace(e->span)) t.backtrace.push_back(f.name);
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<std::string> whats(const std::vector<TracedEvent>& events, const std::string& thread) {
  std::vector<std::string> out;
  for (const TracedEvent& e : events) {
    if (e.thread == thread) out.push_back(e.what);
  }
  return out;
}

const TracedEvent* find(const std::vector<TracedEvent>& events, const std::string& what) {
  for (const TracedEvent& e : events) {
    if (e.what == what) return &e;
  }
  return nullptr;
}

TEST(MigrationTrace, SnapshotAndRestoreFollowQemusSequence) {
  TempDir dir;
  test::FakeMigratable::Options options;
  options.memory_bytes = 8ull << 20;
  auto source = test::make_vm(options);
  source->fill_random(0, 16, 1);
  const std::string snap = dir.file("vm.snap");

  auto saved = record(dir.file("source.rrtrace"), [&] {
    EXPECT_EQ(test::migrate_out(*source, "file:" + snap).status, MigrationStatus::Completed);
  });
  std::vector<std::string> src = whats(saved, "migration");
  EXPECT_TRUE(in_order(src, {"span migration_thread",
                             "migration setup",
                             "span qemu_savevm_state_setup",
                             "span migration_iteration_run",
                             "migration iteration",
                             "span migration_iteration_run",
                             // the first pass reaches the disk while the VM still runs
                             "span file_channel_sync_data",
                             "span migration_completion",
                             "migration completion",
                             "span migration_completion_precopy",
                             "span migration_stop_vm",
                             "span qemu_savevm_state_complete_precopy",
                             "span ram_save_complete",
                             "migration iteration",
                             "span savevm.device globalstate",
                             "section save globalstate",
                             "span savevm.device cpu/0",
                             "section save cpu/0",
                             "span savevm.device cpu/1",
                             "section save cpu/1",
                             "span savevm.device kvmclock",
                             "section save kvmclock",
                             "span savevm.device serial",
                             "section save serial",
                             "span file_channel_commit",
                             "span migration_iteration_finish",
                             "migration completed"}))
      << ::testing::PrintToString(src);
  const TracedEvent* kvmclock = find(saved, "section save kvmclock");
  ASSERT_NE(kvmclock, nullptr);
  EXPECT_EQ(kvmclock->backtrace, (std::vector<std::string>{
                                     "savevm.device kvmclock", "qemu_savevm_state_complete_precopy",
                                     "migration_completion_precopy", "migration_completion",
                                     "migration_iteration_run", "migration_thread"}));

  auto target = test::make_target_for(options);
  auto loaded = record(dir.file("target.rrtrace"), [&] {
    EXPECT_EQ(test::restore_from(*target, snap).status, MigrationStatus::Completed);
  });
  std::vector<std::string> dst = whats(loaded, "migration-incoming");
  EXPECT_TRUE(in_order(
      dst, {"span process_incoming_migration", "migration load-start", "span qemu_loadvm_state",
            "span loadvm.device globalstate", "section load globalstate",
            "span loadvm.device cpu/0", "section load cpu/0", "span loadvm.device serial",
            "section load serial", "migration load-done", "span process_incoming_migration_bh"}))
      << ::testing::PrintToString(dst);
  const TracedEvent* cpu1 = find(loaded, "section load cpu/1");
  ASSERT_NE(cpu1, nullptr);
  EXPECT_EQ(cpu1->backtrace, (std::vector<std::string>{"loadvm.device cpu/1", "qemu_loadvm_state",
                                                       "process_incoming_migration"}));
}

TEST(MigrationTrace, FailuresAreRecordedWithTheirReason) {
  TempDir dir;
  test::FakeMigratable::Options options;
  options.memory_bytes = 8ull << 20;
  auto source = test::make_vm(options);
  source->fail_save("serial", "serial: FIFO state unreadable");
  auto events = record(dir.file("fail.rrtrace"), [&] {
    EXPECT_EQ(test::migrate_out(*source, "file:" + dir.file("vm.snap")).status,
              MigrationStatus::Failed);
  });
  std::vector<std::string> src = whats(events, "migration");
  EXPECT_TRUE(in_order(src, {"span savevm.device serial", "section save serial failed",
                             "span migration_iteration_finish", "migration failed"}))
      << ::testing::PrintToString(src);
}

}  // namespace
}  // namespace rrvm::migration
