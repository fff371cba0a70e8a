#include "trace/capnp_codec.h"

#include <algorithm>
#include <cstring>

namespace rrvm::trace::internal {
namespace {

namespace s = ::rrvm::trace::schema;

// Empty strings and byte arrays stay null pointers: smaller, and read back as empty.
#define RRVM_PUT_BLOB(builder, Name, view)                                                    \
  do {                                                                                        \
    if (!(view).empty()) {                                                                    \
      std::memcpy((builder).init##Name((view).size()).begin(), (view).data(), (view).size()); \
    }                                                                                         \
  } while (0)

std::string_view text(capnp::Text::Reader t) { return {t.cStr(), t.size()}; }
std::span<const uint8_t> data(capnp::Data::Reader d) { return {d.begin(), d.size()}; }

// A trace may hold enum values this rrvm does not know; they map to a value outside the C++ enum,
// which the name functions print as "unknown".
template <typename E, typename W>
E to_enum(W wire, int count) {
  auto v = static_cast<uint16_t>(wire);
  return static_cast<E>(v < count ? v : 0xff);
}
template <typename W, typename E>
W to_wire(E e) {
  return static_cast<W>(static_cast<uint16_t>(e));
}

void encode(const RunStateChange& e, s::Event::Builder out) {
  auto b = out.initRunStateChange();
  b.setFrom(to_wire<s::RunState>(e.from));
  b.setTo(to_wire<s::RunState>(e.to));
  RRVM_PUT_BLOB(b, Reason, e.reason);
  b.setAccepted(e.accepted);
}

void encode(const NotifierCall& e, s::Event::Builder out) {
  auto b = out.initNotifierCall();
  RRVM_PUT_BLOB(b, Handler, e.handler);
  b.setPriority(e.priority);
  b.setPhase(to_wire<s::NotifierPhase>(e.phase));
  b.setRunning(e.running);
  b.setState(to_wire<s::RunState>(e.state));
}

void encode(const MsrAccess& e, s::Event::Builder out) {
  auto b = out.initMsrAccess();
  b.setVcpu(e.vcpu);
  b.setOp(to_wire<s::MsrOp>(e.op));
  b.setLevel(to_wire<s::SyncLevel>(e.level));
  auto entries = b.initEntries(static_cast<unsigned>(e.entries.size()));
  for (unsigned i = 0; i < e.entries.size(); ++i) {
    entries[i].setIndex(e.entries[i].index);
    entries[i].setValue(e.entries[i].value);
  }
  b.setRequested(e.requested);
  b.setProcessed(e.processed);
  b.setErr(e.err);
}

void encode(const ClockAccess& e, s::Event::Builder out) {
  auto b = out.initClockAccess();
  b.setOp(to_wire<s::ClockOp>(e.op));
  b.setClockNs(e.clock_ns);
  b.setFlags(e.flags);
  b.setHostTsc(e.host_tsc);
  b.setRealtimeNs(e.realtime_ns);
  b.setErr(e.err);
}

void encode(const KvmclockCtrl& e, s::Event::Builder out) {
  auto b = out.initKvmclockCtrl();
  b.setVcpu(e.vcpu);
  b.setErr(e.err);
}

void encode(const TscRead& e, s::Event::Builder out) {
  auto b = out.initTscRead();
  b.setVcpu(e.vcpu);
  b.setTsc(e.tsc);
}

void encode(const TscKhz& e, s::Event::Builder out) {
  auto b = out.initTscKhz();
  b.setVcpu(e.vcpu);
  b.setSet(e.set);
  b.setKhz(e.khz);
  b.setErr(e.err);
}

void encode(const DeviceStatusWrite& e, s::Event::Builder out) {
  auto b = out.initDeviceStatusWrite();
  RRVM_PUT_BLOB(b, Device, e.device);
  RRVM_PUT_BLOB(b, Transport, e.transport);
  b.setOldStatus(e.old_status);
  b.setNewStatus(e.new_status);
  b.setSource(to_wire<s::StatusSource>(e.source));
  b.setAccepted(e.accepted);
  RRVM_PUT_BLOB(b, Reason, e.reason);
}

void encode(const DeviceReset& e, s::Event::Builder out) {
  auto b = out.initDeviceReset();
  RRVM_PUT_BLOB(b, Device, e.device);
  RRVM_PUT_BLOB(b, Reason, e.reason);
}

void encode(const DeviceBackend& e, s::Event::Builder out) {
  auto b = out.initDeviceBackend();
  RRVM_PUT_BLOB(b, Device, e.device);
  b.setOp(to_wire<s::BackendOp>(e.op));
  RRVM_PUT_BLOB(b, Reason, e.reason);
}

void encode(const VcpuExit& e, s::Event::Builder out) {
  auto b = out.initVcpuExit();
  b.setVcpu(e.vcpu);
  b.setKind(to_wire<s::ExitKind>(e.kind));
  b.setAddress(e.address);
  b.setSize(e.size);
  b.setIsWrite(e.is_write);
  if (e.data.size() <= sizeof(uint64_t)) {
    // The common case (port and MMIO accesses) stays inside the Event: no pointer.
    uint64_t value = 0;
    if (!e.data.empty()) std::memcpy(&value, e.data.data(), e.data.size());
    b.setValue(value);
    b.setInlineLength(static_cast<uint8_t>(e.data.size()));
  } else {
    RRVM_PUT_BLOB(b, Data, e.data);
  }
  b.setDetail(e.detail);
}

void encode(const MonitorCommand& e, s::Event::Builder out) {
  std::memcpy(out.initMonitorCommand(e.json.size()).begin(), e.json.data(), e.json.size());
}

void encode(const MonitorReply& e, s::Event::Builder out) {
  std::memcpy(out.initMonitorReply(e.json.size()).begin(), e.json.data(), e.json.size());
}

void encode(const MigrationEvent& e, s::Event::Builder out) {
  auto b = out.initMigration();
  b.setPhase(to_wire<s::MigrationPhase>(e.phase));
  b.setIteration(e.iteration);
  b.setDirtyPages(e.dirty_pages);
  b.setBytes(e.bytes);
  b.setDowntimeNs(e.downtime_ns);
  RRVM_PUT_BLOB(b, Detail, e.detail);
}

void encode(const SnapshotSection& e, s::Event::Builder out) {
  auto b = out.initSnapshotSection();
  b.setOp(to_wire<s::SectionOp>(e.op));
  RRVM_PUT_BLOB(b, Device, e.device);
  b.setBytes(e.bytes);
  b.setChecksum(e.checksum);
  b.setOk(e.ok);
  RRVM_PUT_BLOB(b, Error, e.error);
}

void encode(const UserMark& e, s::Event::Builder out) {
  std::memcpy(out.initUserMark(e.text.size()).begin(), e.text.data(), e.text.size());
}

void encode(const Warning& e, s::Event::Builder out) {
  auto b = out.initWarning();
  RRVM_PUT_BLOB(b, Component, e.component);
  RRVM_PUT_BLOB(b, Text, e.text);
}

void encode(const HvCall& e, s::Event::Builder out) {
  auto b = out.initHvCall();
  b.setVcpu(e.vcpu);
  RRVM_PUT_BLOB(b, Name, e.name);
  b.setResult(e.result);
  b.setErr(e.err);
  RRVM_PUT_BLOB(b, Payload, e.payload);
}

void encode(const SpanBegin& e, s::Event::Builder out) {
  auto b = out.initSpanBegin();
  b.setParent(e.parent);
  RRVM_PUT_BLOB(b, Name, e.name);
}

void encode(const SpanEnd&, s::Event::Builder out) { out.setSpanEnd(); }

void encode(const Dropped& e, s::Event::Builder out) { out.initDropped().setCount(e.count); }

void encode_body(const EventBody& body, s::Event::Builder out) {
  std::visit(
      [&](const auto& e) {
        // The writer only encodes events it unpacked from its own buffers: never monostate.
        if constexpr (!std::is_same_v<std::decay_t<decltype(e)>, std::monostate>) encode(e, out);
      },
      body);
}

std::span<const uint8_t> exit_data(s::Event::VcpuExit::Reader r, DecodeScratch* scratch) {
  if (r.hasData()) return data(r.getData());
  uint64_t value = r.getValue();
  std::memcpy(scratch->exit_data, &value, sizeof value);
  return {scratch->exit_data, std::min<size_t>(r.getInlineLength(), sizeof value)};
}

void decode_run_state_change(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getRunStateChange();
  body.emplace<RunStateChange>(RunStateChange{to_enum<RunState>(r.getFrom(), RUN_STATE_COUNT),
                                              to_enum<RunState>(r.getTo(), RUN_STATE_COUNT),
                                              text(r.getReason()), r.getAccepted()});
}

void decode_notifier_call(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getNotifierCall();
  body.emplace<NotifierCall>(NotifierCall{text(r.getHandler()), r.getPriority(),
                                          to_enum<NotifierPhase>(r.getPhase(), 2), r.getRunning(),
                                          to_enum<RunState>(r.getState(), RUN_STATE_COUNT)});
}

void decode_msr_access(const s::Event::Reader& in, DecodeScratch* scratch, EventBody& body) {
  auto r = in.getMsrAccess();
  auto entries = r.getEntries();
  auto& msrs = scratch->msrs;
  msrs.clear();
  msrs.reserve(entries.size());
  for (auto entry : entries) msrs.push_back({entry.getIndex(), entry.getValue()});
  body.emplace<MsrAccess>(MsrAccess{r.getVcpu(), to_enum<MsrOp>(r.getOp(), 2),
                                    to_enum<SyncLevel>(r.getLevel(), 4), msrs, r.getRequested(),
                                    r.getProcessed(), r.getErr()});
}

void decode_clock_access(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getClockAccess();
  body.emplace<ClockAccess>(ClockAccess{to_enum<ClockOp>(r.getOp(), 2), r.getClockNs(),
                                        r.getFlags(), r.getHostTsc(), r.getRealtimeNs(),
                                        r.getErr()});
}

void decode_kvmclock_ctrl(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getKvmclockCtrl();
  body.emplace<KvmclockCtrl>(KvmclockCtrl{r.getVcpu(), r.getErr()});
}

void decode_tsc_read(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getTscRead();
  body.emplace<TscRead>(TscRead{r.getVcpu(), r.getTsc()});
}

void decode_tsc_khz(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getTscKhz();
  body.emplace<TscKhz>(TscKhz{r.getVcpu(), r.getSet(), r.getKhz(), r.getErr()});
}

void decode_device_status_write(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getDeviceStatusWrite();
  body.emplace<DeviceStatusWrite>(DeviceStatusWrite{
      text(r.getDevice()), text(r.getTransport()), r.getOldStatus(), r.getNewStatus(),
      to_enum<StatusSource>(r.getSource(), 3), r.getAccepted(), text(r.getReason())});
}

void decode_device_reset(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getDeviceReset();
  body.emplace<DeviceReset>(DeviceReset{text(r.getDevice()), text(r.getReason())});
}

void decode_device_backend(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getDeviceBackend();
  body.emplace<DeviceBackend>(
      DeviceBackend{text(r.getDevice()), to_enum<BackendOp>(r.getOp(), 2), text(r.getReason())});
}

void decode_vcpu_exit(const s::Event::Reader& in, DecodeScratch* scratch, EventBody& body) {
  auto r = in.getVcpuExit();
  body.emplace<VcpuExit>(VcpuExit{r.getVcpu(), to_enum<ExitKind>(r.getKind(), 10), r.getAddress(),
                                  r.getSize(), r.getIsWrite(), exit_data(r, scratch),
                                  r.getDetail()});
}

void decode_monitor_command(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  body.emplace<MonitorCommand>(MonitorCommand{text(in.getMonitorCommand())});
}

void decode_monitor_reply(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  body.emplace<MonitorReply>(MonitorReply{text(in.getMonitorReply())});
}

void decode_migration(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getMigration();
  body.emplace<MigrationEvent>(MigrationEvent{to_enum<MigrationPhase>(r.getPhase(), 8),
                                              r.getIteration(), r.getDirtyPages(), r.getBytes(),
                                              r.getDowntimeNs(), text(r.getDetail())});
}

void decode_snapshot_section(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getSnapshotSection();
  body.emplace<SnapshotSection>(SnapshotSection{to_enum<SectionOp>(r.getOp(), 2),
                                                text(r.getDevice()), r.getBytes(), r.getChecksum(),
                                                r.getOk(), text(r.getError())});
}

void decode_user_mark(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  body.emplace<UserMark>(UserMark{text(in.getUserMark())});
}

void decode_warning(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getWarning();
  body.emplace<Warning>(Warning{text(r.getComponent()), text(r.getText())});
}

void decode_hv_call(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getHvCall();
  body.emplace<HvCall>(
      HvCall{r.getVcpu(), text(r.getName()), r.getResult(), r.getErr(), data(r.getPayload())});
}

void decode_span_begin(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  auto r = in.getSpanBegin();
  body.emplace<SpanBegin>(SpanBegin{r.getParent(), text(r.getName())});
}

void decode_span_end(const s::Event::Reader&, DecodeScratch*, EventBody& body) {
  body.emplace<SpanEnd>(SpanEnd{});
}

void decode_dropped(const s::Event::Reader& in, DecodeScratch*, EventBody& body) {
  body.emplace<Dropped>(Dropped{in.getDropped().getCount()});
}

using Decoder = void (*)(const s::Event::Reader&, DecodeScratch*, EventBody&);
// Indexed by the union tag; the tags are the EventType values (checked below).
constexpr Decoder DECODERS[] = {
    decode_run_state_change, decode_notifier_call,
    decode_msr_access,       decode_clock_access,
    decode_kvmclock_ctrl,    decode_tsc_read,
    decode_tsc_khz,          decode_device_status_write,
    decode_device_reset,     decode_device_backend,
    decode_vcpu_exit,        decode_monitor_command,
    decode_monitor_reply,    decode_migration,
    decode_snapshot_section, decode_user_mark,
    decode_warning,          decode_hv_call,
    decode_span_begin,       decode_span_end,
    decode_dropped,
};
static_assert(std::size(DECODERS) == EVENT_TYPE_COUNT - 1);
static_assert(static_cast<int>(s::Event::RUN_STATE_CHANGE) ==
              static_cast<int>(EventType::RunStateChange));
static_assert(static_cast<int>(s::Event::NOTIFIER_CALL) ==
              static_cast<int>(EventType::NotifierCall));
static_assert(static_cast<int>(s::Event::MSR_ACCESS) == static_cast<int>(EventType::MsrAccess));
static_assert(static_cast<int>(s::Event::CLOCK_ACCESS) == static_cast<int>(EventType::ClockAccess));
static_assert(static_cast<int>(s::Event::KVMCLOCK_CTRL) ==
              static_cast<int>(EventType::KvmclockCtrl));
static_assert(static_cast<int>(s::Event::TSC_READ) == static_cast<int>(EventType::TscRead));
static_assert(static_cast<int>(s::Event::TSC_KHZ) == static_cast<int>(EventType::TscKhz));
static_assert(static_cast<int>(s::Event::DEVICE_STATUS_WRITE) ==
              static_cast<int>(EventType::DeviceStatusWrite));
static_assert(static_cast<int>(s::Event::DEVICE_RESET) == static_cast<int>(EventType::DeviceReset));
static_assert(static_cast<int>(s::Event::DEVICE_BACKEND) ==
              static_cast<int>(EventType::DeviceBackend));
static_assert(static_cast<int>(s::Event::VCPU_EXIT) == static_cast<int>(EventType::VcpuExit));
static_assert(static_cast<int>(s::Event::MONITOR_COMMAND) ==
              static_cast<int>(EventType::MonitorCommand));
static_assert(static_cast<int>(s::Event::MONITOR_REPLY) ==
              static_cast<int>(EventType::MonitorReply));
static_assert(static_cast<int>(s::Event::MIGRATION) == static_cast<int>(EventType::MigrationEvent));
static_assert(static_cast<int>(s::Event::SNAPSHOT_SECTION) ==
              static_cast<int>(EventType::SnapshotSection));
static_assert(static_cast<int>(s::Event::USER_MARK) == static_cast<int>(EventType::UserMark));
static_assert(static_cast<int>(s::Event::WARNING) == static_cast<int>(EventType::Warning));
static_assert(static_cast<int>(s::Event::HV_CALL) == static_cast<int>(EventType::HvCall));
static_assert(static_cast<int>(s::Event::SPAN_BEGIN) == static_cast<int>(EventType::SpanBegin));
static_assert(static_cast<int>(s::Event::SPAN_END) == static_cast<int>(EventType::SpanEnd));
static_assert(static_cast<int>(s::Event::DROPPED) == static_cast<int>(EventType::Dropped));

// Decodes into `body` in place (a hot loop of the reader: no temporary variant).
void decode_body(const s::Event::Reader& in, DecodeScratch* scratch, EventBody& body) {
  auto tag = static_cast<size_t>(in.which());
  if (tag < std::size(DECODERS)) {
    DECODERS[tag](in, scratch, body);
  } else {
    body.emplace<std::monostate>();  // a union member added after this rrvm
  }
}

}  // namespace

void encode_event(const EventRecord& in, uint32_t time_delta_ns, s::Event::Builder out) {
  out.setTimeDeltaNs(time_delta_ns);
  out.setThread(in.thread);
  out.setSpan(in.span);
  encode_body(in.body, out);
}

void decode_event(const s::Event::Reader& in, EventRecord& out, DecodeScratch* scratch) {
  out.thread = in.getThread();
  out.span = in.getSpan();
  decode_body(in, scratch, out.body);
}

void encode_thread(const ThreadInfo& in, s::ThreadInfo::Builder out) {
  out.setId(in.id);
  out.setName(in.name);
  out.setVcpu(in.vcpu);
  out.setTid(in.tid);
}

ThreadInfo decode_thread(s::ThreadInfo::Reader in) {
  return ThreadInfo{in.getId(), std::string(text(in.getName())), in.getVcpu(), in.getTid()};
}

void encode_header(const TraceHeader& in, s::Header::Builder out) {
  const Header& h = in.header;
  out.setFormatVersion(in.format_version);
  out.setRrvmVersion(h.rrvm_version);
  out.setHostKernel(h.host_kernel);
  out.setKvmApiVersion(h.kvm_api_version);
  auto caps = out.initKvmCaps(static_cast<unsigned>(h.kvm_caps.size()));
  for (unsigned i = 0; i < h.kvm_caps.size(); ++i) {
    caps[i].setName(h.kvm_caps[i].first);
    caps[i].setValue(h.kvm_caps[i].second);
  }
  out.setCpuVendor(h.cpu_vendor);
  out.setCpuModel(h.cpu_model);
  out.setTscKhz(h.tsc_khz);
  auto c = out.initConfig();
  c.setMemoryBytes(h.config.memory_bytes);
  c.setVcpus(h.config.vcpus);
  c.setKernel(h.config.kernel);
  c.setInitrd(h.config.initrd);
  c.setCmdline(h.config.cmdline);
  auto devices = c.initDevices(static_cast<unsigned>(h.config.devices.size()));
  for (unsigned i = 0; i < h.config.devices.size(); ++i) devices.set(i, h.config.devices[i]);
  c.setRole(h.config.role);
  out.setWallClockStartNs(h.wall_clock_start_ns);
  out.setMonotonicStartNs(in.monotonic_start_ns);
  out.setClockSource(in.clock_source);
}

TraceHeader decode_header(s::Header::Reader in) {
  TraceHeader out;
  Header& h = out.header;
  out.format_version = in.getFormatVersion();
  h.rrvm_version = text(in.getRrvmVersion());
  h.host_kernel = text(in.getHostKernel());
  h.kvm_api_version = in.getKvmApiVersion();
  for (auto cap : in.getKvmCaps()) h.kvm_caps.emplace_back(text(cap.getName()), cap.getValue());
  h.cpu_vendor = text(in.getCpuVendor());
  h.cpu_model = text(in.getCpuModel());
  h.tsc_khz = in.getTscKhz();
  auto c = in.getConfig();
  h.config.memory_bytes = c.getMemoryBytes();
  h.config.vcpus = c.getVcpus();
  h.config.kernel = text(c.getKernel());
  h.config.initrd = text(c.getInitrd());
  h.config.cmdline = text(c.getCmdline());
  for (auto d : c.getDevices()) h.config.devices.emplace_back(text(d));
  h.config.role = text(c.getRole());
  h.wall_clock_start_ns = in.getWallClockStartNs();
  out.monotonic_start_ns = in.getMonotonicStartNs();
  out.clock_source = text(in.getClockSource());
  return out;
}

}  // namespace rrvm::trace::internal
