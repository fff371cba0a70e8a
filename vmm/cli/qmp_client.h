// A QMP client for the CLI (`rrvm snapshot`): connects to a running rrvm's monitor socket, checks
// that it is rrvm's, negotiates capabilities and runs commands one at a time.
//
// Framing uses the server's JsonSplitter, so the client accepts exactly what the server would
// (objects split over reads, several per read). Events read while waiting for a reply are
// dropped: the CLI polls query-migrate instead of following MIGRATION events.
#pragma once

#include <chrono>
#include <deque>
#include <string>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"
#include "vmm/monitor/command_table.h"
#include "vmm/monitor/json_splitter.h"

namespace rrvm::cli {

class QmpClient {
 public:
  // Connects to the unix socket at `path`, reads the greeting (refusing a peer that is not an
  // rrvm QMP monitor) and sends qmp_capabilities. Every wait is bounded by `timeout`.
  static Result<QmpClient> connect(const std::string& path, std::chrono::milliseconds timeout);

  // Runs `command` and returns its "return" value; a QMP error reply becomes an Error holding
  // the server's "desc".
  Result<monitor::Json> execute(const std::string& command,
                                const monitor::Json& arguments = monitor::Json::object());

  // The greeting's version.package ("rrvm 0.1.0").
  const std::string& package() const { return package_; }

 private:
  QmpClient(std::string path, Fd fd, std::chrono::milliseconds timeout)
      : path_(std::move(path)), fd_(std::move(fd)), timeout_(timeout) {}
  Status read_greeting();
  Status send_line(const std::string& text);
  // The next complete JSON message from the server, parsed.
  Result<monitor::Json> read_message();

  std::string path_;
  Fd fd_;
  std::chrono::milliseconds timeout_;
  monitor::JsonSplitter splitter_;
  std::deque<monitor::JsonSplitter::Item> pending_;
  std::string package_;
};

}  // namespace rrvm::cli
