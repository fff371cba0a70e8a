#include "tests/core/trace_capture.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>

#include "trace/format.h"
#include "trace/reader.h"

namespace rrvm::core::testing {

std::string TracedEvent::str() const {
  std::string s = text + " @" + thread + " bt:";
  for (const auto& b : backtrace) s += " " + b + " <";
  return s;
}

TraceCapture::TraceCapture() {
  char tmpl[] = "/tmp/rrvm-core-trace-XXXXXX";
  EXPECT_NE(mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  path_ = dir_ + "/test.rrtrace";
  trace::Header header;
  header.rrvm_version = "test";
  header.config.vcpus = 2;
  header.config.role = "run";
  auto rec = trace::Recorder::open({.path = path_}, header);
  EXPECT_TRUE(rec.ok()) << rec.error().describe();
  if (rec.ok()) recorder_ = std::move(rec).value();
  trace::install(recorder_.get());
}

TraceCapture::~TraceCapture() {
  if (recorder_) {
    trace::install(nullptr);
    (void)recorder_->close();
  }
  std::string cmd = "rm -rf " + dir_;
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

std::vector<TracedEvent> TraceCapture::finish() {
  std::vector<TracedEvent> out;
  if (!recorder_) return out;
  trace::install(nullptr);
  Status st = recorder_->close();
  EXPECT_TRUE(st.ok()) << st.error().describe();
  recorder_.reset();
  auto reader = trace::Reader::open(path_);
  EXPECT_TRUE(reader.ok()) << reader.error().describe();
  if (!reader.ok()) return out;
  for (;;) {
    auto e = reader.value()->next();
    EXPECT_TRUE(e.ok()) << e.error().describe();
    if (!e.ok() || e.value() == nullptr) break;
    const trace::EventRecord& r = *e.value();
    if (r.type() == trace::EventType::SpanBegin || r.type() == trace::EventType::SpanEnd) continue;
    TracedEvent t;
    t.type = r.type();
    t.text = std::string(trace::event_type_name(r.type())) + " " + trace::format_fields(r);
    const trace::ThreadInfo* info = reader.value()->thread(r.thread);
    t.thread_vcpu = info ? info->vcpu : -1;
    t.thread = reader.value()->thread_name(r.thread);
    for (const auto& frame : reader.value()->backtrace(r.span)) t.backtrace.push_back(frame.name);
    out.push_back(std::move(t));
  }
  return out;
}

long find_event(const std::vector<TracedEvent>& events, size_t from,
                const std::function<bool(const TracedEvent&)>& match) {
  for (size_t i = from; i < events.size(); ++i) {
    if (match(events[i])) return static_cast<long>(i);
  }
  return -1;
}

std::function<bool(const TracedEvent&)> is(trace::EventType type, const std::string& text_part) {
  return [type, text_part](const TracedEvent& e) {
    return e.type == type && e.text.find(text_part) != std::string::npos;
  };
}

bool backtrace_has(const TracedEvent& e, const std::vector<std::string>& names) {
  size_t next = 0;
  for (const auto& frame : e.backtrace) {
    if (next < names.size() && frame == names[next]) ++next;
  }
  return next == names.size();
}

}  // namespace rrvm::core::testing
