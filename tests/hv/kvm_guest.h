// A tiny KVM guest for the hv tests: 2 MiB of RAM at guest physical 0, one vCPU entered directly
// in 64-bit long mode (vmm/hv/x86_long_mode.h) at CODE_GPA with the test's hand-assembled bytes.
//
//   0x0500 GDT, 0x0600 TSS, 0x1000 code, 0x3000 scratch (pvclock page), 0x5000 data,
//   0x8000 stack top, 0x9000.. page tables (identity map of 4 GiB with 2 MiB pages)
//
// Tests that need KVM start with RRVM_REQUIRE_KVM(guest), which skips with the reason printed when
// /dev/kvm cannot be opened.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <span>
#include <string>

#include "vmm/base/fd.h"
#include "vmm/hv/cpuid.h"
#include "vmm/hv/kvm/kvm.h"
#include "vmm/hv/x86_long_mode.h"

namespace rrvm::hv::testing {

inline constexpr uint64_t RAM_BYTES = 2 << 20;
inline constexpr uint64_t CODE_GPA = 0x1000;
inline constexpr uint64_t SCRATCH_GPA = 0x3000;
inline constexpr uint64_t DATA_GPA = 0x5000;
inline constexpr uint64_t STACK_TOP = 0x8000;

inline LongModeLayout test_layout() {
  return LongModeLayout{.page_tables_gpa = 0x9000, .gdt_gpa = 0x500, .tss_gpa = 0x600};
}

struct GuestOptions {
  bool irqchip = false;   // in-kernel LAPIC/IOAPIC/PIC + PIT (then HLT does not exit)
  bool log_dirty = false;
};

class KvmGuest {
 public:
  // Opens KVM; on failure `skip_reason` says why (the test then skips).
  bool open() {
    auto kvm = open_kvm();
    if (!kvm.ok()) {
      skip_reason = kvm.error().describe();
      return false;
    }
    hv = std::move(kvm).value();
    return true;
  }

  // VM, RAM, optional irqchip, vCPU 0 with KVM's CPUID. Does not load code.
  Status create(const GuestOptions& options = {}) {
    RRVM_ASSIGN_OR_RETURN(vm, hv->create_vm());
    // Where QEMU puts them: above RAM, below the BIOS. Needed on Intel for real mode.
    RRVM_TRY(vm->set_tss_addr(0xfffbd000));
    RRVM_TRY(vm->set_identity_map_addr(0xfeffc000));
    if (options.irqchip) {
      RRVM_TRY(vm->create_irqchip());
      RRVM_TRY(vm->create_pit());
    }
    RRVM_ASSIGN_OR_RETURN(ram, Mapping::anonymous(RAM_BYTES));
    RRVM_TRY(vm->set_memory_region(MemoryRegion{.slot = 0,
                                                .guest_phys_addr = 0,
                                                .size = RAM_BYTES,
                                                .host_addr = ram.data(),
                                                .log_dirty = options.log_dirty}));
    RRVM_ASSIGN_OR_RETURN(vcpu, vm->create_vcpu(0));
    RRVM_ASSIGN_OR_RETURN(auto supported, hv->supported_cpuid());
    RRVM_ASSIGN_OR_RETURN(auto cpuid, vcpu_cpuid(supported, 0, 1));
    return vcpu->set_cpuid(cpuid);
  }

  // Copies `code` to CODE_GPA and puts the vCPU at its first byte in long mode.
  Status load_long_mode(std::span<const uint8_t> code) {
    std::memcpy(ram.data() + CODE_GPA, code.data(), code.size());
    RRVM_TRY(write_long_mode_tables(ram.span(), test_layout()));
    RRVM_ASSIGN_OR_RETURN(Sregs sregs, vcpu->get_sregs());
    apply_long_mode_sregs(sregs, test_layout());
    RRVM_TRY(vcpu->set_sregs(sregs));
    RRVM_TRY(vcpu->set_regs(long_mode_regs(CODE_GPA, STACK_TOP)));
    return vcpu->set_mp_state(MpState::Runnable);
  }

  Status start(std::span<const uint8_t> code, const GuestOptions& options = {}) {
    RRVM_TRY(create(options));
    return load_long_mode(code);
  }

  template <typename T>
  T read_ram(uint64_t gpa) const {
    T v;
    std::memcpy(&v, ram.data() + gpa, sizeof v);
    return v;
  }

  std::string skip_reason;
  std::unique_ptr<Hypervisor> hv;
  std::unique_ptr<Vm> vm;
  std::unique_ptr<Vcpu> vcpu;
  Mapping ram;
};

}  // namespace rrvm::hv::testing

// Skips the calling test, printing why, when KVM cannot be used here.
#define RRVM_REQUIRE_KVM(guest)                                             \
  do {                                                                      \
    if (!(guest).open()) {                                                  \
      std::printf("KVM unavailable: %s\n", (guest).skip_reason.c_str());    \
      GTEST_SKIP() << "KVM unavailable: " << (guest).skip_reason;           \
    }                                                                       \
  } while (0)

#define RRVM_ASSERT_OK(expr)                                               \
  do {                                                                     \
    const auto& rrvm_status_ = (expr);                                     \
    ASSERT_TRUE(rrvm_status_.ok()) << #expr << ": " << rrvm_status_.error().describe(); \
  } while (0)
