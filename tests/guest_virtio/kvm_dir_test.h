// The fixture of the guest virtio tests: each test runs the real `rrvm` (or QEMU) against files in
// a fresh directory under /tmp, and skips, saying why, where /dev/kvm cannot be opened.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace rrvm::guest_virtio {

class KvmDirTest : public ::testing::Test {
 protected:
  // `prefix` names the test's directory: /tmp/PREFIX-XXXXXX.
  explicit KvmDirTest(std::string prefix) : prefix_(std::move(prefix)) {}

  void SetUp() override {
    int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      std::printf("skipped: cannot open /dev/kvm\n");
      GTEST_SKIP() << "cannot open /dev/kvm";
    }
    ::close(fd);
    std::string tmpl = "/tmp/" + prefix_ + "-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;

 private:
  std::string prefix_;
};

}  // namespace rrvm::guest_virtio
