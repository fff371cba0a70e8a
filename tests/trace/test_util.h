// Helpers for the trace tests: temporary paths, file bytes, running commands.
#pragma once

#include <string>
#include <vector>

namespace rrvm::trace::testing {

// A fresh path under the test temp dir (the file does not exist yet).
std::string temp_path(const std::string& stem);
std::string read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::string& bytes);

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
// Runs a shell command line and captures its exit code and output.
CommandResult run_command(const std::string& command_line);

std::vector<std::string> split_lines(const std::string& text);

}  // namespace rrvm::trace::testing
