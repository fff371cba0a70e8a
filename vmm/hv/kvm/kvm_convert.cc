#include "vmm/hv/kvm/kvm_convert.h"

#include <cstring>

namespace rrvm::hv::kvm {
namespace {

Segment from_kvm(const kvm_segment& s) {
  return Segment{.base = s.base,
                 .limit = s.limit,
                 .selector = s.selector,
                 .type = s.type,
                 .present = s.present,
                 .dpl = s.dpl,
                 .db = s.db,
                 .s = s.s,
                 .l = s.l,
                 .g = s.g,
                 .avl = s.avl,
                 .unusable = s.unusable};
}

kvm_segment to_kvm(const Segment& s) {
  kvm_segment out{};
  out.base = s.base;
  out.limit = s.limit;
  out.selector = s.selector;
  out.type = s.type;
  out.present = s.present;
  out.dpl = s.dpl;
  out.db = s.db;
  out.s = s.s;
  out.l = s.l;
  out.g = s.g;
  out.avl = s.avl;
  out.unusable = s.unusable;
  return out;
}

DescriptorTable from_kvm(const kvm_dtable& t) { return {t.base, t.limit}; }

kvm_dtable to_kvm(const DescriptorTable& t) {
  kvm_dtable out{};
  out.base = t.base;
  out.limit = t.limit;
  return out;
}

static_assert(sizeof(kvm_sregs::interrupt_bitmap) == sizeof(Sregs::interrupt_bitmap));
static_assert(sizeof(kvm_fpu::fpr) == sizeof(Fpu::fpr));
static_assert(sizeof(kvm_fpu::xmm) == sizeof(Fpu::xmm));

}  // namespace

Regs from_kvm(const kvm_regs& in) {
  return Regs{in.rax, in.rbx, in.rcx, in.rdx, in.rsi, in.rdi, in.rsp, in.rbp, in.r8,  in.r9,
              in.r10, in.r11, in.r12, in.r13, in.r14, in.r15, in.rip, in.rflags};
}

kvm_regs to_kvm(const Regs& in) {
  kvm_regs out{};
  out.rax = in.rax, out.rbx = in.rbx, out.rcx = in.rcx, out.rdx = in.rdx;
  out.rsi = in.rsi, out.rdi = in.rdi, out.rsp = in.rsp, out.rbp = in.rbp;
  out.r8 = in.r8, out.r9 = in.r9, out.r10 = in.r10, out.r11 = in.r11;
  out.r12 = in.r12, out.r13 = in.r13, out.r14 = in.r14, out.r15 = in.r15;
  out.rip = in.rip, out.rflags = in.rflags;
  return out;
}

Sregs from_kvm(const kvm_sregs& in) {
  Sregs out{};
  out.cs = from_kvm(in.cs), out.ds = from_kvm(in.ds), out.es = from_kvm(in.es);
  out.fs = from_kvm(in.fs), out.gs = from_kvm(in.gs), out.ss = from_kvm(in.ss);
  out.tr = from_kvm(in.tr), out.ldt = from_kvm(in.ldt);
  out.gdt = from_kvm(in.gdt), out.idt = from_kvm(in.idt);
  out.cr0 = in.cr0, out.cr2 = in.cr2, out.cr3 = in.cr3, out.cr4 = in.cr4, out.cr8 = in.cr8;
  out.efer = in.efer;
  out.apic_base = in.apic_base;
  std::memcpy(out.interrupt_bitmap.data(), in.interrupt_bitmap, sizeof in.interrupt_bitmap);
  return out;
}

kvm_sregs to_kvm(const Sregs& in) {
  kvm_sregs out{};
  out.cs = to_kvm(in.cs), out.ds = to_kvm(in.ds), out.es = to_kvm(in.es);
  out.fs = to_kvm(in.fs), out.gs = to_kvm(in.gs), out.ss = to_kvm(in.ss);
  out.tr = to_kvm(in.tr), out.ldt = to_kvm(in.ldt);
  out.gdt = to_kvm(in.gdt), out.idt = to_kvm(in.idt);
  out.cr0 = in.cr0, out.cr2 = in.cr2, out.cr3 = in.cr3, out.cr4 = in.cr4, out.cr8 = in.cr8;
  out.efer = in.efer;
  out.apic_base = in.apic_base;
  std::memcpy(out.interrupt_bitmap, in.interrupt_bitmap.data(), sizeof out.interrupt_bitmap);
  return out;
}

Fpu from_kvm(const kvm_fpu& in) {
  Fpu out{};
  std::memcpy(out.fpr.data(), in.fpr, sizeof in.fpr);
  out.fcw = in.fcw, out.fsw = in.fsw, out.ftwx = in.ftwx, out.last_opcode = in.last_opcode;
  out.last_ip = in.last_ip, out.last_dp = in.last_dp;
  std::memcpy(out.xmm.data(), in.xmm, sizeof in.xmm);
  out.mxcsr = in.mxcsr;
  return out;
}

kvm_fpu to_kvm(const Fpu& in) {
  kvm_fpu out{};
  std::memcpy(out.fpr, in.fpr.data(), sizeof out.fpr);
  out.fcw = in.fcw, out.fsw = in.fsw, out.ftwx = in.ftwx, out.last_opcode = in.last_opcode;
  out.last_ip = in.last_ip, out.last_dp = in.last_dp;
  std::memcpy(out.xmm, in.xmm.data(), sizeof out.xmm);
  out.mxcsr = in.mxcsr;
  return out;
}

CpuidEntry from_kvm(const kvm_cpuid_entry2& in) {
  return CpuidEntry{in.function, in.index, in.flags, in.eax, in.ebx, in.ecx, in.edx};
}

kvm_cpuid_entry2 to_kvm(const CpuidEntry& in) {
  kvm_cpuid_entry2 out{};
  out.function = in.function, out.index = in.index, out.flags = in.flags;
  out.eax = in.eax, out.ebx = in.ebx, out.ecx = in.ecx, out.edx = in.edx;
  return out;
}

}  // namespace rrvm::hv::kvm
