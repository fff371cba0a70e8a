// Writes a trace file: the magic frame, chunks (one zstd frame each, holding Batch messages), and
// on finish() the index and the footer. Used by the recorder's writer thread only.
//
// A chunk's compressed bytes are written with one write() when the chunk ends, so the file holds
// whole frames except when the process dies inside that write.
#pragma once

#include <zstd.h>

#include <capnp/message.h>

#include <memory>
#include <string>
#include <vector>

#include "trace/file_format.h"
#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace rrvm::trace::internal {

class ChunkWriter {
 public:
  static Result<std::unique_ptr<ChunkWriter>> create(const std::string& path, int zstd_level);
  ~ChunkWriter();
  ChunkWriter(const ChunkWriter&) = delete;
  ChunkWriter& operator=(const ChunkWriter&) = delete;

  // Appends one Batch message to the current chunk, starting a chunk if none is open. first_seq,
  // events and the times describe the batch's events (events == 0: none).
  Status add_batch(capnp::MessageBuilder& batch, uint64_t first_seq, uint64_t events,
                   uint64_t first_time_ns, uint64_t last_time_ns);
  bool chunk_open() const { return chunk_open_; }
  uint64_t chunk_raw_bytes() const { return current_.raw_bytes; }
  // Compresses the rest of the chunk and writes it to the file.
  Status end_chunk();
  // Ends the open chunk, writes the index and the footer, closes the file.
  Status finish(uint64_t events, uint64_t dropped);

  uint64_t chunks() const { return index_.size(); }
  uint64_t raw_bytes() const { return raw_bytes_; }
  uint64_t file_bytes() const { return offset_; }
  const std::string& path() const { return path_; }

 private:
  ChunkWriter(std::string path, Fd fd, ZSTD_CCtx* cctx);
  Status write_bytes(const void* data, size_t size);
  Status write_skippable(uint32_t id, const void* payload, size_t size);

  class Sink;
  std::string path_;
  Fd fd_;
  ZSTD_CCtx* cctx_;
  std::vector<uint8_t> raw_;  // Cap'n Proto bytes of the open chunk, compressed when it ends
  std::vector<uint8_t> out_;  // the compressed chunk
  bool chunk_open_ = false;
  IndexEntry current_{};
  std::vector<IndexEntry> index_;
  uint64_t offset_ = 0;  // bytes written to the file
  uint64_t raw_bytes_ = 0;
};

}  // namespace rrvm::trace::internal
