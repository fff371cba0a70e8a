#include "trace/trace_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cstring>

#include "trace/file_format.h"

namespace rrvm::trace::internal {
namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

constexpr uint64_t MAGIC_FRAME_BYTES = SKIPPABLE_HEADER_BYTES + sizeof(MagicPayload);

}  // namespace

Error TraceFile::error(const std::string& what) const { return make_error(path_ + ": " + what); }

Error TraceFile::chunk_error(size_t chunk, const std::string& what) const {
  uint64_t offset = chunk < chunks_.size() ? chunks_[chunk].offset : 0;
  return error("chunk " + std::to_string(chunk) + " at offset " + std::to_string(offset) + ": " +
               what);
}

uint32_t TraceFile::u32_at(uint64_t offset) const {
  uint32_t v;
  std::memcpy(&v, map_.data() + offset, sizeof v);
  return v;
}

Result<std::unique_ptr<TraceFile>> TraceFile::open(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error("opening trace " + path);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return errno_error("stat of trace " + path);
  if (!S_ISREG(st.st_mode)) return make_error(path + ": not a regular file");
  auto size = static_cast<uint64_t>(st.st_size);
  if (size < MAGIC_FRAME_BYTES) {
    return make_error(path + ": not an rrvm trace (only " + std::to_string(size) +
                      " bytes, shorter than the magic frame)");
  }
  void* addr = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (addr == MAP_FAILED) return errno_error("mapping trace " + path);
  std::unique_ptr<TraceFile> file(new TraceFile(path, Mapping(addr, size)));
  RRVM_TRY(file->check_magic());
  RRVM_ASSIGN_OR_RETURN(bool indexed, file->load_index());
  if (!indexed) RRVM_TRY(file->scan_frames());
  if (file->chunks_.empty()) {
    return file->error("truncated before the header: no complete chunk (" +
                       file->truncation_detail_ + ")");
  }
  return file;
}

Status TraceFile::check_magic() {
  MagicPayload m;
  std::memcpy(&m, map_.data() + SKIPPABLE_HEADER_BYTES, sizeof m);
  if (u32_at(0) != MAGIC_FRAME_ID || u32_at(4) != sizeof(MagicPayload) ||
      std::memcmp(m.magic, FILE_MAGIC, sizeof m.magic) != 0) {
    return error("not an rrvm trace (bad magic at offset 0)");
  }
  if (m.version != FORMAT_VERSION) {
    return error("trace format version " + std::to_string(m.version) +
                 " is not supported: this rrvm reads version " + std::to_string(FORMAT_VERSION) +
                 (m.version > FORMAT_VERSION ? " (the trace was written by a newer rrvm)"
                                             : " (the trace was written by an older rrvm)"));
  }
  if (m.flags != 0)
    return error("unknown flags " + hex(m.flags) + " in the magic frame at offset 8");
  version_ = m.version;
  return ok_status();
}

