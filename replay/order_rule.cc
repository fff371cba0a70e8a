#include "replay/order_rule.h"

#include <cstdio>
#include <string>

namespace rrvm::replay {
namespace {

constexpr uint64_t N_MASK = (uint64_t{1} << 40) - 1;

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The thread whose counter made `id`; -1 for an id no thread can make (0, or thread bits 0).
int64_t owner_of(trace::SpanId id) { return static_cast<int64_t>(id >> 40) - 1; }

}  // namespace

void OrderRule::check(const trace::EventRecord& event, std::vector<Violation>& out) {
  check_seq_and_time(event, out);
  if (!spans_given_up_) check_spans(event, out);
}

void OrderRule::check_seq_and_time(const trace::EventRecord& event, std::vector<Violation>& out) {
  if (last_seq_ && event.seq <= *last_seq_) {
    out.push_back({name(), "seq " + std::to_string(event.seq) + " follows seq " +
                               std::to_string(*last_seq_) + ": expected a seq above it"});
  }
  if (last_seq_ && event.time_ns < last_time_) {
    out.push_back({name(), "time " + std::to_string(event.time_ns) + " ns is " +
                               std::to_string(last_time_ - event.time_ns) + " ns before seq " +
                               std::to_string(last_time_seq_) +
                               "'s: expected times that never decrease"});
  }
  last_seq_ = event.seq;
  if (event.time_ns >= last_time_) last_time_ = event.time_ns, last_time_seq_ = event.seq;
}

OrderRule::SpanState OrderRule::state_of(trace::SpanId id) const {
  int64_t owner = owner_of(id);
  uint64_t n = id & N_MASK;
  if (owner < 0 || n == 0) return SpanState::Invalid;
  if (open_.count(id) != 0) return SpanState::Open;
  auto t = threads_.find(static_cast<uint16_t>(owner));
  if (t == threads_.end() || n > t->second.last_n) return SpanState::NeverBegun;
  auto gap = t->second.gaps.upper_bound(n);
  if (gap != t->second.gaps.begin() && std::prev(gap)->second >= n) return SpanState::NeverBegun;
  return SpanState::Ended;
}

void OrderRule::check_spans(const trace::EventRecord& event, std::vector<Violation>& out) {
  if (const auto* b = std::get_if<trace::SpanBegin>(&event.body)) {
    begin(event, *b, out);
  } else if (std::holds_alternative<trace::SpanEnd>(event.body)) {
    end(event, out);
  } else if (event.span != 0) {
    reference(event, out);
  }
  if (open_.size() > MAX_OPEN_SPANS || gaps_ > MAX_GAPS) {
    out.push_back({name(), "more than " + std::to_string(MAX_OPEN_SPANS) + " open spans or " +
                               std::to_string(MAX_GAPS) +
                               " skipped span ids: span checks stop here"});
    spans_given_up_ = true;
    open_.clear();
    threads_.clear();
  }
}

// A span's id comes from the counter of the thread that begins, ends and carries it.
bool OrderRule::check_owner(const trace::EventRecord& event, const char* what,
                            std::vector<Violation>& out) {
  int64_t owner = owner_of(event.span);
  if (owner < 0 || (event.span & N_MASK) == 0) {
    out.push_back({name(), std::string(what) + " span id " + hex(event.span) +
                               " is not one a thread makes ((thread + 1) << 40 | n, n >= 1)"});
    return false;
  }
  if (owner != event.thread) {
    out.push_back({name(), std::string(what) + " span " + hex(event.span) + " on thread " +
                               std::to_string(event.thread) + ", expected its own thread " +
                               std::to_string(owner)});
  }
  return true;
}

void OrderRule::begin(const trace::EventRecord& event, const trace::SpanBegin& b,
                      std::vector<Violation>& out) {
  if (!check_owner(event, "begins", out)) return;
  ThreadSpans& t = threads_[static_cast<uint16_t>(owner_of(event.span))];
  uint64_t n = event.span & N_MASK;
  if (n <= t.last_n) {
    bool skipped = state_of(event.span) == SpanState::NeverBegun;
    out.push_back({name(), skipped ? "span " + hex(event.span) +
                                         " begins after a later span of its thread (n=" +
                                         std::to_string(t.last_n) + "): expected ids in order"
                                   : "span " + hex(event.span) + " is begun twice"});
  } else {
    // Ids skipped here were taken by begins that were dropped (the recorder counts them).
    if (n > t.last_n + 1) t.gaps.emplace(t.last_n + 1, n - 1), ++gaps_;
    t.last_n = n;
    open_.insert(event.span);
  }
  // Work handed to another thread names its parent, which may have ended since, but which must
  // have begun before.
  if (b.parent != 0) {
    SpanState p = state_of(b.parent);
    if (p == SpanState::NeverBegun || p == SpanState::Invalid) {
      out.push_back({name(), "span " + hex(event.span) + " names parent " + hex(b.parent) +
                                 ", which was never begun before it"});
    }
  }
}

void OrderRule::end(const trace::EventRecord& event, std::vector<Violation>& out) {
  if (!check_owner(event, "ends", out)) return;
  switch (state_of(event.span)) {
    case SpanState::Open:
      open_.erase(event.span);
      return;
    case SpanState::Ended:
      out.push_back({name(), "span " + hex(event.span) + " is ended twice"});
      return;
    default:
      out.push_back({name(), "span " + hex(event.span) + " ends without a begin"});
      return;
  }
}

// Every other event carries its thread's innermost open span.
void OrderRule::reference(const trace::EventRecord& event, std::vector<Violation>& out) {
  if (!check_owner(event, "carries", out)) return;
  switch (state_of(event.span)) {
    case SpanState::Open:
      return;
    case SpanState::Ended:
      out.push_back({name(), "carries span " + hex(event.span) +
                                 ", which already ended: expected an open span or none"});
      return;
    default:
      out.push_back({name(), "carries span " + hex(event.span) + ", which was never begun"});
      return;
  }
}

}  // namespace rrvm::replay
