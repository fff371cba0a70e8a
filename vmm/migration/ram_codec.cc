#include "vmm/migration/ram_codec.h"

#include <zstd.h>

#include <bit>
#include <cstdio>
#include <cstring>

#include "vmm/migration/capnp_bytes.h"
#include "vmm/migration/checksum.h"
#include "vmm/migration/page_scan.h"
#include "vmm/migration/schema/snapshot.capnp.h"

namespace rrvm::migration {

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

bool bit(const uint64_t* bits, uint32_t i) { return (bits[i / 64] >> (i % 64)) & 1; }

}  // namespace

RunEncoder::RunEncoder(int zstd_level) : level_(zstd_level), cctx_(ZSTD_createCCtx()) {
  RRVM_CHECK(cctx_ != nullptr);
  gather_.resize(MAX_RUN_PAGES * PAGE_SIZE);
  compressed_.resize(ZSTD_compressBound(MAX_RUN_PAGES * PAGE_SIZE));
  static_assert(ZSTD_COMPRESSBOUND(MAX_RUN_PAGES * PAGE_SIZE) <= MAX_RUN_PAYLOAD_BYTES);
  // The checksum in the run descriptor covers the frame; zstd's own would be redundant.
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level_);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 0);
  ZSTD_CCtx_setParameter(cctx_, ZSTD_c_contentSizeFlag, 1);
}

RunEncoder::~RunEncoder() { ZSTD_freeCCtx(cctx_); }

Result<const EncodedRun*> RunEncoder::encode(uint64_t gpa, const uint8_t* host, uint32_t pages,
                                             const uint64_t* known_zero, bool source_stable) {
  RRVM_CHECK(pages >= 1 && pages <= MAX_RUN_PAGES && gpa % PAGE_SIZE == 0);
  uint64_t zero_bits[ZERO_BITMAP_WORDS] = {};
  uint32_t zero = 0;
  for (uint32_t i = 0; i < pages; ++i) {
    if ((known_zero && bit(known_zero, i)) || is_zero_page(host + i * PAGE_SIZE)) {
      zero_bits[i / 64] |= uint64_t{1} << (i % 64);
      ++zero;
    }
  }
  const size_t raw_bytes = static_cast<size_t>(pages - zero) * PAGE_SIZE;
  std::span<const uint8_t> source;
  if (zero == 0 && source_stable) {
    source = {host, raw_bytes};
  } else {
    // Pack the non-zero pages (also the copy that keeps a running guest's writes out of zstd).
    size_t at = 0;
    for (uint32_t i = 0; i < pages; ++i) {
      if (bit(zero_bits, i)) continue;
      std::memcpy(gather_.data() + at, host + i * PAGE_SIZE, PAGE_SIZE);
      at += PAGE_SIZE;
    }
    source = {gather_.data(), raw_bytes};
  }
  schema::RamEncoding encoding = schema::RamEncoding::RAW;
  run_.payload = source;
  if (raw_bytes > 0) {
    size_t n =
        ZSTD_compress2(cctx_, compressed_.data(), compressed_.size(), source.data(), source.size());
    if (ZSTD_isError(n))
      return make_error(std::string("zstd compression: ") + ZSTD_getErrorName(n));
    if (n < raw_bytes) {
      encoding = schema::RamEncoding::ZSTD;
      run_.payload = {compressed_.data(), n};
    }
  }
  capnp::MallocMessageBuilder message(64);
  auto run = message.initRoot<schema::RamRun>();
  run.setGpa(gpa);
  run.setPageCount(pages);
  auto bits = run.initZeroPages((pages + 63) / 64);
  for (uint32_t w = 0; w < bits.size(); ++w) bits.set(w, zero_bits[w]);
  run.setEncoding(encoding);
  run.setChecksum(checksum64(run_.payload));
  run_.descriptor = message_bytes(message);
  run_.gpa = gpa;
  run_.pages = pages;
  run_.zero_pages = zero;
  return &run_;
}

RunDecoder::RunDecoder() : dctx_(ZSTD_createDCtx()) {
  RRVM_CHECK(dctx_ != nullptr);
  scratch_.resize(MAX_RUN_PAGES * PAGE_SIZE);
}

RunDecoder::~RunDecoder() { ZSTD_freeDCtx(dctx_); }

