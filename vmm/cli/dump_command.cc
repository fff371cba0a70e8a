// `rrvm dump TRACE`: one line per event (seq, time since the trace started, thread, type, fields
// with decoded names), optionally with each event's span chain (--backtrace, innermost first, like
// gdb's bt). Exit code 2 when the trace is corrupt or incomplete, after printing what was readable.
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "trace/format.h"
#include "trace/reader.h"
#include "vmm/cli/command.h"

namespace rrvm::cli {
namespace {

using trace::EventRecord;

class DumpCommand final : public Command {
 public:
  const char* name() const override { return "dump"; }
  const char* summary() const override { return "print a trace, one line per event"; }

  void add_options(CLI::App& app) override {
    app.add_option("trace", path_, "trace file")->required();
    app.add_option("--type", types_,
                   "only events of these types (repeatable or comma-separated), e.g. run-state,msr")
        ->delimiter(',');
    app.add_option("--vcpu", vcpus_, "only events of these vCPUs (repeatable or comma-separated)")
        ->delimiter(',');
    app.add_option("--from", from_, "start at this seq (e.g. 120) or time since the start (1.5s)");
    app.add_option("--to", to_, "stop after this seq or time (inclusive)");
    app.add_flag("--backtrace,-b", backtrace_, "print each event's span chain, innermost first");
  }

  int run() override {
    if (!parse_filters()) return EXIT_BAD_INPUT;
    auto reader = trace::Reader::open(path_);
    if (!reader.ok()) return fail(reader.error());
    trace::Reader& r = **reader;
    start_ns_ = r.header().monotonic_start_ns;
    if (from_point_) {
      Status s = from_point_->is_time ? r.seek_time(start_ns_ + from_point_->value)
                                      : r.seek_seq(from_point_->value);
      if (!s.ok()) return fail(s.error());
    }
    while (true) {
      auto next = r.next();
      if (!next.ok()) return fail(next.error());
      const EventRecord* e = *next;
      if (e == nullptr || past_end(*e)) break;
      if (selected(r, *e)) print(r, *e);
    }
    std::fflush(stdout);
    if (!r.truncation().empty()) {
      std::fprintf(stderr, "rrvm dump: %s\n", r.truncation().c_str());
      return EXIT_BAD_INPUT;
    }
    return EXIT_OK;
  }

 private:
  bool parse_filters() {
    for (const auto& t : types_) {
      trace::EventType type = trace::parse_event_type(t);
      if (type == trace::EventType::Unknown) {
        std::fprintf(stderr, "rrvm dump: unknown event type '%s' (known: %s)\n", t.c_str(),
                     known_types().c_str());
        return false;
      }
      type_set_.insert(type);
    }
    if (!from_.empty() && !(from_point_ = trace::parse_trace_point(from_))) {
      std::fprintf(stderr, "rrvm dump: --from '%s' is neither a seq nor a time like 1.5s\n",
                   from_.c_str());
      return false;
    }
    if (!to_.empty() && !(to_point_ = trace::parse_trace_point(to_))) {
      std::fprintf(stderr, "rrvm dump: --to '%s' is neither a seq nor a time like 1.5s\n",
                   to_.c_str());
      return false;
    }
    return true;
  }

  static std::string known_types() {
    std::string out;
    for (int i = 0; i < trace::EVENT_TYPE_COUNT - 1; ++i) {
      if (!out.empty()) out += ", ";
      out += trace::event_type_name(static_cast<trace::EventType>(i));
    }
    return out;
  }

  bool past_end(const EventRecord& e) const {
    if (!to_point_) return false;
    return to_point_->is_time ? e.time_ns > start_ns_ + to_point_->value : e.seq > to_point_->value;
  }

  bool selected(const trace::Reader& r, const EventRecord& e) const {
    if (!type_set_.empty() && type_set_.count(e.type()) == 0) return false;
    if (vcpus_.empty()) return true;
    const trace::ThreadInfo* t = r.thread(e.thread);
    int32_t vcpu = trace::event_vcpu(e, t != nullptr ? t->vcpu : -1);
    for (int32_t v : vcpus_) {
      if (v == vcpu) return true;
    }
    return false;
  }

  void print(const trace::Reader& r, const EventRecord& e) const {
    std::printf("%s\n", trace::format_event_line(e, r.thread_name(e.thread), start_ns_).c_str());
    if (!backtrace_) return;
    auto frames = r.backtrace(e.span);
    for (size_t i = 0; i < frames.size(); ++i) {
      const auto& f = frames[i];
      if (f.known) {
        std::printf("           #%zu %s [%s] span=0x%llx\n", i, f.name.c_str(),
                    r.thread_name(f.thread).c_str(), static_cast<unsigned long long>(f.id));
      } else {
        std::printf("           #%zu <span 0x%llx: its begin is not in the part read>\n", i,
                    static_cast<unsigned long long>(f.id));
      }
    }
  }

  int fail(const Error& error) { return fail_bad_input(name(), error); }

  std::string path_;
  std::vector<std::string> types_;
  std::vector<int32_t> vcpus_;
  std::string from_;
  std::string to_;
  bool backtrace_ = false;
  std::set<trace::EventType> type_set_;
  std::optional<trace::TracePoint> from_point_;
  std::optional<trace::TracePoint> to_point_;
  uint64_t start_ns_ = 0;
};
RRVM_REGISTER_COMMAND(DumpCommand);

}  // namespace
}  // namespace rrvm::cli
