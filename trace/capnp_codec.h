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

// Storage for the parts of a decoded event that Cap'n Proto does not hold in the needed form
// (MSR entries, exit data stored inline); must outlive the record's use.
struct DecodeScratch {
  std::vector<MsrEntry> msrs;
  uint8_t exit_data[8];
};

// Everything but seq and time, which a Batch stores compactly (trace.capnp: Batch).
void encode_event(const EventRecord& in, uint32_t time_delta_ns, schema::Event::Builder out);
// Sets thread, span and body (not seq and time_ns).
void decode_event(const schema::Event::Reader& in, EventRecord& out, DecodeScratch* scratch);

void encode_thread(const ThreadInfo& in, schema::ThreadInfo::Builder out);
ThreadInfo decode_thread(schema::ThreadInfo::Reader in);

}  // namespace internal
}  // namespace rrvm::trace
