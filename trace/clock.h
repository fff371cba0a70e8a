// Time stamps and the asymmetric fence behind the recorder's global order (docs/trace-format.md,
// "Ordering").
//
// Every event is stamped on its own thread with a tick count that increases with real time across
// all CPUs: the TSC (read ordered, after an LFENCE, so it cannot be taken before the loads that
// precede it) when the kernel itself trusts the TSC as its clocksource, else CLOCK_MONOTONIC in ns.
// The writer thread merges the per-thread streams by stamp and converts ticks to CLOCK_MONOTONIC
// ns.
#pragma once

#include <x86intrin.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <string_view>

namespace rrvm::trace::internal {

enum class TickSource : uint8_t { Tsc, Monotonic };

uint64_t monotonic_ns();
uint64_t realtime_ns();

// Ordered read of the tick source: the LFENCE keeps RDTSC from executing before earlier loads, so
// an event stamped after observing another thread's write gets a later stamp than that thread's
// events before the write.
inline uint64_t read_ticks(TickSource source) {
  if (source == TickSource::Tsc) {
    _mm_lfence();
    return __rdtsc();
  }
  return monotonic_ns();
}

// True when the kernel uses the TSC as its clocksource (it checked the TSC is synchronized across
// CPUs) and the CPU has constant_tsc and nonstop_tsc.
bool tsc_is_reliable();
std::string_view tick_source_name(TickSource source);

// The asymmetric fence. Emitting threads publish "busy" with a plain store followed by
// light_fence() (a compiler barrier when membarrier(2) is available); the writer calls
// heavy_fence(), which makes every other thread's earlier stores visible
// (MEMBARRIER_CMD_PRIVATE_EXPEDITED), before it reads the busy flags. Without membarrier both sides
// fall back to a full fence.
void init_fences();  // idempotent; registers with membarrier
inline std::atomic<bool> g_membarrier_ok{false};
inline void light_fence() {
  if (g_membarrier_ok.load(std::memory_order_relaxed)) {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
}
void heavy_fence();

// Converts ticks to CLOCK_MONOTONIC ns by linear interpolation between (ticks, ns) samples the
// writer takes each round. Stamps must be converted in non-decreasing order (the merge order);
// the result is then non-decreasing too and exact at every sample.
class TickConverter {
 public:
  explicit TickConverter(TickSource source);
  // Takes a sample now and returns its tick value; stamps below it can be converted.
  uint64_t sample();
  uint64_t to_ns(uint64_t ticks);

 private:
  struct Sample {
    uint64_t ticks;
    uint64_t ns;
  };
  TickSource source_;
  std::deque<Sample> samples_;  // increasing in both fields
};

}  // namespace rrvm::trace::internal