namespace {

struct RunFields {
  uint64_t gpa = 0;
  uint32_t pages = 0;
  uint64_t zero_bits[ZERO_BITMAP_WORDS] = {};
  uint32_t zero = 0;
  bool zstd = false;
  uint64_t checksum = 0;
};

Result<RunFields> decode_run(std::span<const uint8_t> descriptor) {
  RunFields f;
  RRVM_TRY(read_message<schema::RamRun>(
      descriptor, MAX_DESCRIPTOR_BYTES, [&](schema::RamRun::Reader r) -> Status {
        f.gpa = r.getGpa();
        f.pages = r.getPageCount();
        if (f.pages == 0 || f.pages > MAX_RUN_PAGES) {
          return make_error("page count " + std::to_string(f.pages) + " is outside 1.." +
                            std::to_string(MAX_RUN_PAGES));
        }
        if (f.gpa % PAGE_SIZE != 0) return make_error("gpa " + hex(f.gpa) + " is not page aligned");
        auto bits = r.getZeroPages();
        if (bits.size() != (f.pages + 63) / 64) {
          return make_error("zero-page bitmap has " + std::to_string(bits.size()) + " words for " +
                            std::to_string(f.pages) + " pages");
        }
        for (uint32_t w = 0; w < bits.size(); ++w) f.zero_bits[w] = bits[w];
        // Bits past the last page would be ignored silently by a sloppy reader: refuse them.
        if (f.pages % 64 != 0 && (f.zero_bits[f.pages / 64] >> (f.pages % 64)) != 0) {
          return make_error("zero-page bitmap has bits set past page " + std::to_string(f.pages));
        }
        for (uint32_t w = 0; w < bits.size(); ++w)
          f.zero += static_cast<uint32_t>(std::popcount(f.zero_bits[w]));
        auto enc = r.getEncoding();
        if (enc != schema::RamEncoding::RAW && enc != schema::RamEncoding::ZSTD) {
          return make_error("unknown encoding " + std::to_string(static_cast<unsigned>(enc)));
        }
        f.zstd = enc == schema::RamEncoding::ZSTD;
        f.checksum = r.getChecksum();
        return ok_status();
      }));
  return f;
}

}  // namespace

Result<RunDecoder::Applied> RunDecoder::apply(std::span<const uint8_t> descriptor,
                                              std::span<const uint8_t> payload,
                                              const GuestMemory& memory) {
  RRVM_ASSIGN_OR_RETURN(RunFields f, decode_run(descriptor));
  Result<std::span<uint8_t>> dest = memory.slice(f.gpa, uint64_t{f.pages} * PAGE_SIZE);
  if (!dest.ok())
    return make_error("run of " + std::to_string(f.pages) + " pages at gpa " + hex(f.gpa) +
                      " is not inside one RAM region");
  if (checksum64(payload) != f.checksum)
    return make_error("run at gpa " + hex(f.gpa) + ": checksum mismatch");
  const size_t raw_bytes = static_cast<size_t>(f.pages - f.zero) * PAGE_SIZE;
  uint8_t* host = dest->data();
  // With no zero pages, the data lands in guest memory directly.
  uint8_t* out = f.zero == 0 ? host : scratch_.data();
  if (f.zstd) {
    if (raw_bytes == 0)
      return make_error("run at gpa " + hex(f.gpa) + ": zstd payload for an all-zero run");
    size_t n = ZSTD_decompressDCtx(dctx_, out, raw_bytes, payload.data(), payload.size());
    if (ZSTD_isError(n)) {
      return make_error("run at gpa " + hex(f.gpa) + ": zstd: " + ZSTD_getErrorName(n));
    }
    if (n != raw_bytes) {
      return make_error("run at gpa " + hex(f.gpa) + ": decompressed to " + std::to_string(n) +
                        " bytes, expected " + std::to_string(raw_bytes));
    }
  } else {
    if (payload.size() != raw_bytes) {
      return make_error("run at gpa " + hex(f.gpa) + ": raw payload of " +
                        std::to_string(payload.size()) + " bytes, expected " +
                        std::to_string(raw_bytes));
    }
    if (raw_bytes > 0) std::memcpy(out, payload.data(), raw_bytes);
  }
  if (f.zero != 0) {
    const uint8_t* src = scratch_.data();
    for (uint32_t i = 0; i < f.pages; ++i) {
      uint8_t* page = host + i * PAGE_SIZE;
      if (bit(f.zero_bits, i)) {
        // Reading first keeps never-touched target memory unpopulated.
        if (!is_zero_page(page)) std::memset(page, 0, PAGE_SIZE);
      } else {
        std::memcpy(page, src, PAGE_SIZE);
        src += PAGE_SIZE;
      }
    }
  }
  return Applied{f.gpa, f.pages, f.zero};
}

}  // namespace rrvm::migration
