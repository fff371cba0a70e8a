// The KVM backend of the hypervisor seam. This header is the backend's whole public face: the rest
// of vmm/hv/kvm/ includes <linux/kvm.h> and is private to the backend (no other code in rrvm may
// include <linux/kvm.h>).
#pragma once

#include <memory>
#include <string>

#include "trace/recorder.h"
#include "vmm/base/result.h"
#include "vmm/hv/hypervisor.h"

namespace rrvm::hv {

// Opens the KVM device (O_CLOEXEC) and checks KVM_GET_API_VERSION is 12. The error says what to
// do when the device is missing or not accessible.
Result<std::unique_ptr<Hypervisor>> open_kvm(const std::string& device = "/dev/kvm");

// Fills the KVM part of a trace header: API version, the KVM_CAP_* values rrvm depends on
// ("ADJUST_CLOCK", "KVMCLOCK_CTRL", "TSC_CONTROL", "XSAVE2", "MAX_VCPUS", ...: names without the
// KVM_CAP_ prefix) and the TSC frequency. CPU vendor and model are trace::fill_host_info's job.
// Works through the Hypervisor interface, so a recording wrapper records the queries.
void fill_kvm_info(const Hypervisor& hv, trace::Header& header);

}  // namespace rrvm::hv
