// A subcommand of the `rrvm` executable (rr style: `rrvm run`, `rrvm dump`, ...).
//
// Each subcommand is one file that defines a Command subclass and registers it with
// RRVM_REGISTER_COMMAND. main() builds the CLI11 parser from the registry.
//
// Exit codes: 0 success, 1 the operation failed (e.g. the guest failed), 2 bad input or usage
// (a corrupt trace, a bad flag), 3 an environment problem (no /dev/kvm).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vmm/base/result.h"

namespace rrvm::cli {

inline constexpr int EXIT_OK = 0;
inline constexpr int EXIT_FAILED = 1;
inline constexpr int EXIT_BAD_INPUT = 2;
inline constexpr int EXIT_ENVIRONMENT = 3;

class Command {
 public:
  virtual ~Command() = default;
  virtual const char* name() const = 0;
  virtual const char* summary() const = 0;
  // Declares the subcommand's options on `app` (a CLI11 subcommand).
  virtual void add_options(CLI::App& app) = 0;
  // Runs after parsing; returns the process exit code.
  virtual int run() = 0;
};

// Ends a subcommand on bad input: prints "rrvm COMMAND: ERROR" on stderr after whatever stdout
// holds so far (so the message follows the output it concerns) and returns EXIT_BAD_INPUT.
inline int fail_bad_input(const char* command, const Error& error) {
  std::fflush(stdout);
  std::fprintf(stderr, "rrvm %s: %s\n", command, error.describe().c_str());
  return EXIT_BAD_INPUT;
}

using CommandFactory = std::function<std::unique_ptr<Command>()>;

// Registered at static-initialization time by RRVM_REGISTER_COMMAND.
std::vector<CommandFactory>& command_registry();

struct CommandRegistrar {
  explicit CommandRegistrar(CommandFactory f) { command_registry().push_back(std::move(f)); }
};

}  // namespace rrvm::cli

#define RRVM_REGISTER_COMMAND(Type)                           \
  static ::rrvm::cli::CommandRegistrar rrvm_registrar_##Type( \
      [] { return std::unique_ptr<::rrvm::cli::Command>(new Type()); })
