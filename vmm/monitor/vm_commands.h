// QEMU's VM control commands on the QMP command table, and the glue between VmControl, the main
// loop and the QMP server:
//   query-status   {"running", "singlestep", "status"}
//   stop, cont, system_reset, quit
//   trace-mark {"text"}          (a UserMark event in the trace; answered off the main loop)
//   query-commands               (the table's command names; answered off the main loop)
#pragma once

#include <optional>
#include <string_view>

#include "vmm/base/result.h"
#include "vmm/core/main_loop.h"
#include "vmm/core/vm_control.h"
#include "vmm/monitor/command_table.h"
#include "vmm/monitor/qmp_server.h"
#include "vmm/monitor/qmp_session.h"

namespace rrvm::monitor {

// Registers the commands above. `vm` and `table` must outlive the server.
Status register_vm_commands(CommandTable& table, core::VmControl& vm);

// Runs main-loop commands through MainLoop::call (the span "qmp_dispatch" keeps the command's
// span as its parent).
Dispatcher main_loop_dispatcher(core::MainLoop& loop);

// The data of a SHUTDOWN or RESET event: {"guest": bool, "reason": "<cause>"}.
Json shutdown_event_data(core::ShutdownCause cause);

// Sends a VmControl event (VmControlCallbacks::event) to the server's clients.
void emit_vm_event(QmpServer& server, std::string_view event,
                   std::optional<core::ShutdownCause> cause);

}  // namespace rrvm::monitor
