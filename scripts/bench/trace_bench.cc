// Trace benchmarks (docs/benchmarks.md, "Trace"; run by scripts/bench/trace.sh):
//   BM_Emit*            latency of emit() on the emitting thread, 1 and 2 threads at once
//   BM_WriterThroughput end to end: emit N events, close(); N / elapsed
//   BM_ReaderDecode     Reader::next() over a written trace
//   BM_Size*            compressed bytes per event and the ratio over raw Cap'n Proto bytes
#include <benchmark/benchmark.h>
#include <x86intrin.h>

#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "trace/clock.h"
#include "trace/reader.h"
#include "trace/recorder.h"
#include "trace/span.h"

namespace rrvm::trace {
namespace {

using Clock = std::chrono::steady_clock;

std::string bench_path(const char* name) {
  const char* dir = std::getenv("RRVM_BENCH_DIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/rrvm-bench-" + std::to_string(getpid()) +
         "-" + name + ".rrtrace";
}

std::unique_ptr<Recorder> open_recorder(const RecorderOptions& options) {
  Header h;
  fill_host_info(h);
  h.rrvm_version = "bench";
  auto r = Recorder::open(options, h);
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.error().describe().c_str());
    std::abort();
  }
  return std::move(*r);
}

// --- emit latency ------------------------------------------------------------------------------

// Shared by the threads of one run. Every 4096 emits a thread checks the writer's backlog and,
// with the timer paused, lets it catch up, so that no timed emit takes the drop path.
std::unique_ptr<Recorder> g_emit_recorder;
std::atomic<uint64_t> g_emitted{0};

void BM_EmitSmallEvent(benchmark::State& state) {
  constexpr size_t BUFFER = 32u << 20;
  constexpr uint64_t CHECK_EVERY = 4096;
  if (state.thread_index() == 0) {
    g_emitted = 0;
    g_emit_recorder = open_recorder({.path = bench_path("emit"), .thread_buffer_bytes = BUFFER});
    install(g_emit_recorder.get());
  }
  set_thread_vcpu(state.thread_index());
  auto vcpu = static_cast<int32_t>(state.thread_index());
  // Events reported in g_emitted and not yet taken by the writer (written or dropped). Signed: a
  // thread's last < CHECK_EVERY emits are taken before they are reported, so this can go below 0.
  auto backlog = [] {
    auto s = g_emit_recorder->stats();
    return static_cast<int64_t>(g_emitted.load(std::memory_order_relaxed)) -
           static_cast<int64_t>(s.events + s.dropped);
  };
  uint64_t i = 0;
  for (auto _ : state) {
    emit(KvmclockCtrl{vcpu, static_cast<int32_t>(i & 1)});
    if ((++i % CHECK_EVERY) == 0) {
      g_emitted.fetch_add(CHECK_EVERY, std::memory_order_relaxed);
      // About 40 bytes a record: keep the backlog well under half a buffer.
      if (backlog() > static_cast<int64_t>(BUFFER / 40 / 4)) {
        state.PauseTiming();
        while (backlog() > static_cast<int64_t>(CHECK_EVERY * 4)) {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        state.ResumeTiming();
      }
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    install(nullptr);
    (void)g_emit_recorder->close();
    auto s = g_emit_recorder->stats();
    state.counters["dropped"] = static_cast<double>(s.dropped);
    std::remove(g_emit_recorder->path().c_str());
    g_emit_recorder.reset();
  }
}
BENCHMARK(BM_EmitSmallEvent)->Threads(1)->Threads(2)->MinTime(0.2);

// The floor under BM_EmitSmallEvent: one read of the time stamp every emit takes (the TSC where the
// kernel trusts it, else CLOCK_MONOTONIC through the vDSO; the same choice the recorder's Auto
// makes). Reported so that emit's own cost (the difference) can be told from the host's clock.
void BM_EmitTickRead(benchmark::State& state) {
  auto source =
      internal::tsc_is_reliable() ? internal::TickSource::Tsc : internal::TickSource::Monotonic;
  state.SetLabel(std::string(internal::tick_source_name(source)));
  for (auto _ : state) benchmark::DoNotOptimize(internal::read_ticks(source));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EmitTickRead)->MinTime(0.2);

// --- end-to-end writer throughput --------------------------------------------------------------

// Emits `count` TscRead events from one thread into a buffer big enough to hold them all, then
// close(): the time is what the writer needs to merge, encode, compress and write them.
void BM_WriterThroughput(benchmark::State& state) {
  const auto count = static_cast<uint64_t>(state.range(0));
  uint64_t written = 0, dropped = 0, file_bytes = 0;
  for (auto _ : state) {
    auto rec = open_recorder({.path = bench_path("throughput"), .thread_buffer_bytes = count * 48});
    install(rec.get());
    uint64_t tsc = __rdtsc();
    for (uint64_t i = 0; i < count; ++i) emit(TscRead{0, tsc + i * 2600});
    install(nullptr);
    (void)rec->close();
    auto s = rec->stats();
    written += s.events, dropped += s.dropped, file_bytes = s.compressed_bytes;
    std::remove(rec->path().c_str());
  }
  state.SetItemsProcessed(static_cast<int64_t>(written));
  state.counters["dropped"] = static_cast<double>(dropped);
  state.counters["file_B_per_event"] = static_cast<double>(file_bytes) / static_cast<double>(count);
}
BENCHMARK(BM_WriterThroughput)->Arg(5'000'000)->Unit(benchmark::kMillisecond)->UseRealTime();

// --- reader ------------------------------------------------------------------------------------

void BM_ReaderDecode(benchmark::State& state) {
  const uint64_t count = 5'000'000;
  std::string path = bench_path("reader");
  {
    auto rec = open_recorder({.path = path, .thread_buffer_bytes = count * 48});
    install(rec.get());
    for (uint64_t i = 0; i < count; ++i) emit(TscRead{static_cast<int32_t>(i & 1), i * 2600});
    install(nullptr);
    (void)rec->close();
  }
  uint64_t events = 0, sum = 0;
  for (auto _ : state) {
    auto r = Reader::open(path);
    if (!r.ok()) std::abort();
    while (true) {
      auto e = (*r)->next();
      if (!e.ok() || *e == nullptr) break;
      sum += (*e)->seq + (*e)->time_ns;
      ++events;
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(static_cast<int64_t>(events));
  std::remove(path.c_str());
}
BENCHMARK(BM_ReaderDecode)->Unit(benchmark::kMillisecond)->UseRealTime();

// --- size ----------------------------------------------------------------------------------------

// Busy-waits about `ns` (events in a real VM are microseconds apart, which shows in the time
// stamps the compressor sees).
void spin_ns(uint64_t ns) {
  auto until = Clock::now() + std::chrono::nanoseconds(ns);
  while (Clock::now() < until) {
  }
}

void report_size(benchmark::State& state, Recorder& rec, uint64_t small_events) {
  install(nullptr);
  (void)rec.close();
  auto s = rec.stats();
  auto r = Reader::open(rec.path());
  if (!r.ok()) std::abort();
  // Compressed bytes of the event chunks only (not the header chunk, index and footer).
  uint64_t chunk_bytes = 0;
  for (size_t i = 1; i < (*r)->chunks().size(); ++i) chunk_bytes += (*r)->chunks()[i].size;
  state.counters["events"] = static_cast<double>(s.events);
  state.counters["raw_B_per_event"] =
      static_cast<double>(s.raw_bytes) / static_cast<double>(s.events);
  state.counters["B_per_event"] = static_cast<double>(chunk_bytes) / static_cast<double>(s.events);
  state.counters["ratio"] = static_cast<double>(s.raw_bytes) / static_cast<double>(chunk_bytes);
  state.counters["dropped"] = static_cast<double>(s.dropped);
  if (small_events != 0) state.counters["small_events"] = static_cast<double>(small_events);
  std::remove(rec.path().c_str());
}

// The compression level of the size benchmarks: the recorder's default unless RRVM_BENCH_ZSTD_LEVEL
// names another (to weigh size against the writer's CPU cost).
int size_zstd_level() {
  const char* level = std::getenv("RRVM_BENCH_ZSTD_LEVEL");
  return level != nullptr ? std::atoi(level) : RecorderOptions{}.zstd_level;
}

// Small events only: kvmclock ctrl and TSC reads from 2 vCPU threads, 1-3 us apart.
void BM_SizeSmallEvents(benchmark::State& state) {
  for (auto _ : state) {
    auto rec = open_recorder({.path = bench_path("size-small"), .zstd_level = size_zstd_level()});
    install(rec.get());
    std::vector<std::thread> vcpus;
    for (int v = 0; v < 2; ++v) {
      vcpus.emplace_back([v] {
        set_thread_vcpu(v);
        uint64_t tsc = __rdtsc();
        for (int i = 0; i < 100000; ++i) {
          spin_ns(1000 + (i * 7919) % 2000);
          if (i % 4 == 0) {
            emit(KvmclockCtrl{v, 0});
          } else {
            tsc += 2600 + (i * 104729) % 5000;
            emit(TscRead{v, tsc});
          }
        }
      });
    }
    for (auto& t : vcpus) t.join();
    report_size(state, *rec, 200000);
  }
}
BENCHMARK(BM_SizeSmallEvents)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// A realistic mix per vCPU: serial output exits, MMIO exits of a virtio device, status writes
// through the negotiation, a full MSR get of ~60 MSRs (QEMU's set) with a moving TSC, spans.
void BM_SizeRealisticMix(benchmark::State& state) {
  std::vector<MsrEntry> msrs;
  for (uint32_t i : {0x174u,      0x175u,      0x176u,      0x277u,      0xc0000081u, 0xc0000082u,
                     0xc0000083u, 0xc0000084u, 0xc0000102u, 0xc0000103u, 0x3bu,       0x1a0u,
                     0x48u,       0x10u,       0x4b564d00u, 0x4b564d01u, 0x4b564d02u, 0x4b564d03u,
                     0x4b564d04u, 0x4b564d05u, 0x4b564d06u, 0x6e0u,      0x3au,       0x179u,
                     0x17au,      0x17bu,      0x2ffu,      0x250u,      0x258u,      0x259u}) {
    msrs.push_back({i, 0x1000ull * i});
  }
  for (uint32_t i = 0x200; i < 0x210; ++i) msrs.push_back({i, i & 1 ? 0xfff800800ull : 0x6ull});
  for (uint32_t i = 0x400; i < 0x40e; ++i) msrs.push_back({i, 0});
  for (auto _ : state) {
    auto rec = open_recorder({.path = bench_path("size-mix"), .zstd_level = size_zstd_level()});
    install(rec.get());
    std::vector<std::thread> vcpus;
    std::atomic<uint64_t> small{0};
    for (int v = 0; v < 2; ++v) {
      vcpus.emplace_back([v, &msrs, &small] {
        set_thread_vcpu(v);
        auto my = msrs;
        static constexpr char TEXT[] =
            "[    0.123456] virtio_blk virtio0: [vda] 2048 512-byte logical blocks\n";
        uint64_t n = 0;
        for (int round = 0; round < 400; ++round) {
          Span s("vcpu_run");
          for (int i = 0; i < 60; ++i) {  // a line of console output, one exit per byte
            spin_ns(2000);
            uint8_t c = static_cast<uint8_t>(TEXT[i % (sizeof TEXT - 1)]);
            emit(VcpuExit{v, ExitKind::Io, 0x3f8, 1, true, std::span<const uint8_t>(&c, 1), 0});
            ++n;
          }
          for (int i = 0; i < 8; ++i) {  // virtio-mmio register reads
            spin_ns(3000);
            uint32_t value = 0x74726976 + (round % 3) * i;
            emit(VcpuExit{v, ExitKind::Mmio, 0xd0000000ull + 4u * i, 4, false,
                          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&value), 4),
                          0});
            ++n;
          }
          static constexpr uint32_t STEPS[] = {0, 1, 3, 11, 15};
          for (int i = 1; i < 5; ++i) {
            emit(DeviceStatusWrite{"virtio-blk0", "virtio-mmio@0xd0000000", STEPS[i - 1], STEPS[i],
                                   StatusSource::Guest, true, ""});
            ++n;
          }
          if (round % 10 == 0) {  // a cpu_synchronize_state: full MSR get
            my[13].value = __rdtsc();
            emit(MsrAccess{v, MsrOp::Get, SyncLevel::Full, my, static_cast<uint32_t>(my.size()),
                           static_cast<uint32_t>(my.size()), 0});
            emit(KvmclockCtrl{v, 0});
          }
        }
        small += n;
      });
    }
    for (auto& t : vcpus) t.join();
    report_size(state, *rec, small.load());
  }
}
BENCHMARK(BM_SizeRealisticMix)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace rrvm::trace

BENCHMARK_MAIN();
