#include "vmm/monitor/vm_commands.h"

#include "trace/names.h"
#include "trace/recorder.h"

namespace rrvm::monitor {
namespace {

Result<Json> empty_return(Status st) {
  if (!st.ok()) return st.error();
  return Json::object();
}

}  // namespace

Status register_vm_commands(CommandTable& table, core::VmControl& vm) {
  // On the main loop, as QEMU runs it under the BQL: the answer never shows the middle of a
  // stop, start or reset (e.g. a RESET event already sent but the VM not yet back in prelaunch).
  RRVM_TRY(table.add(CommandSpec{"query-status", {}, [&vm](const Json&) -> Result<Json> {
                                   core::RunState s = vm.run_state().get();
                                   return Json{{"status", trace::run_state_name(s)},
                                               {"singlestep", false},
                                               {"running", s == core::RunState::Running}};
                                 }}));
  RRVM_TRY(table.add(
      CommandSpec{"stop", {}, [&vm](const Json&) { return empty_return(vm.qmp_stop()); }}));
  RRVM_TRY(table.add(
      CommandSpec{"cont", {}, [&vm](const Json&) { return empty_return(vm.qmp_cont()); }}));
  RRVM_TRY(table.add(CommandSpec{"system_reset", {}, [&vm](const Json&) -> Result<Json> {
                                   vm.qmp_system_reset();
                                   return Json::object();
                                 }}));
  RRVM_TRY(table.add(CommandSpec{"quit", {}, [&vm](const Json&) -> Result<Json> {
                                   vm.qmp_quit();
                                   return Json::object();
                                 }}));
  RRVM_TRY(table.add(CommandSpec{"trace-mark",
                                 {{"text", ArgType::String, true}},
                                 [](const Json& args) -> Result<Json> {
                                   std::string text = args.at("text").get<std::string>();
                                   trace::emit(trace::UserMark{text});
                                   return Json::object();
                                 },
                                 false}));
  RRVM_TRY(table.add(CommandSpec{"query-commands",
                                 {},
                                 [&table](const Json&) -> Result<Json> {
                                   Json list = Json::array();
                                   list.push_back({{"name", "qmp_capabilities"}});
                                   for (const auto& name : table.names())
                                     list.push_back({{"name", name}});
                                   return list;
                                 },
                                 false}));
  return ok_status();
}

Dispatcher main_loop_dispatcher(core::MainLoop& loop) {
  return [&loop](const std::string& span_name, std::function<void()> fn) {
    return loop.call(span_name, std::move(fn));
  };
}

Json shutdown_event_data(core::ShutdownCause cause) {
  return Json{{"guest", core::shutdown_caused_by_guest(cause)},
              {"reason", core::shutdown_cause_name(cause)}};
}

void emit_vm_event(QmpServer& server, std::string_view event,
                   std::optional<core::ShutdownCause> cause) {
  server.emit_event(event, cause ? shutdown_event_data(*cause) : Json());
}

}  // namespace rrvm::monitor
