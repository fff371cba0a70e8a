#include "vmm/hv/recording/payload.h"

#include <algorithm>

namespace rrvm::hv::payload {
namespace {

constexpr size_t XCR_BYTES = 12;
constexpr size_t CPUID_ENTRY_BYTES = 28;

void put_segment(Writer& w, const Segment& s) {
  w.u64(s.base);
  w.u32(s.limit);
  w.u16(s.selector);
  for (uint8_t b : {s.type, s.present, s.dpl, s.db, s.s, s.l, s.g, s.avl, s.unusable}) w.u8(b);
}

Result<Segment> get_segment(Reader& r) {
  Segment s{};
  RRVM_ASSIGN_OR_RETURN(s.base, r.u64());
  RRVM_ASSIGN_OR_RETURN(s.limit, r.u32());
  RRVM_ASSIGN_OR_RETURN(s.selector, r.u16());
  for (uint8_t* f : {&s.type, &s.present, &s.dpl, &s.db, &s.s, &s.l, &s.g, &s.avl, &s.unusable}) {
    RRVM_ASSIGN_OR_RETURN(*f, r.u8());
  }
  return s;
}

void put_table(Writer& w, const DescriptorTable& t) {
  w.u64(t.base);
  w.u16(t.limit);
}

Result<DescriptorTable> get_table(Reader& r) {
  DescriptorTable t{};
  RRVM_ASSIGN_OR_RETURN(t.base, r.u64());
  RRVM_ASSIGN_OR_RETURN(t.limit, r.u16());
  return t;
}

// A list's count, checked against the bytes left so a corrupt count never allocates.
Result<uint32_t> get_count(Reader& r, size_t element_bytes, const char* what) {
  RRVM_ASSIGN_OR_RETURN(uint32_t n, r.u32());
  if (uint64_t{n} * element_bytes != r.remaining()) {
    return make_error(std::string(what) + " payload: " + std::to_string(n) + " entries need " +
                      std::to_string(uint64_t{n} * element_bytes) + " bytes, " +
                      std::to_string(r.remaining()) + " present");
  }
  return n;
}

}  // namespace

Result<uint64_t> Reader::get(int n) {
  if (remaining() < static_cast<size_t>(n)) {
    return make_error(what_ + " payload: ends at byte " + std::to_string(bytes_.size()) +
                      ", needed " + std::to_string(pos_ + n));
  }
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{bytes_[pos_ + i]} << (8 * i);
  pos_ += n;
  return v;
}

Result<uint8_t> Reader::u8() {
  RRVM_ASSIGN_OR_RETURN(uint64_t v, get(1));
  return static_cast<uint8_t>(v);
}
Result<uint16_t> Reader::u16() {
  RRVM_ASSIGN_OR_RETURN(uint64_t v, get(2));
  return static_cast<uint16_t>(v);
}
Result<uint32_t> Reader::u32() {
  RRVM_ASSIGN_OR_RETURN(uint64_t v, get(4));
  return static_cast<uint32_t>(v);
}
Result<uint64_t> Reader::u64() { return get(8); }

Result<std::span<const uint8_t>> Reader::bytes(size_t n) {
  if (remaining() < n) {
    return make_error(what_ + " payload: " + std::to_string(n) + " bytes wanted, " +
                      std::to_string(remaining()) + " left");
  }
  auto out = bytes_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Status Reader::finish() const {
  if (remaining() == 0) return ok_status();
  return make_error(what_ + " payload: " + std::to_string(remaining()) + " bytes too many");
}

std::vector<uint8_t> encode(const Regs& regs) {
  Writer w;
  for (uint64_t v : {regs.rax, regs.rbx, regs.rcx, regs.rdx, regs.rsi, regs.rdi, regs.rsp,
                     regs.rbp, regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14,
                     regs.r15, regs.rip, regs.rflags}) {
    w.u64(v);
  }
  return std::move(w.data());
}

Result<Regs> decode_regs(std::span<const uint8_t> bytes) {
  Reader r(bytes, "regs");
  Regs regs{};
  for (uint64_t* f : {&regs.rax, &regs.rbx, &regs.rcx, &regs.rdx, &regs.rsi, &regs.rdi, &regs.rsp,
                      &regs.rbp, &regs.r8, &regs.r9, &regs.r10, &regs.r11, &regs.r12, &regs.r13,
                      &regs.r14, &regs.r15, &regs.rip, &regs.rflags}) {
    RRVM_ASSIGN_OR_RETURN(*f, r.u64());
  }
  RRVM_TRY(r.finish());
  return regs;
}

std::vector<uint8_t> encode(const Sregs& s) {
  Writer w;
  for (const Segment* seg : {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss, &s.tr, &s.ldt}) {
    put_segment(w, *seg);
  }
  put_table(w, s.gdt);
  put_table(w, s.idt);
  for (uint64_t v : {s.cr0, s.cr2, s.cr3, s.cr4, s.cr8, s.efer, s.apic_base}) w.u64(v);
  for (uint64_t v : s.interrupt_bitmap) w.u64(v);
  return std::move(w.data());
}

Result<Sregs> decode_sregs(std::span<const uint8_t> bytes) {
  Reader r(bytes, "sregs");
  Sregs s{};
  for (Segment* seg : {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss, &s.tr, &s.ldt}) {
    RRVM_ASSIGN_OR_RETURN(*seg, get_segment(r));
  }
  RRVM_ASSIGN_OR_RETURN(s.gdt, get_table(r));
  RRVM_ASSIGN_OR_RETURN(s.idt, get_table(r));
  for (uint64_t* f : {&s.cr0, &s.cr2, &s.cr3, &s.cr4, &s.cr8, &s.efer, &s.apic_base}) {
    RRVM_ASSIGN_OR_RETURN(*f, r.u64());
  }
  for (uint64_t& v : s.interrupt_bitmap) {
    RRVM_ASSIGN_OR_RETURN(v, r.u64());
  }
  RRVM_TRY(r.finish());
  return s;
}

std::vector<uint8_t> encode(const Fpu& f) {
  Writer w;
  w.bytes(f.fpr);
  w.u16(f.fcw);
  w.u16(f.fsw);
  w.u8(f.ftwx);
  w.u16(f.last_opcode);
  w.u64(f.last_ip);
  w.u64(f.last_dp);
  w.bytes(f.xmm);
  w.u32(f.mxcsr);
  return std::move(w.data());
}

Result<Fpu> decode_fpu(std::span<const uint8_t> bytes) {
  Reader r(bytes, "fpu");
  Fpu f{};
  RRVM_ASSIGN_OR_RETURN(auto fpr, r.bytes(f.fpr.size()));
  std::copy(fpr.begin(), fpr.end(), f.fpr.begin());
  RRVM_ASSIGN_OR_RETURN(f.fcw, r.u16());
  RRVM_ASSIGN_OR_RETURN(f.fsw, r.u16());
  RRVM_ASSIGN_OR_RETURN(f.ftwx, r.u8());
  RRVM_ASSIGN_OR_RETURN(f.last_opcode, r.u16());
  RRVM_ASSIGN_OR_RETURN(f.last_ip, r.u64());
  RRVM_ASSIGN_OR_RETURN(f.last_dp, r.u64());
  RRVM_ASSIGN_OR_RETURN(auto xmm, r.bytes(f.xmm.size()));
  std::copy(xmm.begin(), xmm.end(), f.xmm.begin());
  RRVM_ASSIGN_OR_RETURN(f.mxcsr, r.u32());
  RRVM_TRY(r.finish());
  return f;
}

std::vector<uint8_t> encode(const std::vector<Xcr>& xcrs) {
  Writer w;
  w.u32(static_cast<uint32_t>(xcrs.size()));
  for (const Xcr& x : xcrs) {
    w.u32(x.index);
    w.u64(x.value);
  }
  return std::move(w.data());
}

Result<std::vector<Xcr>> decode_xcrs(std::span<const uint8_t> bytes) {
  Reader r(bytes, "xcrs");
  RRVM_ASSIGN_OR_RETURN(uint32_t n, get_count(r, XCR_BYTES, "xcrs"));
  std::vector<Xcr> out(n);
  for (Xcr& x : out) {
    RRVM_ASSIGN_OR_RETURN(x.index, r.u32());
    RRVM_ASSIGN_OR_RETURN(x.value, r.u64());
  }
  return out;
}

std::vector<uint8_t> encode(const std::vector<CpuidEntry>& entries) {
  Writer w;
  w.u32(static_cast<uint32_t>(entries.size()));
  for (const CpuidEntry& e : entries) {
    for (uint32_t v : {e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx}) w.u32(v);
  }
  return std::move(w.data());
}

Result<std::vector<CpuidEntry>> decode_cpuid(std::span<const uint8_t> bytes) {
  Reader r(bytes, "cpuid");
  RRVM_ASSIGN_OR_RETURN(uint32_t n, get_count(r, CPUID_ENTRY_BYTES, "cpuid"));
  std::vector<CpuidEntry> out(n);
  for (CpuidEntry& e : out) {
    for (uint32_t* f : {&e.function, &e.index, &e.flags, &e.eax, &e.ebx, &e.ecx, &e.edx}) {
      RRVM_ASSIGN_OR_RETURN(*f, r.u32());
    }
  }
  return out;
}

std::vector<uint8_t> encode_u32_list(std::span<const uint32_t> values) {
  Writer w;
  w.u32(static_cast<uint32_t>(values.size()));
  for (uint32_t v : values) w.u32(v);
  return std::move(w.data());
}

std::vector<uint8_t> encode_u64_list(std::span<const uint64_t> values) {
  Writer w;
  w.u32(static_cast<uint32_t>(values.size()));
  for (uint64_t v : values) w.u64(v);
  return std::move(w.data());
}

Result<std::vector<uint32_t>> decode_u32_list(std::span<const uint8_t> bytes) {
  Reader r(bytes, "u32 list");
  RRVM_ASSIGN_OR_RETURN(uint32_t n, get_count(r, 4, "u32 list"));
  std::vector<uint32_t> out(n);
  for (uint32_t& v : out) {
    RRVM_ASSIGN_OR_RETURN(v, r.u32());
  }
  return out;
}

Result<std::vector<uint64_t>> decode_u64_list(std::span<const uint8_t> bytes) {
  Reader r(bytes, "u64 list");
  RRVM_ASSIGN_OR_RETURN(uint32_t n, get_count(r, 8, "u64 list"));
  std::vector<uint64_t> out(n);
  for (uint64_t& v : out) {
    RRVM_ASSIGN_OR_RETURN(v, r.u64());
  }
  return out;
}

}  // namespace rrvm::hv::payload
