#include "tests/e2e/trace_events.h"

#include <gtest/gtest.h>

#include "trace/format.h"
#include "trace/reader.h"

namespace rrvm::e2e {

std::vector<TracedEvent> load_trace(const std::string& path) {
  std::vector<TracedEvent> out;
  auto reader = trace::Reader::open(path);
  EXPECT_TRUE(reader.ok()) << (reader.ok() ? "" : reader.error().describe());
  if (!reader.ok()) return out;
  trace::Reader& r = *reader.value();
  EXPECT_TRUE(r.complete()) << path << ": the trace has no footer (rrvm did not close it)";
  for (;;) {
    auto e = r.next();
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().describe());
    if (!e.ok() || e.value() == nullptr) break;
    const trace::EventRecord& rec = *e.value();
    if (rec.type() == trace::EventType::SpanBegin || rec.type() == trace::EventType::SpanEnd) {
      continue;
    }
    TracedEvent t;
    t.type = rec.type();
    t.text = std::string(trace::event_type_name(rec.type())) + " " + trace::format_fields(rec);
    const trace::ThreadInfo* info = r.thread(rec.thread);
    t.thread_vcpu = info ? info->vcpu : -1;
    t.thread = r.thread_name(rec.thread);
    for (const auto& frame : r.backtrace(rec.span)) t.backtrace.push_back(frame.name);
    out.push_back(std::move(t));
  }
  EXPECT_EQ(r.truncation(), "");
  return out;
}

std::vector<size_t> find_all(const std::vector<TracedEvent>& events, size_t from,
                             const std::function<bool(const TracedEvent&)>& match) {
  std::vector<size_t> out;
  for (size_t i = from; i < events.size(); ++i) {
    if (match(events[i])) out.push_back(i);
  }
  return out;
}

std::string describe(const std::vector<TracedEvent>& events, size_t from, size_t to) {
  std::string s;
  for (size_t i = from; i < to && i < events.size(); ++i) {
    if (events[i].type == trace::EventType::VcpuExit) continue;  // too many to be useful
    s += std::to_string(i) + ": " + events[i].str() + "\n";
  }
  return s;
}

}  // namespace rrvm::e2e
