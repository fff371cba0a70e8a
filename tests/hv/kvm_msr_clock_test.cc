// MSRs, kvmclock, the VM clock and the TSC frequency through the KVM backend.
#include <gtest/gtest.h>

#include <time.h>

#include <algorithm>
#include <cerrno>

#include "tests/hv/kvm_guest.h"
#include "vmm/hv/msr_index.h"
#include "vmm/hv/msr_set.h"

namespace rrvm::hv::testing {
namespace {

using trace::SyncLevel;

constexpr uint64_t SECOND_NS = 1'000'000'000ull;

uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * SECOND_NS + uint64_t(ts.tv_nsec);
}

Result<uint64_t> get_one(Vcpu& vcpu, uint32_t index) {
  const uint32_t indices[] = {index};
  RRVM_ASSIGN_OR_RETURN(auto entries, get_msrs_chunked(vcpu, indices, SyncLevel::None));
  return entries[0].value;
}

void expect_io_port(Vcpu& vcpu, uint16_t port) {
  auto e = vcpu.run();
  ASSERT_TRUE(e.ok()) << e.error().describe();
  ASSERT_EQ(e->kind, Exit::Kind::Io);
  ASSERT_EQ(e->address, port);
}

TEST(KvmMsr, GuestWrmsrIsSeenByGetAndPutIsSeenByGuestRdmsr) {
  const uint8_t code[] = {
      0xb9, 0x75, 0x01, 0x00, 0x00,  // mov ecx, 0x175      ; IA32_SYSENTER_ESP
      0xb8, 0xef, 0xcd, 0xab, 0x89,  // mov eax, 0x89abcdef
      0xba, 0x54, 0x76, 0x00, 0x00,  // mov edx, 0x00007654  ; canonical: KVM keeps 48 bits
      0x0f, 0x30,                    // wrmsr
      0xe6, 0x10,                    // out 0x10, al        ; host gets, then puts a new value
      0xb9, 0x75, 0x01, 0x00, 0x00,  // mov ecx, 0x175
      0x0f, 0x32,                    // rdmsr
      0xe7, 0x11,                    // out 0x11, eax       ; low half of what the guest read
      0x89, 0xd0,                    // mov eax, edx
      0xe7, 0x12,                    // out 0x12, eax       ; high half
      0xeb, 0xfe,                    // jmp $
  };
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.start(code));
  expect_io_port(*g.vcpu, 0x10);

  auto got = get_one(*g.vcpu, msr::IA32_SYSENTER_ESP);
  RRVM_ASSERT_OK(got);
  EXPECT_EQ(*got, 0x0000765489abcdefull);

  const MsrEntry put[] = {{msr::IA32_SYSENTER_ESP, 0xffffba9876543210ull}};
  RRVM_ASSERT_OK(put_msrs_chunked(*g.vcpu, put, SyncLevel::Runtime));

  // Each exit's data lives in the shared run area: read it before the next run().
  auto lo = g.vcpu->run();
  RRVM_ASSERT_OK(lo);
  ASSERT_EQ(lo->address, 0x11u);
  uint32_t half;
  std::memcpy(&half, lo->data.data(), 4);
  EXPECT_EQ(half, 0x76543210u);
  auto hi = g.vcpu->run();
  RRVM_ASSERT_OK(hi);
  ASSERT_EQ(hi->address, 0x12u);
  std::memcpy(&half, hi->data.data(), 4);
  EXPECT_EQ(half, 0xffffba98u);
}

