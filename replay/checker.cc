#include "replay/checker.h"

#include "replay/invariants.h"
#include "trace/format.h"
#include "trace/reader.h"

namespace rrvm::replay {

Checker::Checker(const trace::TraceHeader& header, CheckOptions options)
    : options_(options), start_ns_(header.monotonic_start_ns), rules_(make_rules(header)) {
  for (const auto& r : rules_) report_.rules.push_back({std::string(r->name()), r->not_checked()});
}

Checker::~Checker() = default;

void Checker::check(const trace::EventRecord& event, const std::string& thread) {
  if (done_) return;
  ++report_.events_checked;
  violations_.clear();
  for (auto& rule : rules_) rule->check(event, violations_);
  if (const auto* d = std::get_if<trace::Dropped>(&event.body)) report_.dropped += d->count;
  if (violations_.empty()) return;
  std::string line = trace::format_event_line(event, thread, start_ns_);
  for (Violation& v : violations_) {
    for (auto& s : report_.rules) {
      if (s.name == v.rule) ++s.findings;
    }
    report_.findings.push_back(
        Finding{event.seq, std::string(v.rule), std::move(v.message), line, report_.dropped});
  }
  if (!options_.all || report_.findings.size() >= options_.max_findings) {
    done_ = true;
    report_.stopped_early = true;
  }
}

CheckReport check_trace(const std::string& path, const CheckOptions& options) {
  auto reader = trace::Reader::open(path);
  if (!reader.ok()) {
    CheckReport report;
    report.error = reader.error();
    return report;
  }
  trace::Reader& r = **reader;
  Checker checker(r.header(), options);
  checker.report().opened = true;
  while (!checker.done()) {
    auto next = r.next();
    if (!next.ok()) {
      checker.report().error = next.error();
      break;
    }
    if (*next == nullptr) {
      checker.report().truncation = r.truncation();
      break;
    }
    checker.check(**next, r.thread_name((*next)->thread));
  }
  return std::move(checker.report());
}

}  // namespace rrvm::replay
