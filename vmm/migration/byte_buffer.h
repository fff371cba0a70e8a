// A reusable byte buffer that does not zero what it allocates. The stream's scratch buffers (1 MiB
// read-ahead, run payloads, decompression space) are always written before they are read, and
// zeroing them costs a page fault per 4 KiB for nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace rrvm::migration {

class ByteBuffer {
 public:
  explicit ByteBuffer(size_t capacity = 0) { resize(capacity); }

  // Makes the buffer n bytes long. Contents are unspecified afterwards (not preserved on growth).
  std::span<uint8_t> resize(size_t n) {
    if (n > capacity_) {
      data_ = std::make_unique_for_overwrite<uint8_t[]>(n);
      capacity_ = n;
    }
    size_ = n;
    return span();
  }
  uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::span<uint8_t> span() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

}  // namespace rrvm::migration
