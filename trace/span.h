// Spans: named operations that give every event its cause chain (its "backtrace").
//
//   void vm_stop(RunState s) {
//     trace::Span span("vm_stop");        // SpanBegin event; events below carry this span's id
//     ...
//   }                                     // SpanEnd event
//
// A span handed to another thread keeps its parent: capture trace::current_span() when queuing
// work to a vCPU and open the worker's span with that parent:
//
//   auto parent = trace::current_span();
//   vcpu.run_on_cpu([parent] { trace::Span s("do_kvmclock_ctrl", parent); ... });
//
// Span ids are unique within a trace and never 0 (0 means "no span").
#pragma once

#include <cstdint>
#include <string_view>

namespace rrvm::trace {

using SpanId = uint64_t;

// The innermost open span on this thread (0 if none).
SpanId current_span();

class Span {
 public:
  // Opens a child of the calling thread's current span.
  explicit Span(std::string_view name);
  // Opens a child of an explicit parent (a span captured on another thread).
  Span(std::string_view name, SpanId parent);
  ~Span();
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  SpanId id() const { return id_; }

 private:
  SpanId id_;
  SpanId saved_current_;  // restored on close: spans nest per thread
};

}  // namespace rrvm::trace
