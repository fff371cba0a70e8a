// One QMP client's protocol state and the QMP message formats (greeting, replies, events).
//
// The session is pure protocol: it takes one JSON text and returns the reply object, so it is
// tested without sockets. Rules, as in QEMU's monitor/qmp.c and qapi/qmp-dispatch.c:
//   - until `qmp_capabilities` succeeds, every other command gets CommandNotFound;
//   - input must be a JSON object with a string "execute", an optional object "arguments" and an
//     optional "id" that is echoed in the reply;
//   - a parse error or bad member gets {"error": {"class": "GenericError", "desc": ...}} and the
//     session goes on.
// Every command and reply is recorded (MonitorCommand / MonitorReply) inside a span
// "qmp:<command>", and the handler runs in a child span "qmp_dispatch" on the thread the
// dispatcher chose (the VM's main loop), so `vm_stop` appears under `qmp:stop`.
//
// The reply is delivered on the thread that ran the command, before that command's job ends: an
// event the main loop sends right after the job (SHUTDOWN after `quit`, RESET after
// `system_reset`) therefore always follows the reply, as in QEMU.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "vmm/monitor/command_table.h"
#include "vmm/monitor/json_splitter.h"

namespace rrvm::monitor {

// Runs `fn` where main-loop commands must run and waits for it; false when it could not run
// (the VM is shutting down). The span name is the one the job should open on that thread.
using Dispatcher = std::function<bool(const std::string& span_name, std::function<void()> fn)>;

struct QmpVersion {
  int major = 0, minor = 0, micro = 0;
  std::string package;  // e.g. "rrvm 0.1.0"
};
// rrvm's own version (the project version CMake knows), as the greeting reports it.
QmpVersion rrvm_qmp_version();

Json make_greeting(const QmpVersion& version);
// {"timestamp": {"seconds": S, "microseconds": US}, "event": NAME[, "data": DATA]}; `data` is left
// out when it is null. `wall_time` is the host's real time, as QEMU uses.
Json make_event(std::string_view name, const Json& data,
                std::chrono::system_clock::time_point wall_time = std::chrono::system_clock::now());
Json error_reply(std::string_view error_class, std::string_view desc, const Json* id = nullptr);

class QmpSession {
 public:
  QmpSession(const CommandTable& table, Dispatcher dispatch)
      : table_(table), dispatch_(std::move(dispatch)) {}

  using Deliver = std::function<void(const Json& reply)>;
  // Handles one text from the client; `deliver` is called exactly once with the reply, before
  // handle() returns.
  void handle(const JsonSplitter::Item& item, const Deliver& deliver);
  // The same, returning the reply.
  Json handle(const JsonSplitter::Item& item);
  // Events are only sent to a client after negotiation (QEMU: "commands mode").
  bool negotiated() const { return negotiated_; }

 private:
  // Returns the reply, or nothing when run_command delivered it already.
  std::optional<Json> handle_parsed(const Json& request, const std::string& name,
                                    const Deliver& deliver);
  std::optional<Json> run_command(const CommandSpec& spec, const Json& args, const Json* id,
                                  const Deliver& deliver);
  Json negotiate(const Json& args, const Json* id);

  const CommandTable& table_;
  Dispatcher dispatch_;
  bool negotiated_ = false;
};

}  // namespace rrvm::monitor
