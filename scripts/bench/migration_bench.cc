// Snapshot save and restore bandwidth of the migration layer, against this machine's memcpy.
//
// A FakeMigratable (real guest RAM, no KVM) of 256 MiB is saved to a snapshot file and restored
// into a fresh VM, idle (all RAM zero) and with 64 MiB of incompressible data. Counters:
//   ram_GBps   guest RAM bytes per second (the VM's whole RAM over the wall time)
//   vs_memcpy  ram_GBps / memcpy bandwidth measured in the same process (the physical limit for
//              a save that must at least read and a restore that must at least write each byte)
//   file_MB    snapshot size
// The file lives in $RRVM_BENCH_DIR (default /tmp); saving includes its fsync.
//
//   build/scripts/bench/migration_bench --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "vmm/migration/manager.h"
#include "vmm/migration/testing/fake_migratable.h"

namespace rrvm::migration {
namespace {

using testing::FakeMigratable;

constexpr uint64_t RAM_BYTES = 256ull << 20;
constexpr uint64_t RANDOM_BYTES = 64ull << 20;

double memcpy_bandwidth() {
  static const double bandwidth = [] {
    std::vector<uint8_t> src(RAM_BYTES, 1), dst(RAM_BYTES, 0);
    std::memcpy(dst.data(), src.data(), RAM_BYTES);  // fault everything in first
    auto start = std::chrono::steady_clock::now();
    constexpr int ROUNDS = 4;
    for (int i = 0; i < ROUNDS; ++i) {
      src[i] = static_cast<uint8_t>(i);
      std::memcpy(dst.data(), src.data(), RAM_BYTES);
      benchmark::DoNotOptimize(dst.data());
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return static_cast<double>(RAM_BYTES) * ROUNDS / s;
  }();
  return bandwidth;
}

std::string snapshot_path() {
  const char* dir = std::getenv("RRVM_BENCH_DIR");
  return (std::filesystem::path(dir ? dir : "/tmp") /
          ("rrvm-bench-" + std::to_string(::getpid()) + ".snap"))
      .string();
}

std::unique_ptr<FakeMigratable> make_vm(bool with_data, trace::RunState state) {
  FakeMigratable::Options options;
  options.memory_bytes = RAM_BYTES;
  options.initial_state = state;
  auto vm = FakeMigratable::create(options);
  if (!vm.ok()) return nullptr;
  if (with_data) (*vm)->fill_random(32ull << 20, RANDOM_BYTES / 4096, 42);
  return std::move(vm).value();
}

bool run(MigrationManager& manager, Status started, benchmark::State& state) {
  if (!started.ok()) {
    state.SkipWithError(started.error().describe().c_str());
    return false;
  }
  MigrationStats stats = manager.wait();
  if (stats.status != MigrationStatus::Completed) {
    state.SkipWithError(stats.error.c_str());
    return false;
  }
  return true;
}

void report(benchmark::State& state, double seconds_total, const std::string& path) {
  double per_iteration = seconds_total / static_cast<double>(state.iterations());
  double bandwidth = static_cast<double>(RAM_BYTES) / per_iteration;
  state.counters["ram_GBps"] = bandwidth / 1e9;
  state.counters["vs_memcpy"] = bandwidth / memcpy_bandwidth();
  state.counters["memcpy_GBps"] = memcpy_bandwidth() / 1e9;
  std::error_code ec;
  state.counters["file_MB"] = static_cast<double>(std::filesystem::file_size(path, ec)) / 1e6;
}

void BM_Save(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  const std::string path = snapshot_path();
  double seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto vm = make_vm(state.range(0) != 0, trace::RunState::Running);
    if (!vm) return state.SkipWithError("cannot allocate guest RAM");
    MigrationManager manager(*vm);
    state.ResumeTiming();
    auto start = std::chrono::steady_clock::now();
    if (!run(manager, manager.start("file:" + path), state)) break;
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  report(state, seconds, path);
  std::filesystem::remove(path);
}

void BM_Restore(benchmark::State& state) {
  spdlog::set_level(spdlog::level::warn);
  const std::string path = snapshot_path();
  {
    auto source = make_vm(state.range(0) != 0, trace::RunState::Running);
    if (!source) return state.SkipWithError("cannot allocate guest RAM");
    MigrationManager manager(*source);
    if (!run(manager, manager.start("file:" + path), state)) return;
  }
  double seconds = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto vm = make_vm(false, trace::RunState::Prelaunch);
    MigrationManager manager(*vm);
    state.ResumeTiming();
    auto start = std::chrono::steady_clock::now();
    if (!run(manager, manager.start_incoming("file:" + path), state)) break;
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.PauseTiming();
    vm.reset();  // unmapping 256 MiB is not part of a restore
    state.ResumeTiming();
  }
  report(state, seconds, path);
  std::filesystem::remove(path);
}

BENCHMARK(BM_Save)
    ->ArgName("random64MiB")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Restore)
    ->ArgName("random64MiB")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace rrvm::migration

BENCHMARK_MAIN();
