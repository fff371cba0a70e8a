// A scripted stand-in for a QMP monitor on a unix socket, for tests of rrvm's QMP client side
// (monitor::QmpClient, `rrvm snapshot`): the script decides what the one client is sent and read.
#pragma once

#include <functional>
#include <string>
#include <thread>

namespace rrvm::e2e {

// One accepted connection of a FakeQmpServer, as its script sees it.
class FakeQmpPeer {
 public:
  explicit FakeQmpPeer(int fd) : fd_(fd) {}
  // Sends `text` as is (a failed send is a test failure).
  void send(const std::string& text);
  // The next line the client sent, "" when it hung up (reads time out after 10 s).
  std::string read_line();
  // Reads until the client hangs up (or 10 s pass without a byte).
  void wait_for_hangup();
  // Greets with rrvm's greeting, then answers qmp_capabilities.
  void handshake();

 private:
  int fd_;
  std::string buf_;
};

// rrvm's own QMP greeting line (with its CRLF), as vmm/monitor sends it.
inline constexpr const char* RRVM_QMP_GREETING =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 1, "major": 0}, "package": "rrvm 0.1.0"},)"
    R"( "capabilities": []}})"
    "\r\n";

// Listens on `path` and runs `script` for the one client that connects, then hangs up. The
// destructor stops listening whether or not a client came.
class FakeQmpServer {
 public:
  FakeQmpServer(const std::string& path, std::function<void(FakeQmpPeer&)> script);
  ~FakeQmpServer();
  FakeQmpServer(const FakeQmpServer&) = delete;
  FakeQmpServer& operator=(const FakeQmpServer&) = delete;

 private:
  void serve();

  std::function<void(FakeQmpPeer&)> script_;
  int listen_ = -1;
  std::thread thread_;
};

}  // namespace rrvm::e2e
