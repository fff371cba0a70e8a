#include "trace/record_codec.h"

#include <utility>

#include "vmm/base/check.h"

namespace rrvm::trace::internal {
namespace {

template <size_t... I>
EventBody unpack_by_index(size_t type, const uint8_t* in, std::index_sequence<I...>) {
  EventBody body;
  bool found =
      ((type == I ? (body = unpack_payload<std::variant_alternative_t<I, EventBody>>(in), true)
                  : false) ||
       ...);
  RRVM_CHECK_MSG(found, "thread buffer record of unknown type " + std::to_string(type));
  return body;
}

}  // namespace

EventBody unpack_record(const RecordHeader& header) {
  const auto* payload = reinterpret_cast<const uint8_t*>(&header) + sizeof(RecordHeader);
  return unpack_by_index(header.type, payload,
                         std::make_index_sequence<std::variant_size_v<EventBody>>{});
}

}  // namespace rrvm::trace::internal
