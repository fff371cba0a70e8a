#include "tests/replay/check_traces.h"

#include <gtest/gtest.h>

#include <capnp/message.h>

#include <thread>

#include "trace/capnp_codec.h"
#include "trace/chunk_writer.h"
#include "trace/file_format.h"
#include "trace/format.h"
#include "trace/reader.h"
#include "trace/span.h"

namespace rrvm::replay::testing {

using trace::RunState;

trace::Header kvm_header(int64_t kvmclock_ctrl_cap) {
  trace::Header h;
  h.rrvm_version = "0.1.0-check";
  h.host_kernel = "6.1.0-check";
  h.kvm_api_version = 12;
  // KVM_CAP_ADJUST_CLOCK answers the flags it supports: TSC_STABLE | REALTIME | HOST_TSC.
  h.kvm_caps = {{"ADJUST_CLOCK", 2 | 4 | 8}, {"KVMCLOCK_CTRL", kvmclock_ctrl_cap}};
  h.config.vcpus = 2;
  h.config.kernel = "rrvm-guest";
  h.config.role = "run";
  return h;
}

Status record_trace(const std::string& path, const std::function<void()>& body,
                    const trace::Header& header, size_t chunk_bytes) {
  RRVM_ASSIGN_OR_RETURN(auto rec,
                        trace::Recorder::open({.path = path, .chunk_bytes = chunk_bytes}, header));
  trace::install(rec.get());
  std::thread main_thread([&] {
    trace::set_thread_name("main");
    body();
  });
  main_thread.join();
  trace::install(nullptr);
  return rec->close();
}

void change(RunState from, RunState to, bool accepted) {
  trace::emit(trace::RunStateChange{from, to, "test", accepted});
}

void clock_get(uint64_t ns, bool tsc_stable) {
  trace::emit(trace::ClockAccess{trace::ClockOp::Get, ns, tsc_stable ? 2u | 8u : 8u, 0xabc, 0, 0});
}

void clock_set(uint64_t ns) {
  trace::emit(trace::ClockAccess{trace::ClockOp::Set, ns, 0, 0, 0, 0});
}

void ctrl(int32_t vcpu, int32_t err) { trace::emit(trace::KvmclockCtrl{vcpu, err}); }

void vcpu_exit(int32_t vcpu, uint64_t port) {
  static constexpr uint8_t BYTE[] = {'x'};
  trace::emit(trace::VcpuExit{vcpu, trace::ExitKind::Io, port, 1, true, BYTE, 0});
}

namespace {

// Runs `fn` on a thread that records as vCPU `vcpu`, under a span handed over from the caller
// (as run_on_cpu does), and waits for it.
void on_vcpu(int32_t vcpu, const char* span, const std::function<void()>& fn) {
  trace::SpanId parent = trace::current_span();
  std::thread t([&] {
    trace::set_thread_vcpu(vcpu);
    trace::Span s(span, parent);
    fn();
  });
  t.join();
}

void run_both(uint64_t port) {
  on_vcpu(0, "kvm_cpu_exec", [&] { vcpu_exit(0, port); });
  on_vcpu(1, "kvm_cpu_exec", [&] { vcpu_exit(1, port + 1); });
}

// vm_prepare_start: run state, then kvmclock's start (KVM_SET_CLOCK, then KVMCLOCK_CTRL on each
// vCPU thread), as vmm/core/vm_control.cc and vmm/devices/kvmclock.cc do it.
void start(RunState from, uint64_t clock_ns, int32_t ctrl_err) {
  trace::Span s("vm_start");
  change(from, RunState::Running);
  trace::Span k("kvmclock");
  clock_set(clock_ns);
  on_vcpu(0, "do_kvmclock_ctrl", [&] { ctrl(0, ctrl_err); });
  on_vcpu(1, "do_kvmclock_ctrl", [&] { ctrl(1, ctrl_err); });
}

// do_vm_stop on a running VM: run state, vCPUs paused, kvmclock's stop (TSC reads, get).
void stop(RunState to, uint64_t clock_ns) {
  trace::Span s("do_vm_stop");
  change(RunState::Running, to);
  trace::Span k("kvmclock");
  on_vcpu(0, "kvm_synchronize_tsc", [] { trace::emit(trace::TscRead{0, 0x1000}); });
  on_vcpu(1, "kvm_synchronize_tsc", [] { trace::emit(trace::TscRead{1, 0x1001}); });
  trace::Span u("kvm_update_clock");
  clock_get(clock_ns);
}

}  // namespace

void legit_run() {
  // Boot: the first start sets the never-saved clock (0); the guest has not enabled kvmclock yet.
  start(RunState::Prelaunch, 0, 22);
  run_both(0x3f8);
  {
    trace::Span q("qmp:stop");
    trace::emit(trace::MonitorCommand{R"({"execute":"stop"})"});
    stop(RunState::Paused, 1'000'000);
  }
  // A stop of a stopped VM changes nothing; an illegal change is refused and recorded.
  change(RunState::Paused, RunState::InMigrate, false);
  {
    trace::Span q("qmp:cont");
    start(RunState::Paused, 1'000'000, 0);
  }
  run_both(0x3f8);
  {
    trace::Span m("migration completion");
    stop(RunState::FinishMigrate, 2'000'000);
    trace::emit(trace::SnapshotSection{trace::SectionOp::Save, "kvmclock", 32, 0x1234, true, ""});
    trace::Span p("kvmclock_pre_save");
    clock_get(2'100'000);  // not a plain pause: pre_save reads the clock again
  }
  change(RunState::FinishMigrate, RunState::PostMigrate);
  {
    trace::Span q("qmp:cont");
    start(RunState::PostMigrate, 2'100'000, 0);
  }
  run_both(0x3f8);
  trace::Span q("vm_shutdown");
  stop(RunState::Shutdown, 3'000'000);
}

uint64_t seq_of(const std::string& path, std::string_view type, std::string_view fields) {
  auto reader = trace::Reader::open(path);
  EXPECT_TRUE(reader.ok()) << reader.error().describe();
  if (!reader.ok()) return UINT64_MAX;
  while (true) {
    auto e = (*reader)->next();
    EXPECT_TRUE(e.ok());
    if (!e.ok() || *e == nullptr) break;
    if (trace::event_type_name((*e)->type()) == type &&
        trace::format_fields(**e).find(fields) != std::string::npos) {
      return (*e)->seq;
    }
  }
  ADD_FAILURE() << "no " << type << " event with '" << fields << "' in " << path;
  return UINT64_MAX;
}

Status write_raw_trace(const std::string& path, const std::vector<trace::EventRecord>& events,
                       bool footer) {
  using namespace trace;
  RRVM_ASSIGN_OR_RETURN(auto writer, internal::ChunkWriter::create(path, 3));
  {
    TraceHeader th;
    th.format_version = internal::FORMAT_VERSION;
    th.header = kvm_header();
    th.clock_source = "monotonic";
    capnp::MallocMessageBuilder msg;
    internal::encode_header(th, msg.initRoot<schema::Batch>().initHeader());
    RRVM_TRY(writer->add_batch(msg, 0, 0, 0, 0));
    RRVM_TRY(writer->end_chunk());
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const EventRecord& e = events[i];
    capnp::MallocMessageBuilder msg;
    auto batch = msg.initRoot<schema::Batch>();
    if (i == 0) {
      auto threads = batch.initThreads(2);
      internal::encode_thread(ThreadInfo{0, "main", -1, 1}, threads[0]);
      internal::encode_thread(ThreadInfo{1, "vcpu0", 0, 2}, threads[1]);
    }
    batch.setFirstSeq(e.seq);
    batch.setBaseTimeNs(e.time_ns);
    internal::encode_event(e, 0, batch.initEvents(1)[0]);
    RRVM_TRY(writer->add_batch(msg, e.seq, 1, e.time_ns, e.time_ns));
  }
  if (!footer) return writer->end_chunk();
  return writer->finish(events.size(), 0);
}

}  // namespace rrvm::replay::testing
