#include "trace/chunk_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <capnp/serialize.h>
#include <kj/io.h>

#include <cstring>
#include <optional>

namespace rrvm::trace::internal {

// Feeds capnp::writeMessage's output into the open chunk's zstd stream.
class ChunkWriter::Sink final : public kj::OutputStream {
 public:
  explicit Sink(ChunkWriter& w) : w_(w) {}
  void write(const void* buffer, size_t size) override {
    if (!error_) {
      Status s = w_.compress(buffer, size, ZSTD_e_continue);
      if (!s.ok()) error_ = s.error();
    }
  }
  std::optional<Error> error_;

 private:
  ChunkWriter& w_;
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

Status ChunkWriter::compress(const void* data, size_t size, ZSTD_EndDirective mode) {
  ZSTD_inBuffer in{data, size, 0};
  while (true) {
    if (out_.size() - out_used_ < ZSTD_CStreamOutSize())
      out_.resize(out_used_ + 2 * ZSTD_CStreamOutSize());
    ZSTD_outBuffer out{out_.data(), out_.size(), out_used_};
    size_t left = ZSTD_compressStream2(cctx_, &out, &in, mode);
    out_used_ = out.pos;
    if (ZSTD_isError(left)) {
      return make_error("writing trace " + path_ + ": zstd: " + ZSTD_getErrorName(left));
    }
    bool done = mode == ZSTD_e_continue ? in.pos == in.size : left == 0;
    if (done) return ok_status();
  }
}

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
  Sink sink(*this);
  capnp::writeMessage(sink, batch);
  if (sink.error_) return *sink.error_;
  return ok_status();
}

Status ChunkWriter::end_chunk() {
  if (!chunk_open_) return ok_status();
  RRVM_TRY(compress(nullptr, 0, ZSTD_e_end));
  chunk_open_ = false;
  current_.size = out_used_;
  RRVM_TRY(write_bytes(out_.data(), out_used_));
  out_used_ = 0;
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
