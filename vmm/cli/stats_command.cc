// `rrvm stats TRACE`: events by type and by thread, with raw (Cap'n Proto) and compressed bytes
// per event. A chunk's compressed size is shared among its events in proportion to their raw size
// (zstd does not attribute its output to input bytes), so compressed figures are estimates; the
// rest of each chunk (batch framing, thread tables) is reported as overhead.
#include <cstdio>
#include <map>
#include <string>

#include "trace/event_record.h"
#include "trace/reader.h"
#include "vmm/cli/command.h"

namespace rrvm::cli {
namespace {

struct Tally {
  uint64_t events = 0;
  double raw = 0;
  double compressed = 0;
  void add(double r, double c) { ++events, raw += r, compressed += c; }
};

void print_table(const char* title, const std::map<std::string, Tally>& rows) {
  std::printf("%-22s %12s %14s %16s\n", title, "events", "raw B/event", "compressed B/ev");
  for (const auto& [name, t] : rows) {
    std::printf("%-22s %12llu %14.1f %16.2f\n", name.c_str(),
                static_cast<unsigned long long>(t.events), t.raw / t.events,
                t.compressed / t.events);
  }
  std::printf("\n");
}

class StatsCommand final : public Command {
 public:
  const char* name() const override { return "stats"; }
  const char* summary() const override {
    return "count a trace's events by type and thread, with bytes per event";
  }
  void add_options(CLI::App& app) override {
    app.add_option("trace", path_, "trace file")->required();
  }

  int run() override {
    auto reader = trace::Reader::open(path_);
    if (!reader.ok()) return fail(reader.error());
    trace::Reader& r = **reader;
    std::map<std::string, Tally> by_type, by_thread;
    Tally total;
    while (true) {
      auto next = r.next();
      if (!next.ok()) return fail(next.error());
      const trace::EventRecord* e = *next;
      if (e == nullptr) break;
      auto raw = r.current_event_raw_bytes();
      if (!raw.ok()) return fail(raw.error());
      const trace::ChunkInfo& chunk = r.chunks()[r.current_chunk()];
      double share = static_cast<double>(*raw) / static_cast<double>(r.current_chunk_raw_bytes());
      double compressed = share * static_cast<double>(chunk.size);
      by_type[std::string(trace::event_type_name(e->type()))].add(*raw, compressed);
      by_thread[r.thread_name(e->thread)].add(*raw, compressed);
      total.add(*raw, compressed);
    }
    uint64_t compressed_chunks = 0;
    for (const auto& c : r.chunks()) compressed_chunks += c.size;
    print_table("type", by_type);
    print_table("thread", by_thread);
    std::printf("events: %llu  raw: %.0f B (%.1f B/event)  chunks: %llu B compressed\n",
                static_cast<unsigned long long>(total.events), total.raw,
                total.events ? total.raw / total.events : 0.0,
                static_cast<unsigned long long>(compressed_chunks));
    if (total.events != 0) {
      std::printf("compressed: %.2f B/event, plus %.0f B of chunk overhead (header, tables)\n",
                  total.compressed / total.events,
                  static_cast<double>(compressed_chunks) - total.compressed);
      std::printf("ratio: %.1fx (raw Cap'n Proto bytes of events / their compressed bytes)\n",
                  total.raw / total.compressed);
    }
    if (!r.truncation().empty()) {
      std::fprintf(stderr, "rrvm stats: %s\n", r.truncation().c_str());
      return EXIT_BAD_INPUT;
    }
    return EXIT_OK;
  }

 private:
  int fail(const Error& error) { return fail_bad_input(name(), error); }
  std::string path_;
};
RRVM_REGISTER_COMMAND(StatsCommand);

}  // namespace
}  // namespace rrvm::cli
