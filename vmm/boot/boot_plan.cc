#include "vmm/boot/boot_plan.h"

#include "vmm/boot/boot_layout.h"

namespace rrvm::boot {

const char* entry_mode_name(EntryMode mode) {
  switch (mode) {
    case EntryMode::Rrvm64: return "rrvm64";
    case EntryMode::Pvh32: return "pvh32";
    case EntryMode::Linux64: return "linux64";
  }
  return "unknown";
}

hv::Regs initial_regs(const BootPlan& plan, uint32_t vcpu) {
  switch (plan.mode) {
    case EntryMode::Rrvm64:
      // rsp is left 0: the guest sets up its own per-vCPU stack before using one.
      return hv::long_mode_regs(plan.entry, 0, vcpu, plan.boot_info_gpa);
    case EntryMode::Pvh32: {
      hv::Regs r = hv::long_mode_regs(plan.entry, 0);
      r.rbx = plan.boot_info_gpa;
      return r;
    }
    case EntryMode::Linux64: {
      hv::Regs r = hv::long_mode_regs(plan.entry, BOOT_STACK_TOP, 0, plan.boot_info_gpa);
      r.rbp = BOOT_STACK_TOP;
      return r;
    }
  }
  RRVM_FATAL("unknown entry mode");
}

void apply_initial_sregs(const BootPlan& plan, hv::Sregs& sregs) {
  hv::apply_long_mode_sregs(sregs, plan.layout);
  if (plan.mode != EntryMode::Pvh32) return;
  // PVH: flat 32-bit protected mode with paging off. The GDT's 32-bit code descriptor differs
  // from the 64-bit one only in the D and L bits; the TSS stays (PVH wants a loaded 32-bit TSS,
  // and type 0xb is the busy TSS in both modes).
  sregs.cs.selector = hv::GDT_CODE32;
  sregs.cs.l = 0;
  sregs.cs.db = 1;
  sregs.cr0 = hv::CR0_PE | hv::CR0_ET;
  sregs.cr3 = 0;
  sregs.cr4 = 0;
  sregs.efer = 0;
}

hv::MpState initial_mp_state(const BootPlan& plan, uint32_t vcpu) {
  if (plan.mode == EntryMode::Rrvm64 || vcpu == 0) return hv::MpState::Runnable;
  return hv::MpState::Uninitialized;
}

Status apply_boot_state(hv::Vcpu& vcpu, const BootPlan& plan) {
  const auto index = static_cast<uint32_t>(vcpu.index());
  if (index >= plan.vcpus) {
    return make_error("boot: vCPU " + std::to_string(index) + " is beyond the plan's " + std::to_string(plan.vcpus) +
                      " vCPUs");
  }
  RRVM_ASSIGN_OR_RETURN(hv::Sregs sregs, vcpu.get_sregs());
  apply_initial_sregs(plan, sregs);
  RRVM_TRY(vcpu.set_sregs(sregs));
  RRVM_TRY(vcpu.set_regs(initial_regs(plan, index)));
  return vcpu.set_mp_state(initial_mp_state(plan, index));
}

}  // namespace rrvm::boot
