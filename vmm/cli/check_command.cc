// `rrvm check TRACE [--all]`: replays a recorded trace against rrvm's own logic (the rules of
// replay/invariants.h) and reports where it diverges: one line per finding (seq, rule, what was
// expected and seen) with the event as `rrvm dump` prints it, then a summary. Stops at the first
// divergence unless --all. Exit codes: 0 clean, 1 findings, 2 an unreadable, corrupt or truncated
// trace (after reporting what the readable part showed; findings there still give 1).
#include <cstdio>
#include <string>

#include "replay/checker.h"
#include "vmm/cli/command.h"

namespace rrvm::cli {
namespace {

class CheckCommand final : public Command {
 public:
  const char* name() const override { return "check"; }
  const char* summary() const override {
    return "check a trace against rrvm's run-state, clock, kvmclock and ordering invariants";
  }

  void add_options(CLI::App& app) override {
    app.add_option("trace", path_, "trace file")->required();
    app.add_flag("--all", all_, "list every finding instead of stopping at the first divergence");
  }

  int run() override {
    replay::CheckReport report = replay::check_trace(path_, {.all = all_});
    if (!report.opened) return fail_bad_input("check", *report.error);
    for (const replay::Finding& f : report.findings) print(f);
    print_summary(report);
    if (report.error) return fail_bad_input("check", *report.error);
    std::fflush(stdout);
    if (!report.findings.empty()) {
      if (!report.truncation.empty())
        std::fprintf(stderr, "rrvm check: %s\n", report.truncation.c_str());
      return EXIT_FAILED;
    }
    if (!report.truncation.empty()) {
      std::fprintf(stderr, "rrvm check: %s\n", report.truncation.c_str());
      return EXIT_BAD_INPUT;
    }
    return EXIT_OK;
  }

 private:
  static void print(const replay::Finding& f) {
    std::printf("seq %llu  %s  %s\n%s\n", static_cast<unsigned long long>(f.seq), f.rule.c_str(),
                f.message.c_str(), f.event.c_str());
    if (f.dropped_before != 0) {
      std::printf(
          "         (%llu events were dropped while recording before this one: it may "
          "be a recording gap)\n",
          static_cast<unsigned long long>(f.dropped_before));
    }
  }

  void print_summary(const replay::CheckReport& r) const {
    size_t n = r.findings.size();
    std::printf("%schecked %llu event%s%s: %zu finding%s%s\n", n ? "\n" : "",
                static_cast<unsigned long long>(r.events_checked), r.events_checked == 1 ? "" : "s",
                r.error                ? " (up to the unreadable part)"
                : r.truncation.empty() ? ""
                                       : " (the complete part of a truncated trace)",
                n, n == 1 ? "" : "s",
                r.stopped_early && !all_ ? " (stopped at the first divergence; --all lists all)"
                : r.stopped_early        ? " (stopped at the finding limit)"
                                         : "");
    for (const auto& rule : r.rules) {
      if (rule.not_checked.empty()) {
        std::printf("  %-26s %llu\n", rule.name.c_str(),
                    static_cast<unsigned long long>(rule.findings));
      } else {
        std::printf("  %-26s not checked: %s\n", rule.name.c_str(), rule.not_checked.c_str());
      }
    }
    if (r.dropped != 0) {
      std::printf(
          "note: %llu events were dropped while recording; the checker cannot tell a "
          "dropped event from a missing one\n",
          static_cast<unsigned long long>(r.dropped));
    }
  }

  std::string path_;
  bool all_ = false;
};
RRVM_REGISTER_COMMAND(CheckCommand);

}  // namespace
}  // namespace rrvm::cli
