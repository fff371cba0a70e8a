// The offline trace checker behind `rrvm check`: drives a trace::Reader through the rules of
// replay/invariants.h and collects what they find, each finding placed at its event.
//
//   CheckReport r = check_trace("run.rrtrace", {.all = true});
//   for (const Finding& f : r.findings) ...f.seq, f.rule, f.message, f.event...
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "replay/rule.h"
#include "trace/capnp_codec.h"
#include "vmm/base/result.h"

namespace rrvm::replay {

struct Finding {
  uint64_t seq = 0;
  std::string rule;
  std::string message;
  std::string event;  // the event as `rrvm dump` prints it (seq, time, thread, type, fields)
  uint64_t dropped_before = 0;  // events the recorder dropped before this one (0: none)
};

struct RuleSummary {
  std::string name;
  std::string not_checked;  // empty when the rule was checked
  uint64_t findings = 0;
};

struct CheckOptions {
  bool all = false;             // false: stop after the first event with a finding
  size_t max_findings = 10000;  // with `all`: stop collecting (and checking) beyond this many
};

struct CheckReport {
  bool opened = false;  // the header was read (else `error` says why not and nothing was checked)
  uint64_t events_checked = 0;
  std::vector<Finding> findings;  // in seq order
  std::vector<RuleSummary> rules;
  bool stopped_early = false;  // the first divergence (or max_findings) ended the check
  uint64_t dropped = 0;        // events dropped while recording, from the `dropped` events read
  std::string truncation;      // the reader's "PATH: truncated after event N (why)", if it was
  std::optional<Error> error;  // unreadable or corrupt: the events before it were checked
};

// Checks events one by one; check_trace() feeds it from a file, tests may feed it directly.
class Checker {
 public:
  Checker(const trace::TraceHeader& header, CheckOptions options);
  ~Checker();

  // The next event in sequence order and the name of its thread.
  void check(const trace::EventRecord& event, const std::string& thread);
  // True once checking further would find nothing the report keeps.
  bool done() const { return done_; }
  CheckReport& report() { return report_; }

 private:
  CheckOptions options_;
  uint64_t start_ns_;
  std::vector<std::unique_ptr<Rule>> rules_;
  std::vector<Violation> violations_;  // scratch, reused for every event
  CheckReport report_;
  bool done_ = false;
};

CheckReport check_trace(const std::string& path, const CheckOptions& options = {});

}  // namespace rrvm::replay