TEST(KvmMsr, FullGetAndPutOfEverythingKvmListsHere) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  // rrvm's machine always has an in-kernel LAPIC; without one KVM refuses MSR_KVM_ASYNC_PF_INT.
  RRVM_ASSERT_OK(g.create({.irqchip = true}));
  auto list = g.hv->msr_index_list();
  RRVM_ASSERT_OK(list);
  const MsrIndexList kvm(*list);

  auto values = get_msrs_chunked(*g.vcpu, msrs_for_get(kvm, true), SyncLevel::Full, 16);
  RRVM_ASSERT_OK(values);
  EXPECT_GT(values->size(), 10u);
  // Every level's list is accepted by this host's KVM, in chunks and whole.
  RRVM_ASSERT_OK(put_msrs_chunked(*g.vcpu, msr_put_entries(SyncLevel::Full, kvm, *values),
                                  SyncLevel::Full, 7));
  RRVM_ASSERT_OK(put_msrs_chunked(*g.vcpu, msr_put_entries(SyncLevel::Reset, kvm, {}),
                                  SyncLevel::Reset));
  RRVM_ASSERT_OK(put_msrs_chunked(*g.vcpu, msr_put_entries(SyncLevel::Runtime, kvm, *values),
                                  SyncLevel::Runtime));
  if (has_tsc_deadline(kvm)) {
    const MsrEntry deadline[] = {{msr::IA32_TSC_DEADLINE, 0}};
    RRVM_ASSERT_OK(put_msrs_chunked(*g.vcpu, deadline, SyncLevel::Full));
  }
  auto pat = get_one(*g.vcpu, msr::IA32_PAT);
  RRVM_ASSERT_OK(pat);
  EXPECT_EQ(*pat, msr_reset_value(msr::IA32_PAT));
}

TEST(KvmMsr, UnknownMsrGivesAShortCountNamingIt) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.create());
  const MsrEntry entries[] = {{msr::IA32_SYSENTER_CS, 0}, {0x6ff, 1}};  // 0x6ff: no such MSR
  auto s = put_msrs_chunked(*g.vcpu, entries, SyncLevel::Runtime);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().describe(), "KVM_SET_MSRS (vcpu 0): processed 1 of 2, failed at MSR 0x6ff");
}

TEST(KvmClock, KvmclockCtrlFailsUntilTheGuestEnablesKvmclock) {
  const uint8_t code[] = {
      0xe6, 0x10,                    // out 0x10, al        ; host: KVMCLOCK_CTRL must fail
      0xb9, 0x01, 0x4d, 0x56, 0x4b,  // mov ecx, 0x4b564d01 ; MSR_KVM_SYSTEM_TIME_NEW
      0xb8, 0x01, 0x30, 0x00, 0x00,  // mov eax, 0x3001     ; pvclock page at 0x3000 | enable
      0x31, 0xd2,                    // xor edx, edx
      0x0f, 0x30,                    // wrmsr
      0xe6, 0x11,                    // out 0x11, al        ; host: KVMCLOCK_CTRL works
      0xe6, 0x12,                    // out 0x12, al        ; host: the page says "stopped"
      0xeb, 0xfe,                    // jmp $
  };
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.start(code));
  expect_io_port(*g.vcpu, 0x10);
  Status before = g.vcpu->kvmclock_ctrl();
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.error().err, EINVAL);
  EXPECT_NE(before.error().message.find("KVM_KVMCLOCK_CTRL (vcpu 0)"), std::string::npos);

  expect_io_port(*g.vcpu, 0x11);
  auto system_time = get_one(*g.vcpu, msr::KVM_SYSTEM_TIME_NEW);
  RRVM_ASSERT_OK(system_time);
  EXPECT_EQ(*system_time, 0x3001u);
  // pvclock_vcpu_time_info: KVM filled in the scale before re-entering the guest.
  EXPECT_NE(g.read_ram<uint32_t>(SCRATCH_GPA + 24), 0u);  // tsc_to_system_mul
  EXPECT_EQ(g.read_ram<uint32_t>(SCRATCH_GPA) % 2, 0u);    // version even: consistent
  RRVM_ASSERT_OK(g.vcpu->kvmclock_ctrl());

  expect_io_port(*g.vcpu, 0x12);
  const uint8_t PVCLOCK_GUEST_STOPPED = 1 << 1;
  EXPECT_TRUE(g.read_ram<uint8_t>(SCRATCH_GPA + 29) & PVCLOCK_GUEST_STOPPED);  // flags
}

