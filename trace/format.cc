#include "trace/format.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "trace/names.h"

namespace rrvm::trace {
namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string bytes_hex(std::span<const uint8_t> data) {
  static constexpr char DIGITS[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out += DIGITS[b >> 4];
    out += DIGITS[b & 15];
  }
  return out;
}

std::string err_field(int32_t err) { return err == 0 ? "" : " err=" + errno_name(err); }

std::string fields(const MsrAccess& e) {
  std::string s = std::string(msr_op_name(e.op)) + " vcpu=" + std::to_string(e.vcpu) +
                  " level=" + std::string(sync_level_name(e.level)) +
                  " processed=" + std::to_string(e.processed) + "/" + std::to_string(e.requested) +
                  err_field(e.err);
  if (e.processed < e.requested && e.processed < e.entries.size()) {
    s += " failed-at=" + msr_describe(e.entries[e.processed].index);
  }
  for (const MsrEntry& m : e.entries) {
    // Appended piece by piece: fewer temporaries, and no `"x" + std::string` that gcc 12 -O3
    // flags with a false -Wrestrict.
    std::string name = msr_name(m.index);
    s += ' ';
    if (name.empty()) {
      s += hex(m.index);
    } else {
      s += name;
      s += '(';
      s += hex(m.index);
      s += ')';
    }
    s += '=';
    s += hex(m.value);
  }
  return s;
}

std::string fields(const VcpuExit& e) {
  std::string s = "vcpu=" + std::to_string(e.vcpu) + " " + std::string(exit_kind_name(e.kind));
  if (e.kind == ExitKind::Io || e.kind == ExitKind::Mmio) {
    s += std::string(e.is_write ? " write " : " read ") +
         (e.kind == ExitKind::Io ? "port=" : "gpa=") + hex(e.address) +
         " size=" + std::to_string(e.size) + " data=" + bytes_hex(e.data);
  } else if (e.detail != 0 || !e.data.empty()) {
    s += " detail=" + hex(e.detail);
    if (!e.data.empty()) s += " data=" + bytes_hex(e.data);
  }
  return s;
}

std::string fields(const DeviceStatusWrite& e) {
  return "device=" + std::string(e.device) + " transport=" + std::string(e.transport) + " " +
         std::to_string(e.old_status) + " -> " + std::to_string(e.new_status) + " (" +
         virtio_status_bits(e.old_status) + " -> " + virtio_status_bits(e.new_status) +
         ") source=" + std::string(status_source_name(e.source)) +
         (e.accepted ? " accepted" : " REFUSED") +
         (e.reason.empty() ? "" : " reason=" + quoted(e.reason));
}

std::string fields(const RunStateChange& e) {
  return std::string(run_state_name(e.from)) + " -> " + std::string(run_state_name(e.to)) +
         " reason=" + quoted(e.reason) + (e.accepted ? "" : " REFUSED");
}

std::string fields(const NotifierCall& e) {
  return "handler=" + std::string(e.handler) + " priority=" + std::to_string(e.priority) +
         " phase=" + std::string(notifier_phase_name(e.phase)) +
         " running=" + (e.running ? "true" : "false") +
         " state=" + std::string(run_state_name(e.state));
}

std::string fields(const ClockAccess& e) {
  return std::string(clock_op_name(e.op)) + " clock=" + std::to_string(e.clock_ns) +
         "ns flags=" + clock_flags_name(e.flags) + " host_tsc=" + hex(e.host_tsc) +
         " realtime=" + std::to_string(e.realtime_ns) + "ns" + err_field(e.err);
}

std::string fields(const KvmclockCtrl& e) {
  return "vcpu=" + std::to_string(e.vcpu) + " result=" + errno_name(e.err);
}

std::string fields(const TscRead& e) {
  return "vcpu=" + std::to_string(e.vcpu) + " tsc=" + hex(e.tsc);
}

std::string fields(const TscKhz& e) {
  return "vcpu=" + std::to_string(e.vcpu) + (e.set ? " set" : " get") +
         " khz=" + std::to_string(e.khz) + err_field(e.err);
}

std::string fields(const DeviceReset& e) {
  return "device=" + std::string(e.device) + " reason=" + quoted(e.reason);
}

std::string fields(const DeviceBackend& e) {
  return "device=" + std::string(e.device) + " " + std::string(backend_op_name(e.op)) +
         " reason=" + quoted(e.reason);
}

std::string fields(const MonitorCommand& e) { return std::string(e.json); }

std::string fields(const MonitorReply& e) { return std::string(e.json); }

std::string fields(const MigrationEvent& e) {
  return std::string(migration_phase_name(e.phase)) + " iteration=" + std::to_string(e.iteration) +
         " dirty_pages=" + std::to_string(e.dirty_pages) + " bytes=" + std::to_string(e.bytes) +
         " downtime=" + std::to_string(e.downtime_ns) + "ns" +
         (e.detail.empty() ? "" : " detail=" + quoted(e.detail));
}

std::string fields(const SnapshotSection& e) {
  return std::string(section_op_name(e.op)) + " device=" + std::string(e.device) +
         " bytes=" + std::to_string(e.bytes) + " checksum=" + hex(e.checksum) +
         (e.ok ? " ok" : " FAILED error=" + quoted(e.error));
}

std::string fields(const UserMark& e) { return quoted(e.text); }

std::string fields(const Warning& e) {
  return std::string(e.component) + ": " + std::string(e.text);
}

std::string fields(const HvCall& e) {
  return std::string(e.name) + " vcpu=" + std::to_string(e.vcpu) +
         " result=" + std::to_string(e.result) + err_field(e.err) +
         " payload=" + std::to_string(e.payload.size()) + "B";
}

std::string fields(const SpanBegin& e) { return quoted(e.name) + " parent=" + hex(e.parent); }

std::string fields(const SpanEnd&) { return std::string(); }

std::string fields(const Dropped& e) {
  return std::to_string(e.count) + " events lost (the thread's trace buffer was full)";
}

std::string fields(const std::monostate&) {
  return std::string("(an event type this rrvm does not know)");
}

}  // namespace

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string errno_name(int32_t err) {
  if (err == 0) return "0";
  const char* name = err > 0 ? strerrorname_np(err) : nullptr;
  return name != nullptr ? name : "errno " + std::to_string(err);
}

