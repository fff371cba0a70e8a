// unix:PATH and tcp:HOST:PORT. The target listens and accepts exactly one connection; the source
// connects. Writes use MSG_NOSIGNAL so a vanished target is an EPIPE error, not a SIGPIPE.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "vmm/base/unix_socket.h"
#include "vmm/migration/channel_impl.h"

namespace rrvm::migration::detail {

namespace {

// Larger socket buffers keep the sender busy while the receiver decompresses. The kernel caps the
// request at net.core.[rw]mem_max; a refusal only costs throughput, so it is not an error.
void tune_socket(int fd, bool tcp) {
  int bytes = 4 << 20;
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  if (tcp) {
    int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
}

class SocketChannel : public Channel {
 public:
  SocketChannel(Fd fd, std::string name) : Channel(std::move(name)), fd_(std::move(fd)) {}

  Status write_all(std::span<const uint8_t> data) override {
    const uint8_t* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      if (cancelled()) return cancelled_error("write");
      ssize_t n = ::send(fd_.get(), p, left, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (cancelled()) return cancelled_error("write");
        return errno_error("migration channel " + name() + ": write (the peer went away?)");
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    return ok_status();
  }

  Result<size_t> read_some(std::span<uint8_t> data) override {
    while (true) {
      if (cancelled()) return cancelled_error("read");
      ssize_t n = ::recv(fd_.get(), data.data(), data.size(), 0);
      if (n >= 0) {
        if (n == 0 && cancelled()) return cancelled_error("read");
        return static_cast<size_t>(n);
      }
      if (errno == EINTR) continue;
      if (cancelled()) return cancelled_error("read");
      return errno_error("migration channel " + name() + ": read");
    }
  }

  Status read_exact(std::span<uint8_t> data) override {
    size_t done = 0;
    while (done < data.size()) {
      RRVM_ASSIGN_OR_RETURN(size_t n, read_some(data.subspan(done)));
      if (n == 0) {
        return make_error("migration channel " + name() + ": read: the peer closed the connection");
      }
      done += n;
    }
    return ok_status();
  }

  Status commit() override {
    if (cancelled()) return cancelled_error("commit");
    return ok_status();
  }

  // shutdown() (not close()) wakes a thread blocked in send/recv on this fd and keeps the fd
  // number valid until the owner closes it.
  void cancel() override {
    cancelled_.store(true, std::memory_order_release);
    ::shutdown(fd_.get(), SHUT_RDWR);
  }
  bool live() const override { return true; }

  void set_read_timeout(std::chrono::milliseconds timeout) override {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>(timeout.count() % 1000 * 1000);
    // A refusal leaves reads blocking forever, which is what a timeout of 0 means anyway.
    (void)::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

 private:
  Fd fd_;
};

struct Addresses {
  addrinfo* list = nullptr;
  ~Addresses() {
    if (list) ::freeaddrinfo(list);
  }
};

Result<sockaddr_un> unix_address(const std::string& path, const std::string& text) {
  auto addr = unix_socket_address(path);
  if (!addr.ok()) return addr.error().context("migration URI '" + text + "'");
  return addr;
}

Status resolve(const ChannelUri& uri, const std::string& text, bool passive, Addresses& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  std::string port = std::to_string(uri.port);
  int rc = ::getaddrinfo(uri.host.c_str(), port.c_str(), &hints, &out.list);
  if (rc != 0) {
    return make_error("migration channel " + text + ": resolve '" + uri.host +
                      "': " + ::gai_strerror(rc));
  }
  return ok_status();
}

Result<Fd> connect_tcp(const ChannelUri& uri, const std::string& text) {
  Addresses addrs;
  RRVM_TRY(resolve(uri, text, false, addrs));
  int last_errno = 0;
  for (addrinfo* a = addrs.list; a != nullptr; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd.valid()) {
      last_errno = errno;
      continue;
    }
    if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0) return fd;
    last_errno = errno;
  }
  return errno_error("migration channel " + text + ": connect", last_errno);
}

class SocketListener : public Listener {
 public:
  SocketListener(Fd fd, std::string uri, std::string unix_path, bool tcp)
      : fd_(std::move(fd)), uri_(std::move(uri)), unix_path_(std::move(unix_path)), tcp_(tcp) {}
  ~SocketListener() override { remove_path(); }

  Result<std::unique_ptr<Channel>> accept() override {
    while (true) {
      if (cancelled_.load()) return make_error("migration channel " + uri_ + ": accept: cancelled");
      int fd = ::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        Fd conn(fd);
        tune_socket(conn.get(), tcp_);
        // One source per incoming migration, as in QEMU: the path goes now, the listening fd
        // (which cancel() may still touch) when the listener is destroyed.
        remove_path();
        return std::unique_ptr<Channel>(new SocketChannel(std::move(conn), uri_));
      }
      if (errno == EINTR) continue;
      if (cancelled_.load()) return make_error("migration channel " + uri_ + ": accept: cancelled");
      return errno_error("migration channel " + uri_ + ": accept");
    }
  }

  void cancel() override {
    cancelled_.store(true);
    ::shutdown(fd_.get(), SHUT_RDWR);
  }
  std::string uri() const override { return uri_; }

 private:
  void remove_path() {
    if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
    unix_path_.clear();
  }
  Fd fd_;
  std::string uri_;
  std::string unix_path_;
  bool tcp_;
  std::atomic<bool> cancelled_{false};
};

Result<std::unique_ptr<Listener>> listen_unix(const ChannelUri& uri, const std::string& text) {
  RRVM_ASSIGN_OR_RETURN(sockaddr_un addr, unix_address(uri.path, text));
  // A socket file left by an earlier run would make bind fail; anything else at PATH is kept.
  struct stat st {};
  if (::lstat(uri.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode))
      return make_error("migration channel " + text + ": exists and is not a socket");
    ::unlink(uri.path.c_str());
  }
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("migration channel " + text + ": socket");
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return errno_error("migration channel " + text + ": bind");
  }
  if (::listen(fd.get(), 1) != 0) return errno_error("migration channel " + text + ": listen");
  return std::unique_ptr<Listener>(new SocketListener(std::move(fd), text, uri.path, false));
}

