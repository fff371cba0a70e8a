// Fuzzes the trace reader with arbitrary files: opening (magic, footer, index or frame scan),
// decompressing, decoding every event, formatting it as `rrvm dump` does, backtraces, sizes, and
// seeking through the index. Any input must give events or an Error, never a crash or a leak.
//
//   build-trace-fuzz/fuzz/trace_reader_fuzzer fuzz/seeds/trace_reader -max_total_time=60
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "trace/format.h"
#include "trace/reader.h"

namespace {

// Reads every event from where the reader stands; returns how many.
size_t drain(rrvm::trace::Reader& reader) {
  size_t n = 0;
  while (true) {
    auto e = reader.next();
    if (!e.ok() || *e == nullptr) return n;
    ++n;
    std::string line = rrvm::trace::format_fields(**e) + reader.thread_name((*e)->thread);
    for (const auto& frame : reader.backtrace((*e)->span)) line += frame.name;
    auto bytes = reader.current_event_raw_bytes();
    if (bytes.ok() && line.empty() && *bytes == 0) return n;  // keeps the work observable
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("trace", MFD_CLOEXEC);
  if (fd < 0) return 0;
  size_t written = 0;
  while (written < size) {
    ssize_t n = write(fd, data + written, size - written);
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  rrvm::trace::ReaderOptions options;
  options.max_chunk_bytes = 4u << 20;  // keeps each input fast; the limit logic is the same
  auto reader = rrvm::trace::Reader::open("/proc/self/fd/" + std::to_string(fd), options);
  if (reader.ok()) {
    drain(**reader);
    const auto& chunks = (*reader)->chunks();
    if (!chunks.empty() && (*reader)->seek_chunk(chunks.size() - 1).ok()) drain(**reader);
    if ((*reader)->seek_seq(3).ok()) drain(**reader);
  }
  close(fd);
  return 0;
}
