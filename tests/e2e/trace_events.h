// Reads a trace that an rrvm process wrote into the TracedEvent list the core tests use, so e2e
// tests share their matchers (find_event, is, backtrace_has from tests/core/trace_capture.h).
#pragma once

#include <string>
#include <vector>

#include "tests/core/trace_capture.h"

namespace rrvm::e2e {

using core::testing::TracedEvent;

// Every event except span begin/end, in sequence order. Fails the calling test (and returns what
// was read) when the trace cannot be opened, is not complete, or a chunk is corrupt.
std::vector<TracedEvent> load_trace(const std::string& path);

// Positions of all events from `from` on that match.
std::vector<size_t> find_all(const std::vector<TracedEvent>& events, size_t from,
                             const std::function<bool(const TracedEvent&)>& match);

// Dumps events [from, to) (one per line with thread and backtrace) for failure messages.
std::string describe(const std::vector<TracedEvent>& events, size_t from, size_t to);

}  // namespace rrvm::e2e
