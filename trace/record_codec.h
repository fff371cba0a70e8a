// The compact in-memory form of an event in a thread buffer: a RecordHeader, the event struct's
// bytes as they are, then the bytes of each of its views (strings, arrays), each padded to 8.
// Unpacking copies the struct and points its views at those bytes. Both ends run in the same
// process, so the struct layout needs no translation; this is what keeps emit() to a memcpy.
#pragma once

#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>

#include "trace/event_record.h"
#include "trace/thread_buffer.h"

namespace rrvm::trace::internal {

// Calls f on every view member of an event, in a fixed order (packing and unpacking agree on it).
template <typename E, typename F>
void for_each_view(E& e, F&& f) {
  using T = std::remove_const_t<E>;
  if constexpr (std::is_same_v<T, RunStateChange>) {
    f(e.reason);
  } else if constexpr (std::is_same_v<T, NotifierCall>) {
    f(e.handler);
  } else if constexpr (std::is_same_v<T, MsrAccess>) {
    f(e.entries);
  } else if constexpr (std::is_same_v<T, DeviceStatusWrite>) {
    f(e.device), f(e.transport), f(e.reason);
  } else if constexpr (std::is_same_v<T, DeviceReset>) {
    f(e.device), f(e.reason);
  } else if constexpr (std::is_same_v<T, DeviceBackend>) {
    f(e.device), f(e.reason);
  } else if constexpr (std::is_same_v<T, VcpuExit>) {
    f(e.data);
  } else if constexpr (std::is_same_v<T, MonitorCommand> || std::is_same_v<T, MonitorReply>) {
    f(e.json);
  } else if constexpr (std::is_same_v<T, MigrationEvent>) {
    f(e.detail);
  } else if constexpr (std::is_same_v<T, SnapshotSection>) {
    f(e.device), f(e.error);
  } else if constexpr (std::is_same_v<T, UserMark>) {
    f(e.text);
  } else if constexpr (std::is_same_v<T, Warning>) {
    f(e.component), f(e.text);
  } else if constexpr (std::is_same_v<T, HvCall>) {
    f(e.name), f(e.payload);
  } else if constexpr (std::is_same_v<T, SpanBegin>) {
    f(e.name);
  }
  // ClockAccess, KvmclockCtrl, TscRead, TscKhz, SpanEnd, Dropped: no views.
}

template <typename V>
size_t view_bytes(const V& v) {
  return v.size() * sizeof(*v.data());
}

// The EventType of an event struct: its index in EventBody.
template <typename T, size_t I = 0>
constexpr EventType event_type_of() {
  if constexpr (std::is_same_v<T, std::variant_alternative_t<I, EventBody>>) {
    return static_cast<EventType>(I);
  } else {
    return event_type_of<T, I + 1>();
  }
}

// Bytes a record for `e` needs, header included.
template <typename T>
size_t record_size(const T& e) {
  static_assert(std::is_trivially_copyable_v<T>);
  size_t n = sizeof(RecordHeader) + align8(sizeof(T));
  for_each_view(e, [&](const auto& v) { n += align8(view_bytes(v)); });
  return n;
}

// Writes the payload (everything after the header) of a record of record_size(e) bytes.
template <typename T>
void pack_payload(const T& e, uint8_t* out) {
  std::memcpy(out, &e, sizeof(T));
  out += align8(sizeof(T));
  for_each_view(e, [&](const auto& v) {
    size_t n = view_bytes(v);
    if (n != 0) std::memcpy(out, v.data(), n);
    out += align8(n);
  });
}

template <typename T>
T unpack_payload(const uint8_t* in) {
  T e;
  std::memcpy(&e, in, sizeof(T));
  in += align8(sizeof(T));
  for_each_view(e, [&](auto& v) {
    using V = std::remove_reference_t<decltype(v)>;
    size_t count = v.size();
    if constexpr (std::is_same_v<V, std::string_view>) {
      v = std::string_view(reinterpret_cast<const char*>(in), count);
    } else {
      v = V(reinterpret_cast<typename V::element_type*>(in), count);
    }
    in += align8(count * sizeof(*v.data()));
  });
  return e;
}

// The body of a record read back from a thread buffer (views point into the buffer).
EventBody unpack_record(const RecordHeader& header);

}  // namespace rrvm::trace::internal
