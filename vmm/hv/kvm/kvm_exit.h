// Decoding why KVM_RUN returned: a pure function over the vCPU's kvm_run area, so it is tested with
// made-up exits. Private to the KVM backend.
#pragma once

#include "vmm/hv/kvm/linux_kvm.h"

#include <span>

#include "vmm/base/result.h"
#include "vmm/hv/types.h"

namespace rrvm::hv::kvm {

// `run_area` is the whole mmap()ed kvm_run area (kvm_run at its start). I/O and MMIO data spans
// point into it: the exit handler reads a write's bytes there and stores a read's result there
// before the next KVM_RUN. An I/O data range that does not fit in the area is an error (KVM never
// produces one; checked so a bad offset can never become an out-of-bounds access).
Result<Exit> decode_exit(std::span<uint8_t> run_area, int vcpu_index);

}  // namespace rrvm::hv::kvm
