#include "vmm/hv/types.h"

#include "vmm/base/check.h"

namespace rrvm::hv {

trace::ExitKind to_trace_kind(Exit::Kind kind) {
  switch (kind) {
    case Exit::Kind::Io: return trace::ExitKind::Io;
    case Exit::Kind::Mmio: return trace::ExitKind::Mmio;
    case Exit::Kind::Hlt: return trace::ExitKind::Hlt;
    case Exit::Kind::Shutdown: return trace::ExitKind::Shutdown;
    case Exit::Kind::InternalError: return trace::ExitKind::InternalError;
    case Exit::Kind::FailEntry: return trace::ExitKind::FailEntry;
    case Exit::Kind::SystemEvent: return trace::ExitKind::SystemEvent;
    case Exit::Kind::Interrupted: return trace::ExitKind::Interrupted;
    case Exit::Kind::Other: return trace::ExitKind::Other;
  }
  RRVM_FATAL("unknown Exit::Kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace rrvm::hv
