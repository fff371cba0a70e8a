// Recording API: how the VMM writes events into a trace.
//
//   auto rec = trace::Recorder::open({.path = "run.rrtrace"}, header);
//   trace::install(rec->get());             // emit() is a no-op until a recorder is installed
//   trace::set_thread_vcpu(0);              // on each vCPU thread; set_thread_name() elsewhere
//   trace::emit(trace::TscRead{0, tsc});
//   ...
//   trace::install(nullptr); rec->close();  // writes the footer: the trace is complete
//
// Hot path: emit() stamps the event (time, thread, current span) and copies a compact record into
// the calling thread's own buffer; Cap'n Proto encoding and zstd compression happen on the
// recorder's background thread. No lock is shared by all threads on this path. A full buffer
// drops the event and counts it; drops are written into the trace as warnings.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "trace/events.h"
#include "vmm/base/result.h"

namespace rrvm::trace {

// What the trace says about the VM it recorded.
struct VmConfig {
  uint64_t memory_bytes = 0;
  uint32_t vcpus = 0;
  std::string kernel;  // path, or "rrvm-guest" for the built-in guest
  std::string initrd;
  std::string cmdline;
  std::vector<std::string> devices;  // e.g. "virtio-blk0 disk.img", "virtio-rng0"
  std::string role;                  // "run", "incoming", "replay"
};

struct Header {
  std::string rrvm_version;
  std::string host_kernel;
  int32_t kvm_api_version = -1;  // -1: KVM not used (e.g. a synthetic trace)
  std::vector<std::pair<std::string, int64_t>> kvm_caps;  // name -> KVM_CHECK_EXTENSION result
  std::string cpu_vendor;
  std::string cpu_model;
  uint32_t tsc_khz = 0;
  VmConfig config;
  uint64_t wall_clock_start_ns = 0;  // CLOCK_REALTIME at open
};

// Fills host_kernel, cpu_vendor, cpu_model and wall_clock_start_ns from this machine.
void fill_host_info(Header& header);

// How events are stamped (docs/trace-format.md, "Ordering"). Auto picks the TSC when the kernel
// itself uses it as its clocksource, else CLOCK_MONOTONIC.
enum class ClockChoice : uint8_t { Auto, Tsc, Monotonic };

struct RecorderOptions {
  std::string path;
  size_t chunk_bytes = 256 * 1024;       // raw Cap'n Proto bytes per compressed chunk (about)
  uint32_t flush_interval_ms = 100;      // a chunk is written at least this often
  size_t thread_buffer_bytes = 1 << 20;  // per emitting thread
  int zstd_level = 3;
  ClockChoice clock = ClockChoice::Auto;
};

struct RecorderStats {
  uint64_t events = 0;
  uint64_t dropped = 0;
  uint64_t chunks = 0;
  uint64_t raw_bytes = 0;         // Cap'n Proto bytes before compression
  uint64_t compressed_bytes = 0;  // bytes written to the file
};

class Recorder {
 public:
  static Result<std::unique_ptr<Recorder>> open(const RecorderOptions& options,
                                                const Header& header);
  virtual ~Recorder() = default;

  // Drains every buffer, writes the last chunk, the index and the footer, and closes the file.
  // Idempotent. Events emitted after close() are dropped and counted.
  virtual Status close() = 0;
  virtual RecorderStats stats() const = 0;
  virtual const std::string& path() const = 0;
};

// The process-wide recorder that emit() writes to (nullptr: tracing off).
void install(Recorder* recorder);
bool enabled();

// Identity of the calling thread in every event it emits.
void set_thread_vcpu(int32_t vcpu_index);
void set_thread_name(std::string_view name);  // "main", "io", "migration", "qmp", ...

void emit(const RunStateChange& e);
void emit(const NotifierCall& e);
void emit(const MsrAccess& e);
void emit(const ClockAccess& e);
void emit(const KvmclockCtrl& e);
void emit(const TscRead& e);
void emit(const TscKhz& e);
void emit(const DeviceStatusWrite& e);
void emit(const DeviceReset& e);
void emit(const DeviceBackend& e);
void emit(const VcpuExit& e);
void emit(const MonitorCommand& e);
void emit(const MonitorReply& e);
void emit(const MigrationEvent& e);
void emit(const SnapshotSection& e);
void emit(const UserMark& e);
void emit(const Warning& e);
void emit(const HvCall& e);

}  // namespace rrvm::trace
