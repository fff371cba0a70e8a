// A minimal QMP client for end-to-end tests: connects to rrvm's unix socket, reads the greeting,
// negotiates capabilities, executes commands and keeps the asynchronous events it reads on the way.
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace rrvm::e2e {

class QmpClient {
 public:
  QmpClient() = default;
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // Connects (retrying while the socket does not exist yet), reads the greeting and sends
  // qmp_capabilities. Returns "" on success, else what went wrong.
  std::string connect(const std::string& socket_path, std::chrono::milliseconds timeout);

  // Sends one command and returns its reply ({"return":...} or {"error":...}); events read
  // before the reply are kept for wait_event(). A null json on timeout or a closed socket.
  nlohmann::json execute(const std::string& command, const nlohmann::json& arguments = nullptr);
  // Sends a raw line (e.g. broken JSON) and returns the next non-event message.
  nlohmann::json send_raw(const std::string& line);
  // The first kept or newly read event named `name` (removed from the queue).
  std::optional<nlohmann::json> wait_event(const std::string& name,
                                           std::chrono::milliseconds timeout);
  // Shorthand: execute(command) returned {"return": ...}.
  bool ok(const std::string& command, const nlohmann::json& arguments = nullptr);
  // query-status's "status", or "" when it could not be read.
  std::string status();

 private:
  std::optional<nlohmann::json> read_message(std::chrono::milliseconds timeout);
  nlohmann::json read_reply();

  int fd_ = -1;
  std::string buffer_;
  std::deque<nlohmann::json> events_;
};

// j[key] as a string, or "" when j is not an object or has no string under key (never throws,
// so a missing reply fails an assertion instead of aborting the test).
std::string str_field(const nlohmann::json& j, const std::string& key);

}  // namespace rrvm::e2e
