// <linux/kvm.h> for C++: the one way rrvm's KVM backend includes it.
//
// Linux 6.1's uapi headers (Debian 12) declare flexible array members with __DECLARE_FLEX_ARRAY,
// which wraps them in a struct holding an empty struct. An empty struct has size 0 in C but 1 in
// C++, so compiled as C++ struct kvm_msrs, kvm_msr_list, kvm_cpuid2 and kvm_xsave get a different
// size and member offsets than the kernel's, and every ioctl number that encodes their size
// (KVM_GET_MSRS, KVM_SET_CPUID2, KVM_GET_SUPPORTED_CPUID, KVM_GET_XSAVE2, ...) is one the kernel does
// not know (EINVAL). Newer kernels define the macro as a zero-length array for C++; do the same
// here before <linux/kvm.h> uses it, and check the layouts.
#pragma once

#include <linux/stddef.h>

#undef __DECLARE_FLEX_ARRAY
#define __DECLARE_FLEX_ARRAY(TYPE, NAME) TYPE NAME[0]

#include <linux/kvm.h>

#include <cstddef>

static_assert(sizeof(kvm_msrs) == 8 && offsetof(kvm_msrs, entries) == 8);
static_assert(sizeof(kvm_msr_list) == 4 && offsetof(kvm_msr_list, indices) == 4);
static_assert(sizeof(kvm_cpuid2) == 8 && offsetof(kvm_cpuid2, entries) == 8);
static_assert(sizeof(kvm_xsave) == 4096);
