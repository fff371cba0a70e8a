# The rrvm trace format: the authority on what every field means. See docs/trace-format.md for the
# file layout (zstd frames, index, footer) and the versioning policy.
#
# A trace file decompresses (`zstd -dc FILE`) to a stream of `Batch` messages, so stock tools print
# a whole trace:
#
#   zstd -dc run.rrtrace | capnp decode trace/schema/trace.capnp Batch
#
# Field numbering and enum values are part of the format: only append, never renumber. An
# incompatible change bumps `formatVersion` (and the version in the file's magic frame).
@0xc9b1d0e4a7f35e21;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("rrvm::trace::schema");

const formatVersion :UInt32 = 1;

# The root type. Every zstd frame (chunk) holds one or more Batches. The file's first batch carries
# the header; the first batch of every chunk carries the complete thread table and the spans open
# when the chunk starts, so any chunk can be decoded on its own (the index points at chunks).
struct Batch {
  header @0 :Header;               # set in the file's first batch only
  threads @1 :List(ThreadInfo);    # threads declared or renamed since the previous batch (all of
                                   # them in a chunk's first batch)
  openSpans @2 :List(OpenSpan);    # a chunk's first batch: spans open at the chunk's start
  events @3 :List(Event);          # in sequence order, consecutive seq within a chunk
}

struct Header {
  formatVersion @0 :UInt32;
  rrvmVersion @1 :Text;
  hostKernel @2 :Text;             # uname -r
  kvmApiVersion @3 :Int32;         # -1: KVM not used (a synthetic or replay trace)
  kvmCaps @4 :List(KvmCap);
  cpuVendor @5 :Text;
  cpuModel @6 :Text;
  tscKhz @7 :UInt32;
  config @8 :VmConfig;
  wallClockStartNs @9 :UInt64;     # CLOCK_REALTIME when the recorder opened
  monotonicStartNs @10 :UInt64;    # CLOCK_MONOTONIC at the same moment: event times are relative
                                   # to it when printed
  clockSource @11 :Text;           # how events were stamped: "tsc" or "monotonic"
}

struct KvmCap {
  name @0 :Text;                   # "KVM_CAP_ADJUST_CLOCK"
  value @1 :Int64;                 # KVM_CHECK_EXTENSION's result
}

struct VmConfig {
  memoryBytes @0 :UInt64;
  vcpus @1 :UInt32;
  kernel @2 :Text;
  initrd @3 :Text;
  cmdline @4 :Text;
  devices @5 :List(Text);
  role @6 :Text;                   # "run", "incoming", "replay"
}

# A thread that emits events. Events name their thread by `id` (compact); the name is declared here.
struct ThreadInfo {
  id @0 :UInt16;
  name @1 :Text;                   # "vcpu0", "main", "io", "migration", ...
  vcpu @2 :Int32;                  # vCPU index, -1 for other threads
  tid @3 :Int32;                   # OS thread id
}

struct OpenSpan {
  id @0 :UInt64;
  parent @1 :UInt64;
  name @2 :Text;
  thread @3 :UInt16;               # the thread that opened it
}

struct Event {
  seq @0 :UInt64;                  # total order of the trace, consistent with causality
  timeNs @1 :UInt64;               # CLOCK_MONOTONIC, ns
  thread @2 :UInt16;               # ThreadInfo.id of the emitting thread
  span @3 :UInt64;                 # innermost open span of the thread (0: none); for spanBegin and
                                   # spanEnd: the span that begins or ends
  union {
    runStateChange @4 :RunStateChange;
    notifierCall @5 :NotifierCall;
    msrAccess @6 :MsrAccess;
    clockAccess @7 :ClockAccess;
    kvmclockCtrl @8 :KvmclockCtrl;
    tscRead @9 :TscRead;
    tscKhz @10 :TscKhz;
    deviceStatusWrite @11 :DeviceStatusWrite;
    deviceReset @12 :DeviceReset;
    deviceBackend @13 :DeviceBackend;
    vcpuExit @14 :VcpuExit;
    monitorCommand @15 :Text;      # the QMP command line (JSON) as received
    monitorReply @16 :Text;        # the reply or event (JSON) as sent
    migration @17 :MigrationEvent;
    snapshotSection @18 :SnapshotSection;
    userMark @19 :Text;
    warning @20 :Warning;
    hvCall @21 :HvCall;
    spanBegin @22 :SpanBegin;
    spanEnd @23 :Void;
    dropped @24 :Dropped;
  }
}

