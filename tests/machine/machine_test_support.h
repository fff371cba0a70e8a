// What the machine tests share on top of fake_machine.h: starting a machine and talking QMP to it.
#pragma once

#include <gtest/gtest.h>

#include <chrono>

#include "tests/e2e/qmp_client.h"
#include "tests/machine/fake_machine.h"

namespace rrvm::machine::testing {

// Starts `vm`, connects `qmp` to its monitor and waits until both vCPUs ran a few times. Fails
// the calling test (check HasFatalFailure) when one of them does not happen.
inline void start_running(FakeMachine& vm, const MachineConfig& config, e2e::QmpClient& qmp) {
  ASSERT_TRUE(vm.ok()) << vm.error();
  vm.start();
  ASSERT_EQ(qmp.connect(config.qmp_path, std::chrono::seconds(10)), "");
  ASSERT_TRUE(vm.vcpu(0).wait_runs(3) && vm.vcpu(1).wait_runs(3));
}

}  // namespace rrvm::machine::testing
