#include "tests/trace/sample_trace.h"

#include <gtest/gtest.h>

#include <thread>

#include "trace/format.h"
#include "trace/span.h"

namespace rrvm::trace::testing {
namespace {

constexpr MsrEntry FULL_GET[] = {
    {0x10, 0x1234567890},     {0x6e0, 0}, {0x4b564d01, 0x2a001}, {0xc0000080, 0xd01},
    {0x277, 0x7040600070406},
};
constexpr MsrEntry FAILED_PUT[] = {{0x174, 0x10}, {0x6e0, 0x99}, {0x4b564d00, 0}};
constexpr uint8_t OUT_BYTE[] = {'A'};
constexpr uint8_t MMIO_READ[] = {0x76, 0x72, 0x69, 0x74};
constexpr uint8_t REGS[] = {1, 2, 3, 4, 5, 6, 7, 8};

// The part of the sample that is repeated for bigger traces; runs on the main thread, with a
// vCPU thread doing the per-vCPU work under the main thread's span.
void stop_and_cont(int round) {
  {
    Span stop("qmp:stop");
    emit(MonitorCommand{R"({"execute":"stop"})"});
    emit(RunStateChange{RunState::Running, RunState::Paused, "qmp:stop", true});
    emit(NotifierCall{"kvmclock", 0, NotifierPhase::Main, false, RunState::Paused});
    SpanId parent = current_span();
    std::thread vcpu([parent, round] {
      set_thread_vcpu(0);
      Span work("cpu_synchronize_state", parent);
      emit(TscRead{0, 0x1000000ull + static_cast<uint64_t>(round)});
      emit(MsrAccess{0, MsrOp::Get, SyncLevel::Full, FULL_GET, 5, 5, 0});
      emit(VcpuExit{0, ExitKind::Io, 0x3f8, 1, true, OUT_BYTE, 0});
    });
    vcpu.join();
    emit(ClockAccess{ClockOp::Get, 123456789, 2 | 8, 0xabcdef, 0, 0});
    emit(MonitorReply{R"({"return":{}})"});
  }
  Span cont("qmp:cont");
  emit(RunStateChange{RunState::Paused, RunState::Running, "qmp:cont", true});
  emit(ClockAccess{ClockOp::Set, 123456789, 0, 0, 0, 0});
  emit(KvmclockCtrl{0, 22});
}

// Everything else, once.
void other_events() {
  emit(RunStateChange{RunState::Running, RunState::Prelaunch, "bogus", false});
  emit(MsrAccess{0, MsrOp::Put, SyncLevel::Reset, FAILED_PUT, 3, 1, 0});
  emit(TscKhz{0, true, 2596138, 0});
  std::thread io([] {
    set_thread_name("io");
    Span mmio("virtio-mmio status write");
    emit(VcpuExit{1, ExitKind::Mmio, 0xd0000070, 4, false, MMIO_READ, 0});
    emit(DeviceStatusWrite{"virtio-blk0", "virtio-mmio@0xd0000000", 3, 11, StatusSource::Guest,
                           true, "features ok"});
    emit(DeviceStatusWrite{"virtio-blk0", "virtio-mmio@0xd0000000", 11, 1, StatusSource::Guest,
                           false, "bits may only be cleared by reset"});
    emit(DeviceBackend{"virtio-blk0", BackendOp::Start, "DRIVER_OK"});
    emit(DeviceReset{"virtio-rng0", "guest wrote 0"});
  });
  io.join();
  emit(MigrationEvent{MigrationPhase::Iteration, 3, 1200, 4915200, 0, ""});
  emit(SnapshotSection{SectionOp::Save, "kvmclock", 32, 0xfeedf00d, true, ""});
  emit(SnapshotSection{SectionOp::Load, "serial", 0, 0, false, "bad FIFO size 99"});
  emit(UserMark{"before \"quit\"\n"});
  emit(Warning{"virtio", "descriptor loop in queue 0"});
  emit(HvCall{0, "KVM_SET_REGS", 0, 0, REGS});
}

}  // namespace

Header sample_header() {
  Header h;
  h.rrvm_version = "0.1.0-sample";
  h.host_kernel = "6.1.0-sample";
  h.kvm_api_version = 12;
  h.kvm_caps = {{"KVM_CAP_ADJUST_CLOCK", 6}, {"KVM_CAP_NR_VCPUS", 2}};
  h.cpu_vendor = "AuthenticAMD";
  h.cpu_model = "AMD EPYC (sample)";
  h.tsc_khz = 2596138;
  h.config =
      VmConfig{256ull << 20, 2, "rrvm-guest", "", "console=ttyS0", {"virtio-blk0 disk.img"}, "run"};
  h.wall_clock_start_ns = 1'700'000'000'000'000'000ull;
  return h;
}

Status write_sample_trace(const RecorderOptions& options, int repeat) {
  RRVM_ASSIGN_OR_RETURN(auto rec, Recorder::open(options, sample_header()));
  install(rec.get());
  std::thread main_thread([repeat] {
    set_thread_name("main");
    for (int i = 0; i < repeat; ++i) stop_and_cont(i);
    other_events();
  });
  main_thread.join();
  install(nullptr);
  return rec->close();
}

std::vector<std::string> sample_expected_lines() {
  // Threads register in order: main 0, vcpu0 1, io 2; span ids are (thread + 1) << 40 | n.
  return {
      "main span-begin \"qmp:stop\" parent=0x0",
      "main qmp-command {\"execute\":\"stop\"}",
      "main run-state running -> paused reason=\"qmp:stop\"",
      "main notifier handler=kvmclock priority=0 phase=main running=false state=paused",
      "vcpu0 span-begin \"cpu_synchronize_state\" parent=0x10000000001",
      "vcpu0 tsc-read vcpu=0 tsc=0x1000000",
      "vcpu0 msr get vcpu=0 level=full processed=5/5 IA32_TSC(0x10)=0x1234567890 "
      "IA32_TSC_DEADLINE(0x6e0)=0x0 MSR_KVM_SYSTEM_TIME_NEW(0x4b564d01)=0x2a001 "
      "MSR_EFER(0xc0000080)=0xd01 IA32_PAT(0x277)=0x7040600070406",
      "vcpu0 exit vcpu=0 io write port=0x3f8 size=1 data=41",
      "vcpu0 span-end ",
      "main clock get clock=123456789ns flags=TSC_STABLE|HOST_TSC host_tsc=0xabcdef realtime=0ns",
      "main qmp-reply {\"return\":{}}",
      "main span-end ",
      "main span-begin \"qmp:cont\" parent=0x0",
      "main run-state paused -> running reason=\"qmp:cont\"",
      "main clock set clock=123456789ns flags=0 host_tsc=0x0 realtime=0ns",
      "main kvmclock-ctrl vcpu=0 result=EINVAL",
      "main span-end ",
      "main run-state running -> prelaunch reason=\"bogus\" REFUSED",
      "main msr put vcpu=0 level=reset processed=1/3 failed-at=0x6e0 (IA32_TSC_DEADLINE) "
      "IA32_SYSENTER_CS(0x174)=0x10 IA32_TSC_DEADLINE(0x6e0)=0x99 "
      "MSR_KVM_WALL_CLOCK_NEW(0x4b564d00)=0x0",
      "main tsc-khz vcpu=0 set khz=2596138",
      "io span-begin \"virtio-mmio status write\" parent=0x0",
      "io exit vcpu=1 mmio read gpa=0xd0000070 size=4 data=76726974",
      "io status-write device=virtio-blk0 transport=virtio-mmio@0xd0000000 3 -> 11 "
      "(ACKNOWLEDGE|DRIVER -> "
      "ACKNOWLEDGE|DRIVER|FEATURES_OK) source=guest accepted reason=\"features ok\"",
      "io status-write device=virtio-blk0 transport=virtio-mmio@0xd0000000 11 -> 1 "
      "(ACKNOWLEDGE|DRIVER|FEATURES_OK -> ACKNOWLEDGE) source=guest REFUSED reason=\"bits may only "
      "be "
      "cleared by reset\"",
      "io device-backend device=virtio-blk0 start reason=\"DRIVER_OK\"",
      "io device-reset device=virtio-rng0 reason=\"guest wrote 0\"",
      "io span-end ",
      "main migration iteration iteration=3 dirty_pages=1200 bytes=4915200 downtime=0ns",
      "main snapshot-section save device=kvmclock bytes=32 checksum=0xfeedf00d ok",
      "main snapshot-section load device=serial bytes=0 checksum=0x0 FAILED error=\"bad FIFO size "
      "99\"",
      "main mark \"before \\\"quit\\\"\\n\"",
      "main warning virtio: descriptor loop in queue 0",
      "main hv-call KVM_SET_REGS vcpu=0 result=0 payload=8B",
  };
}

std::string describe(const Reader& reader, const EventRecord& event) {
  return reader.thread_name(event.thread) + " " + std::string(event_type_name(event.type())) + " " +
         format_fields(event);
}

std::vector<std::string> read_all_lines(const std::string& path) {
  std::vector<std::string> lines;
  auto reader = Reader::open(path);
  EXPECT_TRUE(reader.ok()) << reader.error().describe();
  if (!reader.ok()) return lines;
  while (true) {
    auto e = (*reader)->next();
    EXPECT_TRUE(e.ok()) << e.error().describe();
    if (!e.ok() || *e == nullptr) break;
    lines.push_back(describe(**reader, **e));
  }
  return lines;
}

}  // namespace rrvm::trace::testing