enum RunState {
  debug @0; inmigrate @1; internalError @2; ioError @3; paused @4; postmigrate @5;
  prelaunch @6; finishMigrate @7; restoreVm @8; running @9; saveVm @10; shutdown @11;
  suspended @12; watchdog @13; guestPanicked @14; colo @15;
}
enum SyncLevel { none @0; runtime @1; reset @2; full @3; }   # QEMU's KVM_PUT_*_STATE
enum MsrOp { get @0; put @1; }
enum ClockOp { get @0; set @1; }
enum NotifierPhase { prepare @0; main @1; }
enum StatusSource { guest @0; vmm @1; restore @2; }
enum BackendOp { start @0; stop @1; }
enum MigrationPhase {
  setup @0; iteration @1; completion @2; completed @3; failed @4; cancelled @5;
  loadStart @6; loadDone @7;
}
enum SectionOp { save @0; load @1; }
enum ExitKind {
  io @0; mmio @1; hlt @2; shutdown @3; internalError @4; failEntry @5; systemEvent @6;
  interrupted @7; debugExit @8; other @9;
}

struct RunStateChange {
  from @0 :RunState;
  to @1 :RunState;
  reason @2 :Text;
  accepted @3 :Bool;               # false: an illegal transition that was refused
}

struct NotifierCall {
  handler @0 :Text;
  priority @1 :Int32;
  phase @2 :NotifierPhase;
  running @3 :Bool;
  state @4 :RunState;
}

struct MsrEntry {
  index @0 :UInt32;
  value @1 :UInt64;
}

struct MsrAccess {
  vcpu @0 :Int32;
  op @1 :MsrOp;
  level @2 :SyncLevel;
  entries @3 :List(MsrEntry);      # values read (get) or written (put)
  requested @4 :UInt32;
  processed @5 :UInt32;            # < requested: entries[processed] is the MSR that failed
  err @6 :Int32;                   # errno of the ioctl, 0 on success
}

struct ClockAccess {
  op @0 :ClockOp;
  clockNs @1 :UInt64;
  flags @2 :UInt32;                # KVM_CLOCK_*: 2 TSC_STABLE, 4 REALTIME, 8 HOST_TSC
  hostTsc @3 :UInt64;
  realtimeNs @4 :UInt64;
  err @5 :Int32;
}

struct KvmclockCtrl {
  vcpu @0 :Int32;
  err @1 :Int32;                   # EINVAL: the guest has not enabled kvmclock
}

struct TscRead {
  vcpu @0 :Int32;
  tsc @1 :UInt64;
}

struct TscKhz {
  vcpu @0 :Int32;
  set @1 :Bool;
  khz @2 :UInt32;
  err @3 :Int32;
}

struct DeviceStatusWrite {
  device @0 :Text;
  transport @1 :Text;
  oldStatus @2 :UInt32;            # virtio status bits (ACKNOWLEDGE 1, DRIVER 2, DRIVER_OK 4, ...)
  newStatus @3 :UInt32;
  source @4 :StatusSource;
  accepted @5 :Bool;
  reason @6 :Text;
}

struct DeviceReset {
  device @0 :Text;
  reason @1 :Text;
}

struct DeviceBackend {
  device @0 :Text;
  op @1 :BackendOp;
  reason @2 :Text;
}

struct VcpuExit {
  vcpu @0 :Int32;
  kind @1 :ExitKind;
  address @2 :UInt64;              # port (io) or guest physical address (mmio)
  size @3 :UInt32;
  isWrite @4 :Bool;
  data @5 :Data;                   # bytes written by the guest or returned to it
  detail @6 :UInt32;
}

struct MigrationEvent {
  phase @0 :MigrationPhase;
  iteration @1 :UInt32;
  dirtyPages @2 :UInt64;
  bytes @3 :UInt64;
  downtimeNs @4 :UInt64;
  detail @5 :Text;
}

struct SnapshotSection {
  op @0 :SectionOp;
  device @1 :Text;
  bytes @2 :UInt64;
  checksum @3 :UInt64;
  ok @4 :Bool;
  error @5 :Text;
}

struct Warning {
  component @0 :Text;
  text @1 :Text;
}

struct HvCall {
  vcpu @0 :Int32;                  # -1: a VM-wide call
  name @1 :Text;                   # "KVM_SET_REGS"
  result @2 :Int64;
  err @3 :Int32;
  payload @4 :Data;
}

struct SpanBegin {
  parent @0 :UInt64;               # 0: a root span; may belong to another thread
  name @1 :Text;
}

# Events the thread could not record since its previous recorded event (its buffer was full).
struct Dropped {
  count @0 :UInt64;
}
