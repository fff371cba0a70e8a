// What a trace's header says about the recording host's KVM capabilities.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "trace/capnp_codec.h"

namespace rrvm::replay {

// KVM_CHECK_EXTENSION's result for `name` ("KVMCLOCK_CTRL") as the header recorded it; the header
// of rrvm runs names caps without the prefix (vmm/hv/kvm/kvm_info.cc), synthetic traces may write
// "KVM_CAP_KVMCLOCK_CTRL": both match. nullopt when the header does not list it.
std::optional<int64_t> recorded_kvm_cap(const trace::TraceHeader& header, std::string_view name);

}  // namespace rrvm::replay
