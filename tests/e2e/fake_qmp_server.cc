#include "tests/e2e/fake_qmp_server.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace rrvm::e2e {

void FakeQmpPeer::send(const std::string& text) {
  ASSERT_EQ(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

std::string FakeQmpPeer::read_line() {
  for (;;) {
    if (auto nl = buf_.find('\n'); nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    char chunk[512];
    ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n <= 0) return "";
    buf_.append(chunk, static_cast<size_t>(n));
  }
}

void FakeQmpPeer::wait_for_hangup() {
  char chunk[256];
  while (::read(fd_, chunk, sizeof chunk) > 0) {
  }
}

void FakeQmpPeer::handshake() {
  send(RRVM_QMP_GREETING);
  EXPECT_NE(read_line().find("qmp_capabilities"), std::string::npos);
  send("{\"return\": {}}\r\n");
}

FakeQmpServer::FakeQmpServer(const std::string& path, std::function<void(FakeQmpPeer&)> script)
    : script_(std::move(script)) {
  listen_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  EXPECT_EQ(::bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << path;
  EXPECT_EQ(::listen(listen_, 1), 0);
  thread_ = std::thread([this] { serve(); });
}

FakeQmpServer::~FakeQmpServer() {
  ::shutdown(listen_, SHUT_RDWR);  // wakes accept() when no client came
  thread_.join();
  ::close(listen_);
}

void FakeQmpServer::serve() {
  int c = ::accept(listen_, nullptr, nullptr);
  if (c < 0) return;
  timeval tv{10, 0};
  ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  FakeQmpPeer peer(c);
  script_(peer);
  ::close(c);
}

}  // namespace rrvm::e2e
