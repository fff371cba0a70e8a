// The bytes an HvCall trace event carries: hypervisor-seam values in a fixed little-endian layout,
// field by field (never a struct's memory, whose padding would make traces differ run to run).
// The recording layer encodes; replay decodes the same layout to serve recorded answers. A decoder
// given bytes of the wrong length or shape returns an error naming what it expected.
//
// Layouts (u8/u16/u32/u64 little-endian, in declaration order of the hv struct):
//   Regs        18 x u64 (rax ... r15, rip, rflags)
//   Sregs       8 segments (cs ds es fs gs ss tr ldt), each: base u64, limit u32, selector u16,
//               type present dpl db s l g avl unusable u8; gdt, idt: base u64, limit u16;
//               cr0 cr2 cr3 cr4 cr8 efer apic_base u64; interrupt_bitmap 4 x u64
//   Fpu         fpr 128 bytes, fcw fsw u16, ftwx u8, last_opcode u16, last_ip last_dp u64,
//               xmm 256 bytes, mxcsr u32
//   Xcrs        count u32, then per XCR: index u32, value u64
//   CpuidList   count u32, then per entry: function index flags eax ebx ecx edx u32
//   U32List / U64List   count u32, then the values
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/hv/types.h"

namespace rrvm::hv::payload {

class Writer {
 public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void bytes(std::span<const uint8_t> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  std::vector<uint8_t>& data() { return bytes_; }

 private:
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> bytes_;
};

// Reads a payload front to back; every read is bounds-checked.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}
  Result<uint8_t> u8();
  Result<uint16_t> u16();
  Result<uint32_t> u32();
  Result<uint64_t> u64();
  Result<std::span<const uint8_t>> bytes(size_t n);
  size_t remaining() const { return bytes_.size() - pos_; }
  // Error unless every byte was consumed.
  Status finish() const;

 private:
  Result<uint64_t> get(int n);
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  std::string what_;
};

std::vector<uint8_t> encode(const Regs& regs);
std::vector<uint8_t> encode(const Sregs& sregs);
std::vector<uint8_t> encode(const Fpu& fpu);
std::vector<uint8_t> encode(const std::vector<Xcr>& xcrs);
std::vector<uint8_t> encode(const std::vector<CpuidEntry>& entries);
std::vector<uint8_t> encode_u32_list(std::span<const uint32_t> values);
std::vector<uint8_t> encode_u64_list(std::span<const uint64_t> values);

Result<Regs> decode_regs(std::span<const uint8_t> bytes);
Result<Sregs> decode_sregs(std::span<const uint8_t> bytes);
Result<Fpu> decode_fpu(std::span<const uint8_t> bytes);
Result<std::vector<Xcr>> decode_xcrs(std::span<const uint8_t> bytes);
Result<std::vector<CpuidEntry>> decode_cpuid(std::span<const uint8_t> bytes);
Result<std::vector<uint32_t>> decode_u32_list(std::span<const uint8_t> bytes);
Result<std::vector<uint64_t>> decode_u64_list(std::span<const uint8_t> bytes);

}  // namespace rrvm::hv::payload
