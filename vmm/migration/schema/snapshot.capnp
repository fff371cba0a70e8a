# The rrvm migration stream: the same bytes are a snapshot file and a live-migration stream.
#
# Layout (all integers little-endian):
#
#   preamble   8 bytes "RRVMSNAP", u32 format version, u32 zero
#   records    each: u32 kind, u32 descriptorBytes, u64 payloadBytes,
#              then the descriptor (one unpacked Cap'n Proto message, the struct named by the
#              kind below), then payloadBytes of raw payload
#
# Record kinds and order (vmm/migration/format.h is the C++ side of this list):
#
#   1 StreamHeader  exactly once, first; no payload
#   2 SectionHeader a device/CPU/VM section; payload = the section's bytes (opaque to the stream)
#   3 RamRun        a run of consecutive guest pages; payload = the non-zero pages, compressed
#   4 Iteration     marks the end of one precopy pass; no payload
#   5 End           exactly once, last; no payload
#   6 Ack           only on a live channel, sent back by the target after End; no payload
#
# A stream reader refuses anything else: unknown kinds, records before the header, a missing or
# repeated header, trailing bytes after End, descriptors or payloads above the caps in format.h.
#
# Compatibility: a change that an older reader would misread bumps FORMAT_VERSION. Adding fields
# at the end of a struct does not (Cap'n Proto reads missing fields as their defaults).

@0x8b602f9a42c2aef6;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("rrvm::migration::schema");

struct RamRegion {
  gpa @0 :UInt64;
  size @1 :UInt64;
}

struct SectionInfo {
  name @0 :Text;
  version @1 :UInt32;
}

struct VmConfig {
  memoryBytes @0 :UInt64;
  vcpus @1 :UInt32;
  ramRegions @2 :List(RamRegion);
  # The non-iterable sections the source will send, in order. The target checks them against the
  # sections it can load before any RAM is transferred.
  sections @3 :List(SectionInfo);
}

struct StreamHeader {
  formatVersion @0 :UInt32;
  rrvmVersion @1 :Text;
  cpuVendor @2 :Text;       # "GenuineIntel", "AuthenticAMD": must match on the target
  pageSize @3 :UInt32;      # 4096
  config @4 :VmConfig;
  live @5 :Bool;            # true: the target answers with an Ack record after End
  createdRealtimeNs @6 :UInt64;
  # Pages the first pass found to be zero are not sent at all: the target's RAM must be zero
  # when loading starts (freshly allocated). Later passes send zero pages explicitly.
  bulkSkipsZeroPages @7 :Bool;
}

struct SectionHeader {
  name @0 :Text;            # "cpu/0", "kvmclock", "globalstate", ...
  version @1 :UInt32;
  checksum @2 :UInt64;      # XXH3-64 of the payload
}

enum RamEncoding {
  raw @0;                   # the non-zero pages as they are
  zstd @1;                  # one zstd frame holding the non-zero pages
}

struct RamRun {
  gpa @0 :UInt64;           # of the first page; 4 KiB aligned
  pageCount @1 :UInt32;     # 1 .. MAX_RUN_PAGES
  # Bit i (word i / 64, bit i % 64) set: page i is all zero and not in the payload.
  zeroPages @2 :List(UInt64);
  encoding @3 :RamEncoding;
  checksum @4 :UInt64;      # XXH3-64 of the payload as sent (after compression)
}

struct Iteration {
  number @0 :UInt32;        # 1 = the first (full) pass
  dirtyPages @1 :UInt64;    # pages this pass sent
  bytes @2 :UInt64;         # stream bytes this pass wrote
}

struct End {
  # XXH3-64 over the preamble and the frame and descriptor of every record before this one, in
  # stream order. Payloads are not hashed again: each descriptor holds its payload's checksum, so
  # this covers every byte of the stream.
  streamChecksum @0 :UInt64;
  records @1 :UInt64;       # records before this one
}

struct Ack {
  ok @0 :Bool;
  error @1 :Text;           # why the target refused the stream
}

# The "globalstate" section's payload: the source's run state when the migration completed, so
# that a target resumes only a VM that was running (QEMU's global_state).
struct GlobalState {
  runState @0 :UInt8;       # trace::RunState numbering (trace/events.h)
  runStateName @1 :Text;    # QAPI name, for people reading the stream
}
