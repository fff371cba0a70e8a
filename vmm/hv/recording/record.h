// Helpers the recording wrappers share: turning a call's outcome into an HvCall event.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "trace/recorder.h"
#include "vmm/base/result.h"

namespace rrvm::hv::recording {

// The errno of a failed call, or -1 for a failure without one (e.g. a size check), 0 on success.
inline int32_t err_of(const Error& e) { return e.err != 0 ? e.err : -1; }

// An HvCall for a call that returned Status: result 0 on success, -1 on failure.
inline void record_status(int32_t vcpu, std::string_view name, const Status& s,
                          std::span<const uint8_t> payload = {}) {
  trace::emit(trace::HvCall{.vcpu = vcpu,
                            .name = name,
                            .result = s.ok() ? 0 : -1,
                            .err = s.ok() ? 0 : err_of(s.error()),
                            .payload = payload});
}

// An HvCall for a call that returned Result<T>: `value` on success (a count, a number KVM
// returned), -1 on failure.
template <typename T>
void record_result(int32_t vcpu, std::string_view name, const Result<T>& r, int64_t value,
                   std::span<const uint8_t> payload = {}) {
  trace::emit(trace::HvCall{.vcpu = vcpu,
                            .name = name,
                            .result = r.ok() ? value : -1,
                            .err = r.ok() ? 0 : err_of(r.error()),
                            .payload = payload});
}

// An HvCall for a call that cannot fail and returns `value`.
inline void record_value(int32_t vcpu, std::string_view name, int64_t value,
                         std::span<const uint8_t> payload = {}) {
  trace::emit(trace::HvCall{.vcpu = vcpu, .name = name, .result = value, .err = 0, .payload = payload});
}

}  // namespace rrvm::hv::recording
