// `rrvm run`: boots a guest (the built-in rrvm guest unless --kernel names one), records a trace,
// and serves QMP. The process exits with the guest's debug-exit status.
#include <cstdio>

#include "vmm/cli/command.h"
#include "vmm/cli/run_options.h"

namespace rrvm::cli {
namespace {

class RunCommand final : public Command {
 public:
  const char* name() const override { return "run"; }
  const char* summary() const override {
    return "boot a VM (default: the rrvm guest) and record a trace";
  }

  void add_options(CLI::App& app) override { options_.add_to(app, /*with_incoming=*/true); }

  int run() override {
    auto config = options_.make_config();
    if (!config.ok()) {
      std::fprintf(stderr, "rrvm run: %s\n", config.error().describe().c_str());
      return EXIT_BAD_INPUT;
    }
    return run_machine("rrvm run", *config);
  }

 private:
  RunOptions options_;
};
RRVM_REGISTER_COMMAND(RunCommand);

}  // namespace
}  // namespace rrvm::cli
