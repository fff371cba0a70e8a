// The snapshot fuzz target's seed corpus (fuzz/seeds/snapshot_fuzz/) must stay loadable as the
// format evolves: seeds that are refused at the preamble teach the fuzzer nothing.
//
// Regenerate after a format change:
//   RRVM_REGENERATE_FUZZ_SEEDS=1 build/tests/migration/migration_fuzz_seed_test
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "tests/migration/migration_test_util.h"

namespace rrvm::migration {
namespace {

using test::FakeMigratable;

const std::filesystem::path SEED_DIR =
    std::filesystem::path(RRVM_SOURCE_DIR) / "fuzz/seeds/snapshot_fuzz";

// Two sources: a running VM with random and compressible pages, and a paused one with one page.
void write_seeds() {
  FakeMigratable::Options options = FakeMigratable::small_target_options();
  options.initial_state = trace::RunState::Running;
  auto running = test::make_vm(options);
  running->fill_random(0x3000, 3, 5);
  std::memset(running->memory().regions()[0].host + 0x20000, 'r', 0x2000);
  running->set_section_data("kvmclock", std::vector<uint8_t>(48, 7));
  ASSERT_EQ(test::migrate_out(*running, "file:" + (SEED_DIR / "running.snap").string()).status,
            MigrationStatus::Completed);
  options.initial_state = trace::RunState::Paused;
  auto paused = test::make_vm(options);
  paused->fill_random(0xff000, 1, 6);
  ASSERT_EQ(test::migrate_out(*paused, "file:" + (SEED_DIR / "paused.snap").string()).status,
            MigrationStatus::Completed);
}

TEST(FuzzSeeds, EverySeedLoadsIntoTheFuzzTargetsVm) {
  if (std::getenv("RRVM_REGENERATE_FUZZ_SEEDS") != nullptr) write_seeds();
  size_t seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SEED_DIR)) {
    auto vm = test::make_vm(FakeMigratable::small_target_options());
    MigrationStats in = test::restore_from(*vm, entry.path().string());
    EXPECT_EQ(in.status, MigrationStatus::Completed) << entry.path() << ": " << in.error;
    ++seeds;
  }
  EXPECT_GE(seeds, 2u);
}

}  // namespace
}  // namespace rrvm::migration
