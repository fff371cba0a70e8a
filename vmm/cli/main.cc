// The `rrvm` executable: parses the command line and runs one registered subcommand.
#include <algorithm>
#include <cstdio>

#include "vmm/base/log.h"
#include "vmm/cli/command.h"

namespace rrvm::cli {

std::vector<CommandFactory>& command_registry() {
  static std::vector<CommandFactory> registry;
  return registry;
}

}  // namespace rrvm::cli

int main(int argc, char** argv) {
  using namespace rrvm::cli;
  CLI::App app{"rrvm: a record/replay and debugging VMM for KVM"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log", log_level, "log level: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  std::vector<std::unique_ptr<Command>> commands;
  for (auto& make : command_registry()) commands.push_back(make());
  std::sort(commands.begin(), commands.end(),
            [](const auto& a, const auto& b) { return std::string(a->name()) < b->name(); });
  for (auto& cmd : commands) {
    CLI::App* sub = app.add_subcommand(cmd->name(), cmd->summary());
    cmd->add_options(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? EXIT_OK : EXIT_BAD_INPUT;
  }
  rrvm::init_logging(log_level);
  for (auto& cmd : commands) {
    if (app.got_subcommand(cmd->name())) return cmd->run();
  }
  return EXIT_BAD_INPUT;
}
