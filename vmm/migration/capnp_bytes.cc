#include "vmm/migration/capnp_bytes.h"

#include <algorithm>
#include <cstring>

namespace rrvm::migration {

std::vector<uint8_t> message_bytes(capnp::MessageBuilder& message) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::vector<uint8_t>(bytes.begin(), bytes.end());
}

std::string describe_kj_exception(const kj::Exception& e) {
  return std::string(e.getDescription().cStr());
}

namespace detail {

Status read_message_impl(std::span<const uint8_t> bytes, size_t max_bytes,
                         const std::function<Status(capnp::MessageReader&)>& fn) {
  if (bytes.size() > max_bytes) {
    return make_error("message of " + std::to_string(bytes.size()) +
                      " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    return make_error("message of " + std::to_string(bytes.size()) +
                      " bytes is not a whole number of 8-byte words");
  }
  // Aligned copy: Cap'n Proto reads words in place and the input span may be unaligned.
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  // Bounded work however the pointers are arranged (a message may point many times at the same
  // data): a few times its own size.
  options.traversalLimitInWords = std::max<uint64_t>(1024, words.size() * 4);
  options.nestingLimit = 16;
  try {
    capnp::FlatArrayMessageReader reader(words.asPtr(), options);
    if (reader.getEnd() != words.end()) {
      return make_error("message has " +
                        std::to_string((words.end() - reader.getEnd()) * sizeof(capnp::word)) +
                        " trailing bytes");
    }
    return fn(reader);
  } catch (const kj::Exception& e) {
    return make_error("malformed Cap'n Proto message: " + describe_kj_exception(e));
  }
}

}  // namespace detail
}  // namespace rrvm::migration
