// A small trace with every event type, spans handed across threads, and three named threads. The
// tests, the stock-tools test, the checked-in format sample (data/v1-sample.rrtrace) and the
// fuzzer's seed corpus are all made by write_sample_trace().
#pragma once

#include <string>
#include <vector>

#include "trace/reader.h"
#include "trace/recorder.h"

namespace rrvm::trace::testing {

// The header every sample carries (fixed values, so samples compare across runs).
Header sample_header();

// Writes the sample with `options` (its path must be set) and closes it. `repeat` > 1 repeats the
// run-state/MSR/exit part that many times (bigger samples with several chunks).
Status write_sample_trace(const RecorderOptions& options, int repeat = 1);

// "thread type fields" for every event of a sample with repeat == 1, in sequence order.
std::vector<std::string> sample_expected_lines();

// The same form of line for an event read back.
std::string describe(const Reader& reader, const EventRecord& event);

// Every event of a trace as describe() lines; fails the calling test on a read error.
std::vector<std::string> read_all_lines(const std::string& path);

}  // namespace rrvm::trace::testing
