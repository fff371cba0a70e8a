#include "replay/header_caps.h"

namespace rrvm::replay {

std::optional<int64_t> recorded_kvm_cap(const trace::TraceHeader& header, std::string_view name) {
  constexpr std::string_view PREFIX = "KVM_CAP_";
  for (const auto& [cap, value] : header.header.kvm_caps) {
    std::string_view c = cap;
    if (c.substr(0, PREFIX.size()) == PREFIX) c.remove_prefix(PREFIX.size());
    if (c == name) return value;
  }
  return std::nullopt;
}

}  // namespace rrvm::replay
