// A minimal AML (ACPI Machine Language, ACPI 6.5 chapter 20) byte emitter: exactly what rrvm's
// DSDT needs to describe fixed devices. Each function returns the encoded bytes of one term, so
// terms nest by passing the bytes of the inner ones:
//
//   scope("\\_SB_", {device("VR00", {name("_HID", string("LNRO0005")), ...})})
//
// Resource descriptors (chapter 6.4) are separate byte strings that resource_template() wraps in a
// Buffer with the End Tag, as ASL's ResourceTemplate() does.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace rrvm::boot::acpi::aml {

using Bytes = std::vector<uint8_t>;

// PkgLength (20.2.4) for a package whose contents after the PkgLength are `body_len` bytes: the
// encoded length counts its own bytes. RRVM_CHECKs that it fits the 28-bit maximum.
Bytes pkg_length(size_t body_len);

// A NameString: one to four characters of a segment ('_'-padded), optionally prefixed by '\\'
// (root) and made of dot-free segments only. RRVM_CHECKs the characters (A-Z, 0-9, _; the first
// not a digit): the names come from rrvm's code, not from input.
Bytes name_string(std::string_view name);

// Data objects.
Bytes integer(uint64_t value);          // the shortest of Zero/One/Byte/Word/DWord/QWord
Bytes string(std::string_view ascii);  // StringPrefix, the bytes, NUL
// EISAID("PNP0501"): the compressed 32-bit id as a DWord (RRVM_CHECKs the 7-character form).
Bytes eisa_id(std::string_view id);

// Named objects and scopes.
Bytes name(std::string_view name, const Bytes& data);
Bytes scope(std::string_view name, const std::vector<Bytes>& terms);
Bytes device(std::string_view name, std::initializer_list<Bytes> terms);

// Resource descriptors.
Bytes memory32_fixed(uint32_t base, uint32_t length, bool writable);
struct InterruptFlags {
  bool edge = true;         // false: level-triggered
  bool active_low = false;
  bool shared = false;
};
Bytes extended_interrupt(uint32_t gsi, InterruptFlags flags);  // consumer, one interrupt
Bytes io_port(uint16_t base, uint8_t length);                  // Decode16, min = max = base
Bytes irq_no_flags(uint8_t irq);                               // edge, active high, exclusive
// Buffer { descriptors..., End Tag } (checksum 0: "the sum is correct" per 6.4.2.9).
Bytes resource_template(std::initializer_list<Bytes> descriptors);

}  // namespace rrvm::boot::acpi::aml
