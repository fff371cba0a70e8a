#include "trace/chunk_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <capnp/serialize.h>
#include <kj/io.h>

#include <cstring>

namespace rrvm::trace::internal {

// Appends capnp::writeMessage's output to the open chunk's raw bytes.
class ChunkWriter::Sink final : public kj::OutputStream {
 public:
  explicit Sink(std::vector<uint8_t>& raw) : raw_(raw) {}
  void write(const void* buffer, size_t size) override {
    const auto* bytes = static_cast<const uint8_t*>(buffer);
    raw_.insert(raw_.end(), bytes, bytes + size);
  }

 private:
  std::vector<uint8_t>& raw_;
};

Result<std::unique_ptr<ChunkWriter>> ChunkWriter::create(const std::string& path, int zstd_level) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_error("creating trace " + path);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (cctx == nullptr) return make_error("creating trace " + path + ": ZSTD_createCCtx failed");
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, zstd_level);
  // The frame checksum lets the reader tell a flipped bit from a valid chunk.
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::unique_ptr<ChunkWriter> w(new ChunkWriter(path, Fd(fd), cctx));
  MagicPayload magic{};
  std::memcpy(magic.magic, FILE_MAGIC, sizeof magic.magic);
  magic.version = FORMAT_VERSION;
  RRVM_TRY(w->write_skippable(MAGIC_FRAME_ID, &magic, sizeof magic));
  return w;
}

ChunkWriter::ChunkWriter(std::string path, Fd fd, ZSTD_CCtx* cctx)
    : path_(std::move(path)), fd_(std::move(fd)), cctx_(cctx) {}

ChunkWriter::~ChunkWriter() { ZSTD_freeCCtx(cctx_); }

Status ChunkWriter::add_batch(capnp::MessageBuilder& batch, uint64_t first_seq, uint64_t events,
                              uint64_t first_time_ns, uint64_t last_time_ns) {
  if (!chunk_open_) {
    chunk_open_ = true;
    current_ = IndexEntry{};
    current_.offset = offset_;
    current_.first_seq = first_seq;
  }
  if (events != 0) {
    if (current_.events == 0) {
      current_.first_seq = first_seq;
      current_.first_time_ns = first_time_ns;
    }
    current_.events += events;
    current_.last_time_ns = last_time_ns;
  }
  uint64_t words = capnp::computeSerializedSizeInWords(batch);
  current_.raw_bytes += words * sizeof(capnp::word);
  raw_bytes_ += words * sizeof(capnp::word);
  Sink sink(raw_);
  capnp::writeMessage(sink, batch);
  return ok_status();
}

Status ChunkWriter::end_chunk() {
  if (!chunk_open_) return ok_status();
  // One-shot: zstd sizes its window and tables for this chunk's bytes (the level's defaults, a
  // 2 MiB window at level 3, cost a traced boot ~5 ms of set-up for its small header chunk).
  out_.resize(ZSTD_compressBound(raw_.size()));
  size_t size = ZSTD_compress2(cctx_, out_.data(), out_.size(), raw_.data(), raw_.size());
  if (ZSTD_isError(size)) {
    return make_error("writing trace " + path_ + ": zstd: " + ZSTD_getErrorName(size));
  }
  chunk_open_ = false;
  raw_.clear();
  current_.size = size;
  RRVM_TRY(write_bytes(out_.data(), size));
  index_.push_back(current_);
  return ok_status();
}

Status ChunkWriter::finish(uint64_t events, uint64_t dropped) {
  RRVM_TRY(end_chunk());
  FooterPayload footer{};
  std::memcpy(footer.magic, FOOTER_MAGIC, sizeof footer.magic);
  footer.version = FORMAT_VERSION;
  footer.flags = FOOTER_COMPLETE;
  footer.index_offset = offset_;
  footer.chunks = index_.size();
  footer.events = events;
  footer.dropped = dropped;
  size_t index_bytes = index_.size() * sizeof(IndexEntry);
  footer.index_checksum = fnv1a64(index_.data(), index_bytes);
  footer.checksum = fnv1a64(&footer, offsetof(FooterPayload, checksum));
  RRVM_TRY(write_skippable(INDEX_FRAME_ID, index_.data(), index_bytes));
  RRVM_TRY(write_skippable(FOOTER_FRAME_ID, &footer, sizeof footer));
  if (::fsync(fd_.get()) != 0) return errno_error("fsync of trace " + path_);
  int fd = fd_.release();
  if (::close(fd) != 0) return errno_error("closing trace " + path_);
  return ok_status();
}

Status ChunkWriter::write_bytes(const void* data, size_t size) {
  RRVM_TRY(write_all(fd_.get(), data, size, "writing trace " + path_));
  offset_ += size;
  return ok_status();
}

Status ChunkWriter::write_skippable(uint32_t id, const void* payload, size_t size) {
  uint32_t head[2] = {id, static_cast<uint32_t>(size)};
  RRVM_TRY(write_bytes(head, sizeof head));
  return write_bytes(payload, size);
}

}  // namespace rrvm::trace::internal
