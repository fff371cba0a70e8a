// Records what a test does into a real trace file and reads it back, so tests can assert on the
// events the control logic emits, their threads and their backtraces (span chains).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "trace/event_record.h"
#include "trace/recorder.h"

namespace rrvm::core::testing {

struct TracedEvent {
  trace::EventType type;
  std::string text;                    // "<type> <fields>" as `rrvm dump` prints them
  int32_t thread_vcpu = -1;            // vCPU index of the emitting thread, -1 for others
  std::string thread;                  // "vcpu0", "main", ...
  std::vector<std::string> backtrace;  // span names, innermost first
  std::string str() const;             // text + " @" + thread + " bt: a < b < c"
};

class TraceCapture {
 public:
  TraceCapture();  // opens a recorder on a temporary file and installs it
  ~TraceCapture();
  // Uninstalls and closes the recorder, then reads every event except span begin/end.
  std::vector<TracedEvent> finish();

 private:
  std::string dir_;
  std::string path_;
  std::unique_ptr<trace::Recorder> recorder_;
};

// Position of the first event at or after `from` for which `match` holds, or -1.
long find_event(const std::vector<TracedEvent>& events, size_t from,
                const std::function<bool(const TracedEvent&)>& match);
// Shorthands for `match`: type and a piece of the text.
std::function<bool(const TracedEvent&)> is(trace::EventType type,
                                           const std::string& text_part = "");
// True when the backtrace holds these span names in this order (innermost first), not
// necessarily adjacent.
bool backtrace_has(const TracedEvent& e, const std::vector<std::string>& names);

}  // namespace rrvm::core::testing
