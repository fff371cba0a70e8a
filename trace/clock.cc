#include "trace/clock.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <string>

namespace rrvm::trace::internal {
namespace {

uint64_t read_clock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

bool cpu_has_flags(const std::string& flags_line) {
  auto has = [&](const char* flag) {
    return flags_line.find(std::string(" ") + flag + " ") != std::string::npos ||
           flags_line.ends_with(std::string(" ") + flag);
  };
  return has("constant_tsc") && has("nonstop_tsc");
}

long membarrier(int cmd) { return syscall(SYS_membarrier, cmd, 0, 0); }

}  // namespace

uint64_t monotonic_ns() { return read_clock(CLOCK_MONOTONIC); }
uint64_t realtime_ns() { return read_clock(CLOCK_REALTIME); }

bool tsc_is_reliable() {
  std::ifstream cs("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string source;
  if (!(cs >> source) || source != "tsc") return false;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.starts_with("flags")) return cpu_has_flags(line);
  }
  return false;
}

std::string_view tick_source_name(TickSource source) {
  return source == TickSource::Tsc ? "tsc" : "monotonic";
}

void init_fences() {
  static std::once_flag once;
  std::call_once(once, [] {
    long cmds = membarrier(MEMBARRIER_CMD_QUERY);
    bool ok = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
              membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    g_membarrier_ok.store(ok, std::memory_order_seq_cst);
  });
}

void heavy_fence() {
  if (g_membarrier_ok.load(std::memory_order_relaxed)) {
    // Every thread of the process that is running executes a full barrier before this returns;
    // threads that are not running went through one when they were switched out.
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

TickConverter::TickConverter(TickSource source) : source_(source) { sample(); }

uint64_t TickConverter::sample() {
  if (source_ == TickSource::Monotonic) return monotonic_ns();
  // Bracket the clock read between two TSC reads and pair it with their midpoint.
  uint64_t t1 = read_ticks(TickSource::Tsc);
  uint64_t ns = monotonic_ns();
  uint64_t t2 = read_ticks(TickSource::Tsc);
  Sample s{t1 + (t2 - t1) / 2, ns};
  if (samples_.empty() || (s.ticks > samples_.back().ticks && s.ns > samples_.back().ns)) {
    samples_.push_back(s);
  }
  // An idle stretch with a long backlog of uncommitted stamps keeps adding samples: thin the middle
  // (interpolating across a wider span loses little) so the history stays bounded.
  if (samples_.size() > 256) samples_.erase(samples_.begin() + 1, samples_.begin() + 129);
  return samples_.back().ticks;
}

uint64_t TickConverter::to_ns(uint64_t ticks) {
  if (source_ == TickSource::Monotonic) return ticks;
  // Drop samples the merge has passed: stamps arrive in non-decreasing order.
  while (samples_.size() > 2 && samples_[1].ticks <= ticks) samples_.pop_front();
  const Sample& a = samples_[0];
  if (samples_.size() == 1) return a.ns;  // no rate yet: only possible before any real stamp
  const Sample& b = samples_[1];
  // Interpolate between a and b; past b (only the newest pair) extrapolate at the same rate.
  __int128 dt = static_cast<__int128>(ticks) - static_cast<__int128>(a.ticks);
  __int128 ns = static_cast<__int128>(a.ns) +
                dt * static_cast<__int128>(b.ns - a.ns) / static_cast<__int128>(b.ticks - a.ticks);
  return ns < 0 ? 0 : static_cast<uint64_t>(ns);
}

}  // namespace rrvm::trace::internal
