// Warnings about a hostile or buggy guest: every one is recorded in the trace, but the log is
// rate-limited so that a guest hammering a bad register cannot flood stderr.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace rrvm::virtio {

class WarningLog {
 public:
  explicit WarningLog(std::string component) : component_(std::move(component)) {}

  // Records trace::Warning{component, text}. Logs the first LOG_BURST warnings, then only the
  // 2^k-th ones, each saying how many were recorded so far.
  void warn(std::string_view text);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

  static constexpr uint64_t LOG_BURST = 10;

 private:
  std::string component_;
  std::atomic<uint64_t> count_{0};
};

}  // namespace rrvm::virtio
