// `rrvm info TRACE`: the trace's header, whether the recorder closed it, and its size in events,
// chunks and drops. Exit code 2 when the trace is corrupt or incomplete (after printing it all).
#include <cstdio>
#include <ctime>
#include <string>

#include "trace/event_record.h"
#include "trace/format.h"
#include "trace/reader.h"
#include "vmm/cli/command.h"

namespace rrvm::cli {
namespace {

std::string wall_clock(uint64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  tm utc{};
  gmtime_r(&secs, &utc);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%09lluZ",
                static_cast<unsigned long long>(ns % 1'000'000'000));
  return buf;
}

// Events, drops and the time span of the trace: from the footer and index when the trace is
// complete, else from reading every event.
struct Totals {
  uint64_t events = 0;
  uint64_t dropped = 0;
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
};

Result<Totals> count(trace::Reader& r) {
  Totals t;
  if (r.complete()) {
    t.events = r.footer()->events;
    t.dropped = r.footer()->dropped;
    bool first = true;
    for (const auto& c : r.chunks()) {
      if (c.events == 0) continue;
      if (first) t.first_ns = c.first_time_ns, first = false;
      t.last_ns = c.last_time_ns;
    }
    return t;
  }
  while (true) {
    RRVM_ASSIGN_OR_RETURN(const trace::EventRecord* e, r.next());
    if (e == nullptr) return t;
    if (t.events++ == 0) t.first_ns = e->time_ns;
    t.last_ns = e->time_ns;
    if (const auto* d = std::get_if<trace::Dropped>(&e->body)) t.dropped += d->count;
  }
}

void print_header(const trace::Reader& r) {
  const trace::TraceHeader& th = r.header();
  const trace::Header& h = th.header;
  std::printf("format:          version %u\n", th.format_version);
  std::printf("rrvm:            %s\n", h.rrvm_version.c_str());
  std::printf("host kernel:     %s\n", h.host_kernel.c_str());
  std::printf("cpu:             %s, %s\n", h.cpu_vendor.c_str(), h.cpu_model.c_str());
  std::printf("tsc:             %u kHz\n", h.tsc_khz);
  if (h.kvm_api_version < 0) {
    std::printf("kvm:             not used\n");
  } else {
    std::printf("kvm:             api version %d\n", h.kvm_api_version);
  }
  for (const auto& [cap, value] : h.kvm_caps) {
    std::printf("  %-28s %lld\n", cap.c_str(), static_cast<long long>(value));
  }
  std::printf("started:         %s (wall clock)\n", wall_clock(h.wall_clock_start_ns).c_str());
  std::printf("clock source:    %s\n", th.clock_source.c_str());
  const trace::VmConfig& c = h.config;
  std::printf("vm:              role %s, %llu MiB, %u vCPUs\n", c.role.c_str(),
              static_cast<unsigned long long>(c.memory_bytes >> 20), c.vcpus);
  std::printf("  kernel:        %s\n", c.kernel.c_str());
  if (!c.initrd.empty()) std::printf("  initrd:        %s\n", c.initrd.c_str());
  if (!c.cmdline.empty()) std::printf("  cmdline:       %s\n", trace::quoted(c.cmdline).c_str());
  for (const auto& d : c.devices) std::printf("  device:        %s\n", d.c_str());
}

class InfoCommand final : public Command {
 public:
  const char* name() const override { return "info"; }
  const char* summary() const override { return "print a trace's header and size"; }
  void add_options(CLI::App& app) override {
    app.add_option("trace", path_, "trace file")->required();
  }

  int run() override {
    auto reader = trace::Reader::open(path_);
    if (!reader.ok()) return fail(reader.error());
    trace::Reader& r = **reader;
    std::printf("trace:           %s\n", path_.c_str());
    print_header(r);
    auto totals = count(r);
    if (!totals.ok()) return fail(totals.error());
    uint64_t start = r.header().monotonic_start_ns;
    std::printf("complete:        %s\n",
                r.complete() ? "yes (the recorder closed it)" : ("no: " + r.truncation()).c_str());
    std::printf("events:          %llu\n", static_cast<unsigned long long>(totals->events));
    std::printf("chunks:          %zu\n", r.chunks().size());
    std::printf("dropped:         %llu\n", static_cast<unsigned long long>(totals->dropped));
    if (totals->events != 0) {
      std::printf("time:            %s .. %s s since the start\n",
                  trace::format_time(totals->first_ns, start).c_str(),
                  trace::format_time(totals->last_ns, start).c_str());
    }
    return r.complete() ? EXIT_OK : EXIT_BAD_INPUT;
  }

 private:
  int fail(const Error& error) { return fail_bad_input(name(), error); }
  std::string path_;
};
RRVM_REGISTER_COMMAND(InfoCommand);

}  // namespace
}  // namespace rrvm::cli
