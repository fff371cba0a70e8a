#include "tests/e2e/rrvm_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace rrvm::e2e {

std::string kvm_unavailable_reason() {
  int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open /dev/kvm: ") + std::strerror(errno);
  ::close(fd);
  return "";
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/rrvm-e2e-XXXXXX";
  const char* made = ::mkdtemp(tmpl);
  EXPECT_NE(made, nullptr) << "mkdtemp: " << std::strerror(errno);
  path_ = made ? made : "/tmp";
}

TempDir::~TempDir() {
  if (path_ == "/tmp") return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool wait_until(const std::chrono::milliseconds& timeout, const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

RrvmProcess::RrvmProcess(const TempDir& dir, const std::string& name,
                         const std::vector<std::string>& args)
    : out_path_(dir.file(name + ".out")), err_path_(dir.file(name + ".err")) {
  command_ = "rrvm";
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(RRVM_E2E_BINARY));
  for (const auto& a : args) {
    command_ += " " + a;
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  // Everything the child needs is prepared before fork(): only async-signal-safe calls after it.
  int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_TRUE(out >= 0 && err >= 0 && null >= 0) << "opening output files in " << dir.path();
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  EXPECT_GT(pid_, 0) << "fork: " << std::strerror(errno);
  ::close(out);
  ::close(err);
  ::close(null);
}

RrvmProcess::~RrvmProcess() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
}

std::optional<int> RrvmProcess::wait(std::chrono::milliseconds timeout) {
  if (status_ || pid_ <= 0) return status_;
  wait_until(timeout, [&] {
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r != pid_) return false;
    signaled_ = WIFSIGNALED(st);
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return true;
  });
  return status_;
}

bool RrvmProcess::running() { return pid_ > 0 && !wait(std::chrono::milliseconds(0)); }

void RrvmProcess::signal(int signo) {
  if (running()) ::kill(pid_, signo);
}

std::string RrvmProcess::describe() const {
  return command_ + "\n--- stderr:\n" + err() + "--- end of stderr";
}

RunResult run_rrvm(const TempDir& dir, const std::string& name, const std::vector<std::string>& args,
                   std::chrono::milliseconds timeout) {
  RrvmProcess p(dir, name, args);
  RunResult r;
  r.status = p.wait(timeout);
  EXPECT_TRUE(r.status.has_value()) << "timed out after " << timeout.count() << " ms: "
                                    << p.describe();
  r.signaled = p.exited_by_signal();
  r.out = p.out();
  r.err = p.err();
  return r;
}

}  // namespace rrvm::e2e