Result<bool> TraceFile::load_index() {
  uint64_t size = map_.size();
  if (size < MAGIC_FRAME_BYTES + FOOTER_FRAME_BYTES) return false;
  uint64_t at = size - FOOTER_FRAME_BYTES;
  if (u32_at(at) != FOOTER_FRAME_ID || u32_at(at + 4) != sizeof(FooterPayload)) return false;
  FooterPayload f;
  std::memcpy(&f, map_.data() + at + SKIPPABLE_HEADER_BYTES, sizeof f);
  std::string where = "footer at offset " + std::to_string(at) + ": ";
  if (std::memcmp(f.magic, FOOTER_MAGIC, sizeof f.magic) != 0) return error(where + "bad magic");
  if (fnv1a64(&f, offsetof(FooterPayload, checksum)) != f.checksum) {
    return error(where + "checksum mismatch (corrupt footer)");
  }
  if (f.version != version_) {
    return error(where + "version " + std::to_string(f.version) + " differs from the file's " +
                 std::to_string(version_));
  }
  // The index frame sits right before the footer.
  uint64_t max_chunks = (at - MAGIC_FRAME_BYTES) / sizeof(IndexEntry);
  if (f.chunks > max_chunks ||
      f.index_offset + SKIPPABLE_HEADER_BYTES + f.chunks * sizeof(IndexEntry) != at ||
      f.index_offset < MAGIC_FRAME_BYTES) {
    return error(where + "index of " + std::to_string(f.chunks) + " chunks at offset " +
                 std::to_string(f.index_offset) + " does not fit the file");
  }
  if (u32_at(f.index_offset) != INDEX_FRAME_ID ||
      u32_at(f.index_offset + 4) != f.chunks * sizeof(IndexEntry)) {
    return error("index at offset " + std::to_string(f.index_offset) + ": bad frame header");
  }
  const uint8_t* index = map_.data() + f.index_offset + SKIPPABLE_HEADER_BYTES;
  if (fnv1a64(index, f.chunks * sizeof(IndexEntry)) != f.index_checksum) {
    return error("index at offset " + std::to_string(f.index_offset) + ": checksum mismatch");
  }
  uint64_t expect_offset = MAGIC_FRAME_BYTES;
  uint64_t expect_seq = 0;
  uint64_t events = 0;
  for (uint64_t i = 0; i < f.chunks; ++i) {
    IndexEntry e;
    std::memcpy(&e, index + i * sizeof e, sizeof e);
    // Chunks are contiguous, in order, with consecutive sequence numbers.
    if (e.offset != expect_offset || e.size == 0 || e.size > f.index_offset - e.offset ||
        e.raw_bytes > MAX_CHUNK_RAW_BYTES || e.first_seq != expect_seq ||
        e.events > e.raw_bytes / sizeof(uint64_t)) {
      return error("index entry " + std::to_string(i) + " (chunk at offset " +
                   std::to_string(e.offset) + ") is inconsistent");
    }
    expect_offset = e.offset + e.size;
    expect_seq = e.first_seq + e.events;
    events += e.events;
    chunks_.push_back(ChunkInfo{e.offset, e.size, true, e.first_seq, e.events, e.first_time_ns,
                                e.last_time_ns, e.raw_bytes});
  }
  if (expect_offset != f.index_offset || events != f.events) {
    return error(where + "index does not cover the file's chunks and events");
  }
  footer_ = FooterInfo{f.events, f.dropped};
  return true;
}

Status TraceFile::scan_frames() {
  uint64_t size = map_.size();
  uint64_t at = MAGIC_FRAME_BYTES;
  while (at < size) {
    std::string where = "at offset " + std::to_string(at);
    if (size - at < 8) {
      truncation_detail_ = "a frame " + where + " is incomplete";
      return ok_status();
    }
    uint32_t magic = u32_at(at);
    if ((magic & SKIPPABLE_MAGIC_MASK) == SKIPPABLE_MAGIC_BASE) {
      uint64_t frame = SKIPPABLE_HEADER_BYTES + u32_at(at + 4);
      if (frame > size - at) {
        truncation_detail_ = "the skippable frame " + where + " is incomplete";
        return ok_status();
      }
      at += frame;
      continue;
    }
    if (magic != ZSTD_FRAME_MAGIC) {
      return error("chunk " + std::to_string(chunks_.size()) + " " + where +
                   ": not a zstd frame (magic " + hex(magic) + ")");
    }
    size_t frame = ZSTD_findFrameCompressedSize(map_.data() + at, size - at);
    if (ZSTD_isError(frame)) {
      // A frame cut short is what a crash leaves; anything else inside it is corruption, which the
      // decompressor reports with the chunk's number when it gets there.
      truncation_detail_ = "chunk " + std::to_string(chunks_.size()) + " " + where +
                           " is incomplete or corrupt (" + ZSTD_getErrorName(frame) + ")";
      return ok_status();
    }
    chunks_.push_back(ChunkInfo{at, frame, false, 0, 0, 0, 0, 0});
    at += frame;
  }
  truncation_detail_ = "no footer: the recorder did not close the trace";
  return ok_status();
}

}  // namespace rrvm::trace::internal