TEST(KvmClock, GetAndSetClockRoundTrip) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.create());
  auto before = g.vm->get_clock();
  RRVM_ASSERT_OK(before);
  std::printf("KVM_GET_CLOCK flags 0x%x (TSC_STABLE %d, REALTIME %d, HOST_TSC %d)\n",
              before->flags, !!(before->flags & CLOCK_FLAG_TSC_STABLE),
              !!(before->flags & CLOCK_FLAG_REALTIME), !!(before->flags & CLOCK_FLAG_HOST_TSC));
  if (before->flags & CLOCK_FLAG_REALTIME) {
    const uint64_t now = realtime_ns();
    EXPECT_LT(now - before->realtime_ns, SECOND_NS);
  }

  // Without flags KVM_SET_CLOCK sets the clock as given.
  const uint64_t target = before->clock_ns + 100 * SECOND_NS;
  RRVM_ASSERT_OK(g.vm->set_clock(ClockData{.clock_ns = target}));
  auto after = g.vm->get_clock();
  RRVM_ASSERT_OK(after);
  EXPECT_GE(after->clock_ns, target);
  EXPECT_LT(after->clock_ns, target + SECOND_NS);

  // With KVM_CLOCK_REALTIME KVM adds the realtime elapsed since `realtime_ns`: here 5 s.
  RRVM_ASSERT_OK(g.vm->set_clock(ClockData{
      .clock_ns = target, .flags = CLOCK_FLAG_REALTIME, .realtime_ns = realtime_ns() - 5 * SECOND_NS}));
  auto advanced = g.vm->get_clock();
  RRVM_ASSERT_OK(advanced);
  EXPECT_GE(advanced->clock_ns, target + 5 * SECOND_NS);
  EXPECT_LT(advanced->clock_ns, target + 6 * SECOND_NS);

  // Flags KVM does not know are refused, and the error names the ioctl.
  Status bad = g.vm->set_clock(ClockData{.clock_ns = target, .flags = 1u << 20});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().err, EINVAL);
  EXPECT_NE(bad.error().message.find("KVM_SET_CLOCK"), std::string::npos);
}

TEST(KvmClock, TscFrequency) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.create());
  const uint32_t host = g.hv->host_tsc_khz();
  EXPECT_GT(host, 100'000u);
  auto khz = g.vcpu->get_tsc_khz();
  RRVM_ASSERT_OK(khz);
  EXPECT_EQ(*khz, host);
  // Setting the frequency the vCPU already has always works (no scaling needed).
  RRVM_ASSERT_OK(g.vcpu->set_tsc_khz(*khz));

  trace::Header header;
  fill_kvm_info(*g.hv, header);
  auto cap = [&](const std::string& name) -> int64_t {
    for (const auto& [n, v] : header.kvm_caps) {
      if (n == name) return v;
    }
    ADD_FAILURE() << "no cap " << name;
    return -1;
  };
  if (cap("TSC_CONTROL") == 0) {
    // Without TSC scaling KVM refuses a frequency below the host's.
    Status s = g.vcpu->set_tsc_khz(*khz / 2);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find("KVM_SET_TSC_KHZ (vcpu 0)"), std::string::npos);
  }
}

TEST(KvmInfo, HeaderHasApiVersionCapsAndTsc) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  trace::Header header;
  fill_kvm_info(*g.hv, header);
  EXPECT_EQ(header.kvm_api_version, 12);
  EXPECT_GT(header.tsc_khz, 0u);
  std::vector<std::string> names;
  for (const auto& [name, value] : header.kvm_caps) {
    names.push_back(name);
    std::printf("KVM_CAP_%s = %lld\n", name.c_str(), static_cast<long long>(value));
  }
  for (const char* want : {"ADJUST_CLOCK", "KVMCLOCK_CTRL", "TSC_CONTROL", "GET_TSC_KHZ", "IRQCHIP",
                           "PIT2", "IOEVENTFD", "IRQFD", "XSAVE", "XSAVE2", "XCRS", "VCPU_EVENTS",
                           "DEBUGREGS", "MP_STATE", "IMMEDIATE_EXIT", "DIRTY_LOG_RING",
                           "MANUAL_DIRTY_LOG_PROTECT2", "MAX_VCPUS", "NR_MEMSLOTS"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
  for (const auto& [name, value] : header.kvm_caps) {
    if (name == "IMMEDIATE_EXIT" || name == "MAX_VCPUS") {
      EXPECT_GT(value, 0) << name;
    }
    if (name == "MAX_VCPUS") {
      EXPECT_EQ(value, g.hv->max_vcpus());
    }
  }
}

}  // namespace
}  // namespace rrvm::hv::testing
