// Cap'n Proto messages as plain bytes, and reading them back from untrusted input.
//
// Stream descriptors, and the machine's device sections if it likes, are single unpacked messages.
// Decoding runs inside read_message(), which turns every kj::Exception (a malformed pointer, a
// traversal limit hit while the callback walks the message) into an Error, so a corrupt stream is
// refused and never crashes rrvm.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/result.h"

namespace rrvm::migration {

// The message as one unpacked flat array (segment table + segments).
std::vector<uint8_t> message_bytes(capnp::MessageBuilder& message);

namespace detail {
// Copies bytes into aligned words (refusing sizes that are not whole words or exceed max_bytes),
// opens a reader with a traversal limit proportional to the size and calls fn on it.
Status read_message_impl(std::span<const uint8_t> bytes, size_t max_bytes,
                         const std::function<Status(capnp::MessageReader&)>& fn);
}  // namespace detail

// Decodes bytes as a message with root T and calls fn(T::Reader). fn must finish all reading of
// the message before it returns: the reader does not outlive the call.
template <typename T, typename Fn>
Status read_message(std::span<const uint8_t> bytes, size_t max_bytes, Fn&& fn) {
  return detail::read_message_impl(bytes, max_bytes, [&](capnp::MessageReader& reader) -> Status {
    return fn(reader.getRoot<T>());
  });
}

// Text of a Cap'n Proto exception, for error messages.
std::string describe_kj_exception(const kj::Exception& e);

}  // namespace rrvm::migration
