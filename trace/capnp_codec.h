// Conversion between the C++ event and header structs and their Cap'n Proto form
// (trace/schema/trace.capnp). The writer encodes; the reader decodes. Decoding may throw
// kj::Exception on malformed messages: callers (the reader) catch it at the trace boundary.
#pragma once

#include <vector>

#include "trace/event_record.h"
#include "trace/recorder.h"
#include "trace/schema/trace.capnp.h"

namespace rrvm::trace {

// What a trace's header says: the recorder's Header plus what the recorder itself adds.
struct TraceHeader {
  uint32_t format_version = 0;
  Header header;
  uint64_t monotonic_start_ns = 0;  // event times are printed relative to this
  std::string clock_source;         // "tsc" or "monotonic"
};

namespace internal {

void encode_header(const TraceHeader& in, schema::Header::Builder out);
TraceHeader decode_header(schema::Header::Reader in);

void encode_event(const EventRecord& in, schema::Event::Builder out);
// MsrAccess entries are decoded into *msr_scratch, which must outlive the record's use.
void decode_event(schema::Event::Reader in, EventRecord& out, std::vector<MsrEntry>* msr_scratch);

void encode_thread(const ThreadInfo& in, schema::ThreadInfo::Builder out);
ThreadInfo decode_thread(schema::ThreadInfo::Reader in);

}  // namespace internal
}  // namespace rrvm::trace
