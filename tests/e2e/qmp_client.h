// The QMP client of the end-to-end tests: rrvm's own client (vmm/monitor/qmp_client.h) behind a
// gtest-friendly face. Replies come back as plain JSON (null when the server could not be talked
// to), so a failed exchange fails an assertion instead of ending the test; connect() waits for
// the socket of an rrvm that is still starting.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "vmm/monitor/qmp_client.h"

namespace rrvm::e2e {

class QmpClient {
 public:
  // Connects (retrying while the socket does not exist yet or nobody listens on it), reads the
  // greeting and sends qmp_capabilities. Returns "" on success, else what went wrong.
  std::string connect(const std::string& socket_path, std::chrono::milliseconds timeout);

  // Sends one command and returns its reply ({"return":...} or {"error":...}); events read
  // before the reply are kept for wait_event(). Null on timeout or a closed socket.
  nlohmann::json execute(const std::string& command, const nlohmann::json& arguments = nullptr);
  // Sends a raw line (e.g. broken JSON) and returns the next reply, null as execute().
  nlohmann::json send_raw(const std::string& line);
  // The first kept or newly read event named `name` (removed from the queue).
  std::optional<nlohmann::json> wait_event(const std::string& name,
                                           std::chrono::milliseconds timeout);
  // Shorthand: execute(command) returned {"return": ...}.
  bool ok(const std::string& command, const nlohmann::json& arguments = nullptr);
  // query-status's "status", or "" when it could not be read.
  std::string status();

 private:
  std::optional<monitor::QmpClient> client_;
};

// j[key] as a string, or "" when j is not an object or has no string under key (never throws,
// so a missing reply fails an assertion instead of aborting the test).
std::string str_field(const nlohmann::json& j, const std::string& key);

}  // namespace rrvm::e2e