std::string format_time(uint64_t time_ns, uint64_t start_ns) {
  bool negative = time_ns < start_ns;
  uint64_t d = negative ? start_ns - time_ns : time_ns - start_ns;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s%llu.%09llu", negative ? "-" : "",
                static_cast<unsigned long long>(d / 1'000'000'000),
                static_cast<unsigned long long>(d % 1'000'000'000));
  return buf;
}

std::string format_event_line(const EventRecord& event, std::string_view thread,
                              uint64_t start_ns) {
  // Left-aligned in a column of `width`, never cut (as printf's %-Ns).
  auto column = [](std::string& line, std::string_view text, size_t width) {
    line += text;
    if (text.size() < width) line.append(width - text.size(), ' ');
  };
  char seq[24];
  std::snprintf(seq, sizeof seq, "%8llu", static_cast<unsigned long long>(event.seq));
  std::string line = seq;
  line += ' ';
  line += format_time(event.time_ns, start_ns);
  line += ' ';
  column(line, thread, 10);
  line += ' ';
  column(line, event_type_name(event.type()), 14);
  std::string fields = format_fields(event);
  if (!fields.empty()) line += ' ' + fields;
  return line;
}

std::string format_fields(const EventRecord& event) {
  return std::visit([](const auto& e) { return fields(e); }, event.body);
}

std::optional<TracePoint> parse_trace_point(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t seq = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
  if (ec == std::errc() && end == text.data() + text.size()) return TracePoint{false, seq};
  static constexpr std::pair<std::string_view, double> UNITS[] = {
      {"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
  for (auto [unit, scale] : UNITS) {
    if (!text.ends_with(unit)) continue;
    std::string number(text.substr(0, text.size() - unit.size()));
    if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos) {
      return std::nullopt;
    }
    char* stop = nullptr;
    double v = std::strtod(number.c_str(), &stop);
    if (stop != number.c_str() + number.size() || !std::isfinite(v) || v * scale > 1.8e19) {
      return std::nullopt;
    }
    return TracePoint{true, static_cast<uint64_t>(std::llround(v * scale))};
  }
  return std::nullopt;
}

}  // namespace rrvm::trace
