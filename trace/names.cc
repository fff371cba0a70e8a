// Names of run states, virtio status bits, clock flags and the small trace enums. MSR names live
// in msr_names.cc.
#include "trace/names.h"

#include <array>
#include <cstdio>

namespace rrvm::trace {
namespace {

// Indexed by the RunState value (the numbering is part of the trace format).
constexpr std::array<std::string_view, RUN_STATE_COUNT> RUN_STATE_NAMES = {
    "debug",     "inmigrate",      "internal-error", "io-error", "paused",  "postmigrate",
    "prelaunch", "finish-migrate", "restore-vm",     "running",  "save-vm", "shutdown",
    "suspended", "watchdog",       "guest-panicked", "colo",
};

template <size_t N>
std::string_view lookup(const std::array<std::string_view, N>& names, unsigned value) {
  return value < N ? names[value] : std::string_view("unknown");
}

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

struct BitName {
  uint32_t bit;
  std::string_view name;
};

// Joins the names of the set bits with '|', in table order, then any unnamed bits in hex.
template <size_t N>
std::string bits_to_names(uint32_t value, const std::array<BitName, N>& table) {
  if (value == 0) return "0";
  std::string out;
  uint32_t rest = value;
  for (const auto& b : table) {
    if ((value & b.bit) == 0) continue;
    if (!out.empty()) out += '|';
    out += b.name;
    rest &= ~b.bit;
  }
  if (rest != 0) {
    if (!out.empty()) out += '|';
    out += hex(rest);
  }
  return out;
}

}  // namespace

std::string_view run_state_name(RunState state) {
  return lookup(RUN_STATE_NAMES, static_cast<unsigned>(state));
}

std::optional<RunState> parse_run_state(std::string_view name) {
  for (size_t i = 0; i < RUN_STATE_NAMES.size(); ++i) {
    if (RUN_STATE_NAMES[i] == name) return static_cast<RunState>(i);
  }
  return std::nullopt;
}

std::string virtio_status_bits(uint32_t status) {
  static constexpr std::array<BitName, 6> BITS = {{
      {1, "ACKNOWLEDGE"},
      {2, "DRIVER"},
      {4, "DRIVER_OK"},
      {8, "FEATURES_OK"},
      {64, "DEVICE_NEEDS_RESET"},
      {128, "FAILED"},
  }};
  return bits_to_names(status, BITS);
}

std::string clock_flags_name(uint32_t flags) {
  static constexpr std::array<BitName, 3> BITS = {{
      {2, "TSC_STABLE"},
      {4, "REALTIME"},
      {8, "HOST_TSC"},
  }};
  return bits_to_names(flags, BITS);
}

std::string_view exit_kind_name(ExitKind kind) {
  static constexpr std::array<std::string_view, 10> NAMES = {
      "io",         "mmio",         "hlt",         "shutdown",   "internal-error",
      "fail-entry", "system-event", "interrupted", "debug-exit", "other",
  };
  return lookup(NAMES, static_cast<unsigned>(kind));
}

std::string_view sync_level_name(SyncLevel level) {
  static constexpr std::array<std::string_view, 4> NAMES = {"none", "runtime", "reset", "full"};
  return lookup(NAMES, static_cast<unsigned>(level));
}

std::string_view msr_op_name(MsrOp op) {
  static constexpr std::array<std::string_view, 2> NAMES = {"get", "put"};
  return lookup(NAMES, static_cast<unsigned>(op));
}

std::string_view clock_op_name(ClockOp op) {
  static constexpr std::array<std::string_view, 2> NAMES = {"get", "set"};
  return lookup(NAMES, static_cast<unsigned>(op));
}

std::string_view notifier_phase_name(NotifierPhase phase) {
  static constexpr std::array<std::string_view, 2> NAMES = {"prepare", "main"};
  return lookup(NAMES, static_cast<unsigned>(phase));
}

std::string_view status_source_name(StatusSource source) {
  static constexpr std::array<std::string_view, 3> NAMES = {"guest", "vmm", "restore"};
  return lookup(NAMES, static_cast<unsigned>(source));
}

std::string_view backend_op_name(BackendOp op) {
  static constexpr std::array<std::string_view, 2> NAMES = {"start", "stop"};
  return lookup(NAMES, static_cast<unsigned>(op));
}

std::string_view migration_phase_name(MigrationPhase phase) {
  static constexpr std::array<std::string_view, 8> NAMES = {
      "setup",  "iteration", "completion", "completed",
      "failed", "cancelled", "load-start", "load-done",
  };
  return lookup(NAMES, static_cast<unsigned>(phase));
}

std::string_view section_op_name(SectionOp op) {
  static constexpr std::array<std::string_view, 2> NAMES = {"save", "load"};
  return lookup(NAMES, static_cast<unsigned>(op));
}

}  // namespace rrvm::trace