Result<std::unique_ptr<Listener>> listen_tcp(const ChannelUri& uri, const std::string& text) {
  Addresses addrs;
  RRVM_TRY(resolve(uri, text, true, addrs));
  int last_errno = 0;
  for (addrinfo* a = addrs.list; a != nullptr; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!fd.valid()) {
      last_errno = errno;
      continue;
    }
    int one = 1;
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd.get(), 1) != 0) {
      last_errno = errno;
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0) {
      return errno_error("migration channel " + text + ": getsockname");
    }
    uint16_t port =
        ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    bool v6 = uri.host.find(':') != std::string::npos;
    std::string actual =
        "tcp:" + (v6 ? "[" + uri.host + "]" : uri.host) + ":" + std::to_string(port);
    return std::unique_ptr<Listener>(new SocketListener(std::move(fd), actual, "", true));
  }
  return errno_error("migration channel " + text + ": bind/listen", last_errno);
}

}  // namespace

Result<std::unique_ptr<Channel>> connect_socket(const ChannelUri& uri, const std::string& text) {
  Fd fd;
  if (uri.kind == ChannelUri::Kind::Unix) {
    RRVM_ASSIGN_OR_RETURN(sockaddr_un addr, unix_address(uri.path, text));
    fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return errno_error("migration channel " + text + ": socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return errno_error("migration channel " + text + ": connect");
    }
  } else {
    RRVM_ASSIGN_OR_RETURN(fd, connect_tcp(uri, text));
  }
  tune_socket(fd.get(), uri.kind == ChannelUri::Kind::Tcp);
  return std::unique_ptr<Channel>(new SocketChannel(std::move(fd), text));
}

Result<std::unique_ptr<Listener>> listen_socket(const ChannelUri& uri, const std::string& text) {
  if (uri.kind == ChannelUri::Kind::Unix) return listen_unix(uri, text);
  return listen_tcp(uri, text);
}

}  // namespace rrvm::migration::detail
