// Conversions between KVM's structures and the hypervisor seam's plain types. Private to the KVM
// backend.
#pragma once

#include "vmm/hv/kvm/linux_kvm.h"

#include "vmm/hv/types.h"

namespace rrvm::hv::kvm {

Regs from_kvm(const kvm_regs& in);
kvm_regs to_kvm(const Regs& in);
Sregs from_kvm(const kvm_sregs& in);
kvm_sregs to_kvm(const Sregs& in);
Fpu from_kvm(const kvm_fpu& in);
kvm_fpu to_kvm(const Fpu& in);
CpuidEntry from_kvm(const kvm_cpuid_entry2& in);
kvm_cpuid_entry2 to_kvm(const CpuidEntry& in);

}  // namespace rrvm::hv::kvm
