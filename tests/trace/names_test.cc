#include "trace/names.h"

#include <gtest/gtest.h>

namespace rrvm::trace {
namespace {

TEST(TraceNames, RunStatesRoundTripThroughQapiNames) {
  EXPECT_EQ(run_state_name(RunState::FinishMigrate), "finish-migrate");
  EXPECT_EQ(run_state_name(RunState::Running), "running");
  EXPECT_EQ(run_state_name(RunState::GuestPanicked), "guest-panicked");
  for (int i = 0; i < RUN_STATE_COUNT; ++i) {
    auto state = static_cast<RunState>(i);
    auto parsed = parse_run_state(run_state_name(state));
    ASSERT_TRUE(parsed.has_value()) << i;
    EXPECT_EQ(*parsed, state);
  }
  EXPECT_FALSE(parse_run_state("Running").has_value());
  EXPECT_FALSE(parse_run_state("").has_value());
  EXPECT_EQ(run_state_name(static_cast<RunState>(200)), "unknown");
}

TEST(TraceNames, MsrNamesCoverWhatQemuSaves) {
  EXPECT_EQ(msr_name(0x6e0), "IA32_TSC_DEADLINE");
  EXPECT_EQ(msr_name(0x10), "IA32_TSC");
  EXPECT_EQ(msr_name(0x11), "MSR_KVM_WALL_CLOCK");
  EXPECT_EQ(msr_name(0x12), "MSR_KVM_SYSTEM_TIME");
  EXPECT_EQ(msr_name(0x4b564d01), "MSR_KVM_SYSTEM_TIME_NEW");
  EXPECT_EQ(msr_name(0x4b564d00), "MSR_KVM_WALL_CLOCK_NEW");
  EXPECT_EQ(msr_name(0x174), "IA32_SYSENTER_CS");
  EXPECT_EQ(msr_name(0x277), "IA32_PAT");
  EXPECT_EQ(msr_name(0xc0000080), "MSR_EFER");
  EXPECT_EQ(msr_name(0xc0000084), "MSR_SYSCALL_MASK");
  EXPECT_EQ(msr_name(0xc0000102), "MSR_KERNEL_GS_BASE");
  EXPECT_EQ(msr_name(0xc001011f), "MSR_VIRT_SSBD");
  EXPECT_EQ(msr_name(0x3a), "IA32_FEATURE_CONTROL");
  EXPECT_EQ(msr_name(0x1b), "IA32_APIC_BASE");
  EXPECT_EQ(msr_name(0x179), "IA32_MCG_CAP");
  EXPECT_EQ(msr_name(0x1a0), "IA32_MISC_ENABLE");
}

TEST(TraceNames, MsrFamiliesAreNumbered) {
  EXPECT_EQ(msr_name(0x200), "IA32_MTRR_PHYSBASE0");
  EXPECT_EQ(msr_name(0x207), "IA32_MTRR_PHYSMASK3");
  EXPECT_EQ(msr_name(0x40a), "IA32_MC2_ADDR");
  EXPECT_EQ(msr_name(0xc2), "IA32_PMC1");
  EXPECT_EQ(msr_name(0x18d), "IA32_PERFEVTSEL7");
  EXPECT_EQ(msr_name(0x30a), "IA32_FIXED_CTR1");
  EXPECT_EQ(msr_name(0x400000b3), "HV_X64_MSR_STIMER1_COUNT");
  EXPECT_EQ(msr_name(0xc0010203), "MSR_F15H_PERF_CTR1");
}

TEST(TraceNames, UnknownMsrIsEmptyAndDescribedInHex) {
  EXPECT_EQ(msr_name(0x4b564d7f), "");
  EXPECT_EQ(msr_name(0x12345), "");
  EXPECT_EQ(msr_describe(0x6e0), "0x6e0 (IA32_TSC_DEADLINE)");
  EXPECT_EQ(msr_describe(0x12345), "0x12345");
}

TEST(TraceNames, VirtioStatusBitsInBitOrder) {
  EXPECT_EQ(virtio_status_bits(0), "0");
  EXPECT_EQ(virtio_status_bits(1), "ACKNOWLEDGE");
  EXPECT_EQ(virtio_status_bits(11), "ACKNOWLEDGE|DRIVER|FEATURES_OK");
  EXPECT_EQ(virtio_status_bits(15), "ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK");
  EXPECT_EQ(virtio_status_bits(64 | 128), "DEVICE_NEEDS_RESET|FAILED");
  EXPECT_EQ(virtio_status_bits(2 | 0x30), "DRIVER|0x30");
}

TEST(TraceNames, EnumNames) {
  EXPECT_EQ(exit_kind_name(ExitKind::Io), "io");
  EXPECT_EQ(exit_kind_name(ExitKind::InternalError), "internal-error");
  EXPECT_EQ(exit_kind_name(static_cast<ExitKind>(99)), "unknown");
  EXPECT_EQ(sync_level_name(SyncLevel::Full), "full");
  EXPECT_EQ(migration_phase_name(MigrationPhase::LoadDone), "load-done");
  EXPECT_EQ(clock_flags_name(2 | 8), "TSC_STABLE|HOST_TSC");
  EXPECT_EQ(clock_flags_name(0), "0");
}

}  // namespace
}  // namespace rrvm::trace
