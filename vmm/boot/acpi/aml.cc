#include "vmm/boot/acpi/aml.h"

#include "vmm/base/check.h"

namespace rrvm::boot::acpi::aml {
namespace {

// Opcodes (ACPI 6.5, 20.3).
constexpr uint8_t ZERO_OP = 0x00;
constexpr uint8_t ONE_OP = 0x01;
constexpr uint8_t NAME_OP = 0x08;
constexpr uint8_t BYTE_PREFIX = 0x0a;
constexpr uint8_t WORD_PREFIX = 0x0b;
constexpr uint8_t DWORD_PREFIX = 0x0c;
constexpr uint8_t STRING_PREFIX = 0x0d;
constexpr uint8_t QWORD_PREFIX = 0x0e;
constexpr uint8_t SCOPE_OP = 0x10;
constexpr uint8_t BUFFER_OP = 0x11;
constexpr uint8_t EXT_OP_PREFIX = 0x5b;
constexpr uint8_t DEVICE_OP = 0x82;  // after EXT_OP_PREFIX
constexpr uint8_t ROOT_CHAR = '\\';

// Resource descriptor tags (6.4).
constexpr uint8_t IRQ_NO_FLAGS_TAG = 0x22;   // small item 0x04, 2 bytes
constexpr uint8_t IO_TAG = 0x47;             // small item 0x08, 7 bytes
constexpr uint8_t END_TAG = 0x79;            // small item 0x0f, 1 byte
constexpr uint8_t MEMORY32_FIXED_TAG = 0x86; // large item 0x06
constexpr uint8_t EXT_IRQ_TAG = 0x89;        // large item 0x09

void append(Bytes& out, const Bytes& more) { out.insert(out.end(), more.begin(), more.end()); }

void append_le(Bytes& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// `prefix` PkgLength `body`: the shape of every package-encoded term.
Bytes package(std::initializer_list<uint8_t> prefix, const Bytes& body) {
  Bytes out(prefix);
  append(out, pkg_length(body.size()));
  append(out, body);
  return out;
}

bool is_lead_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_lead_char(c) || (c >= '0' && c <= '9'); }

Bytes concat(std::string_view name, std::initializer_list<Bytes> terms) {
  Bytes body = name_string(name);
  for (const Bytes& t : terms) append(body, t);
  return body;
}

}  // namespace

Bytes pkg_length(size_t body_len) {
  // One byte holds up to 63 (6 bits); with n extra bytes the lead byte keeps 4 bits and each
  // extra byte 8: 2^12, 2^20, 2^28. The encoded value includes the PkgLength bytes themselves.
  for (int extra = 0; extra <= 3; ++extra) {
    const size_t total = body_len + 1 + extra;
    const size_t limit = extra == 0 ? (1u << 6) : (size_t{1} << (4 + 8 * extra));
    if (total >= limit) continue;
    if (extra == 0) return {static_cast<uint8_t>(total)};
    Bytes out{static_cast<uint8_t>((extra << 6) | (total & 0x0f))};
    append_le(out, total >> 4, extra);
    return out;
  }
  RRVM_FATAL("AML package longer than 2^28 bytes");
}

Bytes name_string(std::string_view name) {
  Bytes out;
  if (!name.empty() && name.front() == ROOT_CHAR) {
    out.push_back(ROOT_CHAR);
    name.remove_prefix(1);
  }
  RRVM_CHECK_MSG(!name.empty() && name.size() <= 4 && is_lead_char(name.front()), "AML name segment");
  for (char c : name) RRVM_CHECK_MSG(is_name_char(c), "AML name character");
  out.insert(out.end(), name.begin(), name.end());
  out.resize(out.size() + (4 - name.size()), '_');
  return out;
}

Bytes integer(uint64_t value) {
  if (value == 0) return {ZERO_OP};
  if (value == 1) return {ONE_OP};
  Bytes out;
  if (value <= 0xff) {
    out = {BYTE_PREFIX};
    append_le(out, value, 1);
  } else if (value <= 0xffff) {
    out = {WORD_PREFIX};
    append_le(out, value, 2);
  } else if (value <= 0xffffffff) {
    out = {DWORD_PREFIX};
    append_le(out, value, 4);
  } else {
    out = {QWORD_PREFIX};
    append_le(out, value, 8);
  }
  return out;
}

Bytes string(std::string_view ascii) {
  Bytes out{STRING_PREFIX};
  for (char c : ascii) {
    RRVM_CHECK_MSG(c > 0 && c < 0x7f, "AML strings are ASCII without NUL");
    out.push_back(static_cast<uint8_t>(c));
  }
  out.push_back(0);
  return out;
}

Bytes eisa_id(std::string_view id) {
  // Three letters of 5 bits (A = 1) and four hex digits, stored big-endian in a DWord (ACPI
  // 19.6.35, EISAID): "PNP0501" -> 0x41d00501 -> bytes 41 d0 05 01.
  RRVM_CHECK_MSG(id.size() == 7, "EISA id is 3 letters and 4 hex digits");
  uint32_t value = 0;
  for (int i = 0; i < 3; ++i) {
    RRVM_CHECK_MSG(id[i] >= 'A' && id[i] <= 'Z', "EISA id letter");
    value = (value << 5) | static_cast<uint32_t>(id[i] - 'A' + 1);
  }
  for (int i = 3; i < 7; ++i) {
    const char c = id[i];
    RRVM_CHECK_MSG((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'), "EISA id hex digit");
    value = (value << 4) | static_cast<uint32_t>(c <= '9' ? c - '0' : c - 'A' + 10);
  }
  Bytes out{DWORD_PREFIX};
  append_le(out, __builtin_bswap32(value), 4);
  return out;
}

Bytes name(std::string_view n, const Bytes& data) {
  Bytes out{NAME_OP};
  append(out, name_string(n));
  append(out, data);
  return out;
}

Bytes scope(std::string_view n, const std::vector<Bytes>& terms) {
  Bytes body = name_string(n);
  for (const Bytes& t : terms) append(body, t);
  return package({SCOPE_OP}, body);
}

Bytes device(std::string_view n, std::initializer_list<Bytes> terms) {
  return package({EXT_OP_PREFIX, DEVICE_OP}, concat(n, terms));
}

Bytes memory32_fixed(uint32_t base, uint32_t length, bool writable) {
  Bytes out{MEMORY32_FIXED_TAG};
  append_le(out, 9, 2);  // information byte + base + length
  out.push_back(writable ? 1 : 0);
  append_le(out, base, 4);
  append_le(out, length, 4);
  return out;
}

Bytes extended_interrupt(uint32_t gsi, InterruptFlags f) {
  Bytes out{EXT_IRQ_TAG};
  append_le(out, 6, 2);  // flags + count + one DWord
  // Bit 0 consumer, 1 edge, 2 active low, 3 shared.
  out.push_back(static_cast<uint8_t>(0x01 | (f.edge ? 0x02 : 0) | (f.active_low ? 0x04 : 0) |
                                     (f.shared ? 0x08 : 0)));
  out.push_back(1);
  append_le(out, gsi, 4);
  return out;
}

Bytes io_port(uint16_t base, uint8_t length) {
  Bytes out{IO_TAG, 0x01};  // decodes 16 address bits
  append_le(out, base, 2);  // minimum
  append_le(out, base, 2);  // maximum
  out.push_back(1);         // alignment
  out.push_back(length);
  return out;
}

Bytes irq_no_flags(uint8_t irq) {
  RRVM_CHECK_MSG(irq < 16, "IRQNoFlags takes ISA IRQs 0-15");
  Bytes out{IRQ_NO_FLAGS_TAG};
  append_le(out, 1u << irq, 2);
  return out;
}

Bytes resource_template(std::initializer_list<Bytes> descriptors) {
  Bytes data;
  for (const Bytes& d : descriptors) append(data, d);
  data.push_back(END_TAG);
  data.push_back(0);
  Bytes body = integer(data.size());
  append(body, data);
  return package({BUFFER_OP}, body);
}

}  // namespace rrvm::boot::acpi::aml
