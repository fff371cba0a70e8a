#include "vmm/devices/virtio/warning_log.h"

#include <spdlog/spdlog.h>

#include <bit>

#include "trace/recorder.h"

namespace rrvm::virtio {

void WarningLog::warn(std::string_view text) {
  trace::emit(trace::Warning{component_, text});
  uint64_t n = count_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n <= LOG_BURST) {
    spdlog::warn("{}: {}", component_, text);
  } else if (std::has_single_bit(n)) {
    spdlog::warn("{}: {} ({} guest warnings so far; only some are logged, all are in the trace)",
                 component_, text, n);
  }
}

}  // namespace rrvm::virtio
