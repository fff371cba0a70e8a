// Fuzzes snapshot loading: arbitrary bytes go through the incoming side exactly as a snapshot file
// would (framing, header check against the VM, RAM runs into guest memory, sections, End, section
// loads), into a 1 MiB FakeMigratable. Any crash, sanitizer report or leak is a bug; a refusal is
// the expected outcome for almost every input. Seeds: fuzz/seeds/snapshot_fuzz/ (valid snapshots of
// FakeMigratable::small_target_options(), checked by tests/migration/fuzz_seed_test.cc).
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "vmm/base/check.h"
#include "vmm/migration/channel.h"
#include "vmm/migration/progress.h"
#include "vmm/migration/target.h"
#include "vmm/migration/testing/fake_migratable.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rrvm::migration;
  static bool quiet = (spdlog::set_level(spdlog::level::off), true);
  (void)quiet;
  auto vm = testing::FakeMigratable::create(testing::FakeMigratable::small_target_options());
  RRVM_CHECK(vm.ok());
  auto channel = std::make_unique<MemoryChannel>(std::vector<uint8_t>(data, data + size));
  Progress progress;
  MigrationTarget target(**vm, std::make_unique<MemoryListener>(std::move(channel)),
                         IncomingOptions{}, progress);
  target.run();
  MigrationStatus status = progress.stats().status;
  RRVM_CHECK(status == MigrationStatus::Completed || status == MigrationStatus::Failed);
  // A stream that loaded must have loaded every section and started the VM.
  if (status == MigrationStatus::Completed)
    RRVM_CHECK((*vm)->run_state() != rrvm::trace::RunState::InMigrate);
  return 0;
}
