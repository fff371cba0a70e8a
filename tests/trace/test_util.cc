#include "tests/trace/test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace rrvm::trace::testing {

std::string temp_path(const std::string& stem) {
  static std::atomic<int> counter{0};
  return ::testing::TempDir() + "rrvm-" + std::to_string(getpid()) + "-" +
         std::to_string(counter++) + "-" + stem;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

CommandResult run_command(const std::string& command_line) {
  std::string out_path = temp_path("stdout");
  std::string err_path = temp_path("stderr");
  std::string cmd = command_line + " >" + out_path + " 2>" + err_path;
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_bytes(out_path);
  r.err = read_bytes(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

}  // namespace rrvm::trace::testing
