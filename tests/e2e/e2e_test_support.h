// Shared pieces of the e2e test bodies: skipping without KVM and starting a ticking guest with
// QMP, console and trace files in a per-test directory.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/guest_console.h"
#include "tests/e2e/qmp_client.h"
#include "tests/e2e/rrvm_process.h"
#include "tests/e2e/trace_events.h"

#define RRVM_E2E_REQUIRE_KVM()                                      \
  do {                                                              \
    std::string why_ = ::rrvm::e2e::kvm_unavailable_reason();       \
    if (!why_.empty()) GTEST_SKIP() << "needs KVM: " << why_;       \
  } while (0)

namespace rrvm::e2e {

// One rrvm process with its files: NAME.rrtrace, NAME.sock (QMP), NAME.console.
struct VmFiles {
  std::string trace;
  std::string qmp;
  std::string console;
};
inline VmFiles vm_files(const TempDir& dir, const std::string& name) {
  return {dir.file(name + ".rrtrace"), dir.file(name + ".sock"), dir.file(name + ".console")};
}
// Runs `rrvm check --all` (replay/) on a trace an e2e test recorded: a real rrvm run must satisfy
// every invariant the checker knows (legal run-state changes, kvmclock monotonic, KVMCLOCK_CTRL
// before a vCPU runs, span order).
inline void expect_trace_checks_clean(const TempDir& dir, const std::string& trace) {
  std::string name = "check-" + trace.substr(trace.find_last_of('/') + 1);
  RunResult r = run_rrvm(dir, name, {"check", "--all", trace});
  EXPECT_EQ(r.status, 0) << "rrvm check " << trace << ":\n" << r.out << r.err;
}

// The common arguments: --trace, --qmp, --serial for `files`, then `extra`.
inline std::vector<std::string> vm_args(const VmFiles& files, std::vector<std::string> extra) {
  std::vector<std::string> args = {"run", "--trace", files.trace, "--qmp", files.qmp, "--serial",
                                   files.console};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// Waits until the console holds at least `count` tick lines; returns them.
inline std::vector<Tick> wait_ticks(const std::string& console, size_t count,
                                    std::chrono::milliseconds timeout) {
  std::vector<Tick> ticks;
  wait_until(timeout, [&] {
    ticks = parse_ticks(read_file(console));
    return ticks.size() >= count;
  });
  return ticks;
}

}  // namespace rrvm::e2e
