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
#
# Events are stored compactly (what repeats from one event to the next compresses to almost
# nothing): an event's sequence number is firstSeq + its index in `events`, and its time is
# baseTimeNs plus the timeDeltaNs of every event up to and including it.
struct Batch {
  header @0 :Header;               # set in the file's first batch only
  threads @1 :List(ThreadInfo);    # threads declared or renamed since the previous batch (all of
                                   # them in a chunk's first batch)
  openSpans @2 :List(OpenSpan);    # a chunk's first batch: spans open at the chunk's start
  firstSeq @3 :UInt64;             # seq of events[0]; sequence numbers are consecutive
  baseTimeNs @4 :UInt64;           # CLOCK_MONOTONIC ns that events[0].timeDeltaNs counts from
  events @5 :List(Event);          # in sequence order
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
  # seq and time: see Batch. seq is a total order of the trace, consistent with causality.
  timeDeltaNs @0 :UInt32;          # ns since the previous event of the batch (CLOCK_MONOTONIC)
  thread @1 :UInt16;               # ThreadInfo.id of the emitting thread
  span @2 :UInt64;                 # innermost open span of the thread (0: none); for spanBegin and
                                   # spanEnd: the span that begins or ends
  # The frequent small events are groups (stored inside the Event, no pointer); the others are
  # structs of their own.
  union {
    runStateChange @3 :RunStateChange;
    notifierCall @4 :NotifierCall;
    msrAccess @5 :MsrAccess;
    clockAccess @6 :ClockAccess;
    kvmclockCtrl :group {
      vcpu @7 :Int32;
      err @8 :Int32;               # EINVAL: the guest has not enabled kvmclock
    }
    tscRead :group {
      vcpu @9 :Int32;
      tsc @10 :UInt64;
    }
    tscKhz :group {
      vcpu @11 :Int32;
      set @12 :Bool;               # false: a get
      khz @13 :UInt32;
      err @14 :Int32;
    }
    deviceStatusWrite @15 :DeviceStatusWrite;
    deviceReset @16 :DeviceReset;
    deviceBackend @17 :DeviceBackend;
    vcpuExit :group {
      vcpu @18 :Int32;
      kind @19 :ExitKind;
      isWrite @20 :Bool;
      inlineLength @21 :UInt8;     # bytes written by the guest or returned to it: this many (at
      value @22 :UInt64;           # most 8) in value, little-endian, or, when data is set, all
      data @23 :Data;              # of data (string I/O)
      address @24 :UInt64;         # port (io) or guest physical address (mmio)
      size @25 :UInt32;            # bytes per access
      detail @26 :UInt32;          # internal-error suberror, system-event type, raw exit reason
    }
    monitorCommand @27 :Text;      # the QMP command line (JSON) as received
    monitorReply @28 :Text;        # the reply or event (JSON) as sent
    migration @29 :MigrationEvent;
    snapshotSection @30 :SnapshotSection;
    userMark @31 :Text;
    warning @32 :Warning;
    hvCall @33 :HvCall;
    spanBegin @34 :SpanBegin;
    spanEnd @35 :Void;
    dropped :group {
      # Events the thread could not record since its previous recorded event (buffer full).
      count @36 :UInt64;
    }
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
