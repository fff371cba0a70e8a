// Runs the real `rrvm` binary as a child process for end-to-end tests: its stdout and stderr go to
// files in a per-test temporary directory, so a test can read them while it runs and after it ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace rrvm::e2e {

// The empty string when /dev/kvm can be opened read-write, else why not (for GTEST_SKIP).
std::string kvm_unavailable_reason();

// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);  // "" when it cannot be read

// Polls `pred` every 5 ms until it holds or `timeout` passes; returns its last value.
bool wait_until(const std::chrono::milliseconds& timeout, const std::function<bool()>& pred);

class RrvmProcess {
 public:
  // Starts `rrvm ARGS...` with stdout/stderr in DIR/NAME.out and DIR/NAME.err.
  RrvmProcess(const TempDir& dir, const std::string& name, const std::vector<std::string>& args);
  ~RrvmProcess();  // SIGKILLs and reaps a child still running
  RrvmProcess(const RrvmProcess&) = delete;
  RrvmProcess& operator=(const RrvmProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // Waits for the exit; nullopt on timeout (the child keeps running). The value is the exit
  // status, or 128 + signal for a child killed by a signal.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  void signal(int signo);
  bool exited_by_signal() const { return signaled_; }
  std::string out() const { return read_file(out_path_); }
  std::string err() const { return read_file(err_path_); }
  // "rrvm ARGS" and its stderr, for assertion messages.
  std::string describe() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  bool signaled_ = false;
  std::string command_;
  std::string out_path_;
  std::string err_path_;
};

// Runs rrvm to completion (killed after `timeout`, which fails the calling test).
struct RunResult {
  std::optional<int> status;
  bool signaled = false;
  std::string out;
  std::string err;
};
RunResult run_rrvm(const TempDir& dir, const std::string& name, const std::vector<std::string>& args,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace rrvm::e2e
