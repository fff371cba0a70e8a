// Owning file descriptor and memory mapping (RAII), plus small helpers that return Result.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "vmm/base/result.h"

namespace rrvm {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// An anonymous or file-backed mapping, unmapped on destruction.
class Mapping {
 public:
  Mapping() = default;
  Mapping(void* addr, size_t size) : addr_(static_cast<uint8_t*>(addr)), size_(size) {}
  Mapping(Mapping&& o) noexcept : addr_(o.addr_), size_(o.size_) { o.addr_ = nullptr, o.size_ = 0; }
  Mapping& operator=(Mapping&& o) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  // Anonymous private read/write memory, e.g. guest RAM.
  static Result<Mapping> anonymous(size_t size);
  // A shared mapping of fd (e.g. the kvm_run page of a vCPU).
  static Result<Mapping> shared(int fd, size_t size, off_t offset = 0);

  uint8_t* data() const { return addr_; }
  size_t size() const { return size_; }
  std::span<uint8_t> span() const { return {addr_, size_}; }

 private:
  uint8_t* addr_ = nullptr;
  size_t size_ = 0;
};

// Whole-file helpers with errors that name the path. read_file refuses a file larger than
// `max_bytes` and returns its first `read_bytes` bytes (all of it by default).
Result<std::string> read_file(const std::string& path, size_t max_bytes,
                              size_t read_bytes = SIZE_MAX);
Status write_all(int fd, const void* data, size_t len, const std::string& what);
Status read_exact(int fd, void* data, size_t len, const std::string& what);

}  // namespace rrvm
