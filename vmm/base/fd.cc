#include "vmm/base/fd.h"

#include <algorithm>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace rrvm {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Mapping& Mapping::operator=(Mapping&& o) noexcept {
  if (this != &o) {
    if (addr_) ::munmap(addr_, size_);
    addr_ = o.addr_;
    size_ = o.size_;
    o.addr_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

Mapping::~Mapping() {
  if (addr_) ::munmap(addr_, size_);
}

Result<Mapping> Mapping::anonymous(size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return errno_error("mmap of " + std::to_string(size) + " bytes");
  return Mapping(p, size);
}

Result<Mapping> Mapping::shared(int fd, size_t size, off_t offset) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
  if (p == MAP_FAILED) return errno_error("mmap of fd " + std::to_string(fd));
  return Mapping(p, size);
}

Result<std::string> read_file(const std::string& path, size_t max_bytes, size_t read_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error("open " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("stat " + path);
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return make_error(path + ": file is " + std::to_string(st.st_size) + " bytes, more than the " +
                      std::to_string(max_bytes) + " allowed");
  }
  std::string out(std::min(static_cast<size_t>(st.st_size), read_bytes), '\0');
  RRVM_TRY(read_exact(fd.get(), out.data(), out.size(), "read " + path));
  return out;
}

Status write_all(int fd, const void* data, size_t len, const std::string& what) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(what);
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return ok_status();
}

Status read_exact(int fd, void* data, size_t len, const std::string& what) {
  auto* p = static_cast<uint8_t*>(data);
  while (len > 0) {
    ssize_t n = ::read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(what);
    }
    if (n == 0) return make_error(what + ": unexpected end of file");
    p += n;
    len -= static_cast<size_t>(n);
  }
  return ok_status();
}

}  // namespace rrvm
