#include "vmm/monitor/qmp_session.h"

#include <exception>
#include <optional>

#include "trace/recorder.h"
#include "trace/span.h"

namespace rrvm::monitor {
namespace {

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string parse_error_text(const std::exception& e) {
  std::string what = e.what();
  auto pos = what.find("] ");
  return pos == std::string::npos ? what : what.substr(pos + 2);
}

struct Parsed {
  Json request;
  std::string name = "invalid";  // for the span: the "execute" member when there is one
  std::optional<Json> error;     // set when the input cannot be dispatched at all
};

Parsed parse_request(const JsonSplitter::Item& item) {
  Parsed p;
  if (!item.error.empty()) {
    p.error = error_reply("GenericError", "JSON parse error, " + item.error);
    return p;
  }
  try {
    p.request = Json::parse(item.text);
  } catch (const Json::parse_error& e) {
    p.error = error_reply("GenericError", "JSON parse error, " + parse_error_text(e));
    return p;
  }
  if (!p.request.is_object()) {
    p.error = error_reply("GenericError", "QMP input must be a JSON object");
    return p;
  }
  const Json* id = p.request.contains("id") ? &p.request["id"] : nullptr;
  auto exec = p.request.find("execute");
  if (exec == p.request.end()) {
    p.error = error_reply("GenericError", "QMP input lacks member 'execute'", id);
  } else if (!exec->is_string()) {
    p.error = error_reply("GenericError", "QMP input member 'execute' must be a string", id);
  } else {
    p.name = exec->get<std::string>();
  }
  return p;
}

}  // namespace

QmpVersion rrvm_qmp_version() {
  return QmpVersion{RRVM_VERSION_MAJOR, RRVM_VERSION_MINOR, RRVM_VERSION_PATCH,
                    "rrvm " + std::to_string(RRVM_VERSION_MAJOR) + "." +
                        std::to_string(RRVM_VERSION_MINOR) + "." +
                        std::to_string(RRVM_VERSION_PATCH)};
}

Json make_greeting(const QmpVersion& v) {
  Json version = {{"qemu", {{"micro", v.micro}, {"minor", v.minor}, {"major", v.major}}},
                  {"package", v.package}};
  return Json{{"QMP", {{"version", version}, {"capabilities", Json::array()}}}};
}

Json make_event(std::string_view name, const Json& data,
                std::chrono::system_clock::time_point wall_time) {
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(wall_time.time_since_epoch()).count();
  Json ev = {{"timestamp", {{"seconds", us / 1000000}, {"microseconds", us % 1000000}}},
             {"event", name}};
  if (!data.is_null()) ev["data"] = data;
  return ev;
}

Json error_reply(std::string_view error_class, std::string_view desc, const Json* id) {
  Json reply = {{"error", {{"class", error_class}, {"desc", desc}}}};
  if (id) reply["id"] = *id;
  return reply;
}

namespace {

// The reply, recorded and handed to the client's output.
void deliver_reply(const Json& reply, const QmpSession::Deliver& deliver) {
  std::string text = reply.dump();
  trace::emit(trace::MonitorReply{text});
  deliver(reply);
}

}  // namespace

void QmpSession::handle(const JsonSplitter::Item& item, const Deliver& deliver) {
  Parsed p = parse_request(item);
  trace::Span span("qmp:" + p.name);
  trace::emit(trace::MonitorCommand{item.text});
  std::optional<Json> reply = p.error ? p.error : handle_parsed(p.request, p.name, deliver);
  if (reply) deliver_reply(*reply, deliver);
}

Json QmpSession::handle(const JsonSplitter::Item& item) {
  Json reply;
  handle(item, [&](const Json& r) { reply = r; });
  return reply;
}

std::optional<Json> QmpSession::handle_parsed(const Json& request, const std::string& name,
                                              const Deliver& deliver) {
  const Json* id = request.contains("id") ? &request["id"] : nullptr;
  for (const auto& [key, value] : request.items()) {
    if (key != "execute" && key != "arguments" && key != "id") {
      return error_reply("GenericError", "QMP input member '" + key + "' is unexpected", id);
    }
  }
  Json args = Json::object();
  if (auto it = request.find("arguments"); it != request.end()) {
    if (!it->is_object()) {
      return error_reply("GenericError", "QMP input member 'arguments' must be an object", id);
    }
    args = *it;
  }
  if (name == "qmp_capabilities") return negotiate(args, id);
  if (!negotiated_) {
    return error_reply("CommandNotFound",
                       "Expecting capabilities negotiation with 'qmp_capabilities'", id);
  }
  auto spec = table_.find(name);
  if (!spec)
    return error_reply("CommandNotFound", "The command " + name + " has not been found", id);
  if (auto st = validate_args(*spec, args); !st.ok()) {
    return error_reply("GenericError", st.error().message, id);
  }
  return run_command(*spec, args, id, deliver);
}

Json QmpSession::negotiate(const Json& args, const Json* id) {
  if (negotiated_) {
    return error_reply("CommandNotFound",
                       "Capabilities negotiation is already complete, command ignored", id);
  }
  for (const auto& [key, value] : args.items()) {
    if (key != "enable")
      return error_reply("GenericError", "Parameter '" + key + "' is unexpected", id);
    if (!value.is_array()) {
      return error_reply("GenericError", "Invalid parameter type for 'enable', expected: array",
                         id);
    }
    // rrvm offers no optional capabilities (no out-of-band execution).
    if (!value.empty()) {
      const Json& cap = value.front();
      std::string cap_name = cap.is_string() ? cap.get<std::string>() : cap.dump();
      return error_reply("GenericError", "Capability '" + cap_name + "' not available", id);
    }
  }
  negotiated_ = true;
  Json reply = {{"return", Json::object()}};
  if (id) reply["id"] = *id;
  return reply;
}

std::optional<Json> QmpSession::run_command(const CommandSpec& spec, const Json& args,
                                            const Json* id, const Deliver& deliver) {
  auto job = [&] {
    Result<Json> result = rrvm::make_error("command did not run");
    try {
      result = spec.handler(args);
    } catch (const Json::exception& e) {
      // A handler that trips over a JSON value it did not expect: the client's input, not a
      // reason to take the VM down.
      result = rrvm::make_error(parse_error_text(e));
    }
    Json reply = result.ok() ? Json{{"return", result.value()}}
                             : error_reply("GenericError", result.error().describe());
    if (id) reply["id"] = *id;
    deliver_reply(reply, deliver);
  };
  if (!spec.main_loop) {
    trace::Span span("qmp_dispatch");
    job();
    return std::nullopt;
  }
  if (!dispatch_("qmp_dispatch", job)) {
    return error_reply("GenericError", "rrvm is shutting down, command not run", id);
  }
  return std::nullopt;
}

}  // namespace rrvm::monitor
