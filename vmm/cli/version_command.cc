// `rrvm version`: prints the rrvm version.
#include <cstdio>

#include "vmm/cli/command.h"

namespace rrvm::cli {
namespace {

class VersionCommand final : public Command {
 public:
  const char* name() const override { return "version"; }
  const char* summary() const override { return "print rrvm's version"; }
  void add_options(CLI::App&) override {}
  int run() override {
    std::printf("rrvm %s\n", RRVM_VERSION);
    return EXIT_OK;
  }
};
RRVM_REGISTER_COMMAND(VersionCommand);

}  // namespace
}  // namespace rrvm::cli
