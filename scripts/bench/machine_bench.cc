// The VMM's own share of a boot, measured on the in-memory hypervisor of tests/core: no KVM ioctl
// and no guest instruction costs anything here, so what is timed is rrvm's work alone.
//   BM_MachineStart/trace:{0,1}: Machine::create (VM, vCPUs, devices, kernel load, FULL put) and
//     the start (kvmclock, notifiers, vCPU resume) until every vCPU has entered run(); the
//     teardown (vCPU threads joined, trace closed) is reported as the counter teardown_ms.
// Issue 3 asks that the trace change the real boot (scripts/bench/boot.sh, needs KVM) by at most
// 2 %; this tells how much of a difference rrvm's own work makes, on any host.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "tests/machine/fake_machine.h"

namespace rrvm::machine::testing {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

void BM_MachineStart(benchmark::State& state) {
  const bool traced = state.range(0) != 0;
  spdlog::set_level(spdlog::level::warn);  // the machine's info lines would drown the table
  std::string dir = "/tmp/rrvm-machine-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    state.SkipWithError("mkdtemp failed");
    return;
  }
  double teardown_ms = 0;
  for (auto _ : state) {
    MachineConfig config = fake_machine_config(dir, "vm");
    config.memory_bytes = 256ull << 20;  // as scripts/bench/boot.sh
    if (!traced) config.trace_path.clear();
    config.qmp_path.clear();
    config.serial.clear();
    // A fresh file, as `rrvm run`'s default rrvm-PID.rrtrace (truncating the last one costs more).
    std::filesystem::remove(dir + "/vm.rrtrace");
    auto start = Clock::now();
    FakeMachine vm(config);
    if (!vm.ok()) {
      state.SkipWithError(vm.error().c_str());
      break;
    }
    vm.start();
    for (size_t i = 0; i < vm.vcpu_count(); ++i) {
      if (!vm.vcpu(i).wait_runs(1)) state.SkipWithError("a vCPU never ran");
    }
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
    auto down = Clock::now();
    vm.destroy();
    teardown_ms += ms_since(down);
  }
  state.counters["teardown_ms"] =
      benchmark::Counter(teardown_ms, benchmark::Counter::kAvgIterations);
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_MachineStart)->ArgName("trace")->Arg(0)->Arg(1)->UseManualTime()->Unit(
    benchmark::kMillisecond);

}  // namespace
}  // namespace rrvm::machine::testing

BENCHMARK_MAIN();
