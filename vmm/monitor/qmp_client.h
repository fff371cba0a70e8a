// A QMP client: connects to a QMP server's unix socket (rrvm's, or any QEMU-compatible one),
// reads the greeting, negotiates capabilities and runs commands one at a time. The CLI
// (`rrvm snapshot`) and the end-to-end tests use it.
//
// Framing uses the server's JsonSplitter, so the client accepts exactly what the server would
// (objects split over reads, several per read, CRLF or LF). Events read while waiting for a
// reply are queued for wait_event(); only the newest MAX_QUEUED_EVENTS are kept, so a client that
// never asks for events (the CLI polling query-migrate) holds bounded memory.
//
// Not thread-safe: one thread uses a client.
#pragma once

#include <chrono>
#include <deque>
#include <string>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"
#include "vmm/monitor/command_table.h"
#include "vmm/monitor/json_splitter.h"

namespace rrvm::monitor {

class QmpClient {
 public:
  static constexpr size_t MAX_QUEUED_EVENTS = 256;

  // Connects to the unix socket at `path`, reads the greeting (refusing a peer whose first
  // message is not a QMP greeting) and negotiates. `timeout` bounds every later wait for a reply.
  // Errors name `path`; a failed connect keeps its errno (ENOENT: no socket yet, ECONNREFUSED:
  // nobody listens).
  static Result<QmpClient> connect(const std::string& path, std::chrono::milliseconds timeout);
  // connect() in two steps, for a caller that looks at the greeting (package()) before it sends
  // anything: open() stops after the greeting, negotiate() sends qmp_capabilities.
  static Result<QmpClient> open(const std::string& path, std::chrono::milliseconds timeout);
  Status negotiate();

  // Runs `command` and returns the whole reply: {"return": ...} or {"error": {"class", "desc"}}.
  // An Error only when the server could not be talked to (closed, timeout, not JSON).
  Result<Json> request(const std::string& command, const Json& arguments = Json::object());
  // Runs `command` and returns its "return" value; an error reply becomes an Error holding the
  // server's "desc".
  Result<Json> execute(const std::string& command, const Json& arguments = Json::object());
  // Sends `text` as it is (plus a newline) and returns the next reply, as request() does: for
  // feeding a server input that is not a well-formed command.
  Result<Json> send_raw(const std::string& text);

  // The first event named `name`, queued earlier or read within `timeout`; removed from the queue.
  Result<Json> wait_event(const std::string& name, std::chrono::milliseconds timeout);

  // The greeting's version.package ("rrvm 0.1.0"; QEMU: e.g. "Debian 1:7.2+dfsg-7"); "" when the
  // greeting has none.
  const std::string& package() const { return package_; }
  const std::string& path() const { return path_; }

 private:
  using Clock = std::chrono::steady_clock;

  QmpClient(std::string path, Fd fd, std::chrono::milliseconds timeout)
      : path_(std::move(path)), fd_(std::move(fd)), timeout_(timeout) {}
  Status read_greeting();
  Status send_line(const std::string& text);
  // The next complete JSON message from the server, parsed; an error after `timeout`.
  Result<Json> read_message(std::chrono::milliseconds timeout);
  // The next message that is not an event (events are queued on the way). Each message read
  // restarts the timeout: a server that keeps sending events is alive.
  Result<Json> read_reply(const std::string& what);
  void queue_event(Json event);

  std::string path_;
  Fd fd_;
  std::chrono::milliseconds timeout_;
  JsonSplitter splitter_;
  std::deque<JsonSplitter::Item> pending_;  // split but not yet parsed
  std::deque<Json> events_;
  std::string package_;
};

}  // namespace rrvm::monitor
