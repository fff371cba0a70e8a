#include "tests/e2e/qmp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace rrvm::e2e {
namespace {
constexpr std::chrono::seconds REPLY_TIMEOUT{10};
}

QmpClient::~QmpClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::string QmpClient::connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) return "socket path too long: " + socket_path;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_error;
  while (fd_ < 0) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      fd_ = fd;
      break;
    }
    last_error = std::string("connect ") + socket_path + ": " + std::strerror(errno);
    ::close(fd);
    if (std::chrono::steady_clock::now() >= deadline) return last_error;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto greeting = read_message(REPLY_TIMEOUT);
  if (!greeting || !greeting->contains("QMP")) return "no QMP greeting";
  nlohmann::json reply = execute("qmp_capabilities");
  if (!reply.contains("return")) return "qmp_capabilities failed: " + reply.dump();
  return "";
}

std::optional<nlohmann::json> QmpClient::read_message(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      return nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (fd_ < 0 || left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[4096];
    ssize_t n = ::read(fd_, chunk, sizeof(chunk));
    if (n <= 0) {
      ::close(fd_);
      fd_ = -1;
      return std::nullopt;
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

nlohmann::json QmpClient::read_reply() {
  for (;;) {
    auto msg = read_message(REPLY_TIMEOUT);
    if (!msg) return nullptr;
    if (msg->contains("event")) {
      events_.push_back(std::move(*msg));
      continue;
    }
    return *msg;
  }
}

nlohmann::json QmpClient::send_raw(const std::string& line) {
  std::string data = line + "\n";
  if (fd_ < 0 || ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) != ssize_t(data.size())) {
    return nullptr;
  }
  return read_reply();
}

nlohmann::json QmpClient::execute(const std::string& command, const nlohmann::json& arguments) {
  nlohmann::json cmd = {{"execute", command}};
  if (!arguments.is_null()) cmd["arguments"] = arguments;
  return send_raw(cmd.dump());
}

bool QmpClient::ok(const std::string& command, const nlohmann::json& arguments) {
  return execute(command, arguments).contains("return");
}

std::string QmpClient::status() {
  nlohmann::json r = execute("query-status");
  return r.contains("return") ? str_field(r["return"], "status") : "";
}

std::string str_field(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

std::optional<nlohmann::json> QmpClient::wait_event(const std::string& name,
                                                    std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (auto it = events_.begin(); it != events_.end(); ++it) {
      if ((*it)["event"] == name) {
        nlohmann::json e = std::move(*it);
        events_.erase(it);
        return e;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto msg = read_message(left);
    if (!msg) {
      if (fd_ < 0) return std::nullopt;
      continue;
    }
    if (msg->contains("event")) events_.push_back(std::move(*msg));
  }
}

}  // namespace rrvm::e2e
