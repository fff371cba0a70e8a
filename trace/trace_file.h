// A trace file's layout, found without decompressing anything: the magic frame, then either the
// index (when the footer is present and valid) or a scan of the zstd frames. Bad input yields an
// Error naming the file and the offset; a file that simply ends early (a crash) is not an error:
// its complete chunks are listed and `truncated` says where it stops.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace rrvm::trace {

struct ChunkInfo {
  uint64_t offset = 0;  // of the zstd frame in the file
  uint64_t size = 0;    // compressed bytes
  // From the index; unknown (has_counts == false) for a trace without a footer.
  bool has_counts = false;
  uint64_t first_seq = 0;
  uint64_t events = 0;
  uint64_t first_time_ns = 0;
  uint64_t last_time_ns = 0;
  uint64_t raw_bytes = 0;
};

struct FooterInfo {
  uint64_t events = 0;
  uint64_t dropped = 0;
};

namespace internal {

class TraceFile {
 public:
  static Result<std::unique_ptr<TraceFile>> open(const std::string& path);

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t size() const { return map_.size(); }
  std::span<const uint8_t> bytes(uint64_t offset, uint64_t size) const {
    return {map_.data() + offset, size};
  }
  const std::vector<ChunkInfo>& chunks() const { return chunks_; }
  // Present when the footer and the index are valid: the recorder closed the trace.
  const std::optional<FooterInfo>& footer() const { return footer_; }
  // For a trace without a valid footer: why it ends ("chunk 7 at offset 1234 is incomplete").
  const std::string& truncation_detail() const { return truncation_detail_; }

  // "PATH: what" and "PATH: chunk N at offset X: what": the forms every trace error takes.
  Error error(const std::string& what) const;
  Error chunk_error(size_t chunk, const std::string& what) const;

 private:
  TraceFile(std::string path, Mapping map) : path_(std::move(path)), map_(std::move(map)) {}
  Status check_magic();
  // Ok(true) with the index loaded, Ok(false) when there is no footer, Error for a bad one.
  Result<bool> load_index();
  Status scan_frames();
  uint32_t u32_at(uint64_t offset) const;

  std::string path_;
  Mapping map_;
  uint32_t version_ = 0;
  std::vector<ChunkInfo> chunks_;
  std::optional<FooterInfo> footer_;
  std::string truncation_detail_;
};

}  // namespace internal
}  // namespace rrvm::trace
