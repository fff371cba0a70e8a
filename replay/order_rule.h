// Rule `order`: sequence numbers and times run forward, and spans are begun once, ended once and
// referenced only while they exist. Definition in replay/invariants.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "replay/rule.h"

namespace rrvm::replay {

class OrderRule final : public Rule {
 public:
  std::string_view name() const override { return "order"; }
  void check(const trace::EventRecord& event, std::vector<Violation>& out) override;

  // Bounds for hostile traces (a trace that never ends a span, or skips ids everywhere): past
  // them the span checks stop with one violation saying so.
  static constexpr size_t MAX_OPEN_SPANS = 1u << 20;
  static constexpr size_t MAX_GAPS = 1u << 16;

 private:
  // A span id is (thread + 1) << 40 | n with n counting 1, 2, 3... per thread (trace/span.h), so
  // per thread the highest n begun and the skipped ranges (drops) say which ids were ever begun.
  struct ThreadSpans {
    uint64_t last_n = 0;
    std::map<uint64_t, uint64_t> gaps;  // first n -> last n of ids skipped (never begun)
  };
  enum class SpanState { Open, Ended, NeverBegun, Invalid };

  SpanState state_of(trace::SpanId id) const;
  void check_seq_and_time(const trace::EventRecord& event, std::vector<Violation>& out);
  void check_spans(const trace::EventRecord& event, std::vector<Violation>& out);
  void begin(const trace::EventRecord& event, const trace::SpanBegin& b,
             std::vector<Violation>& out);
  void end(const trace::EventRecord& event, std::vector<Violation>& out);
  void reference(const trace::EventRecord& event, std::vector<Violation>& out);
  bool check_owner(const trace::EventRecord& event, const char* what, std::vector<Violation>& out);

  std::optional<uint64_t> last_seq_;
  uint64_t last_time_ = 0;
  uint64_t last_time_seq_ = 0;
  std::unordered_map<uint16_t, ThreadSpans> threads_;
  std::unordered_set<trace::SpanId> open_;
  size_t gaps_ = 0;
  bool spans_given_up_ = false;
};

}  // namespace rrvm::replay
