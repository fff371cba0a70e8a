// Bad input to `rrvm run`: each is refused with a clear message naming what was wrong and a
// non-zero exit (never a crash); broken QMP input gets an error reply and the VM keeps running.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/e2e/e2e_test_support.h"

namespace rrvm::e2e {
namespace {

using namespace std::chrono_literals;

// rrvm refused the command line: exit status 2 (bad input), stderr naming each of `words`, and
// the guest never printed anything. Files and sizes are checked before /dev/kvm is opened, so
// those tests run on hosts without KVM too; the vCPU limit is KVM's and needs it.
// `args` may replace the default --no-trace with a --trace of their own.
void expect_refused(const TempDir& dir, std::vector<std::string> args,
                    const std::vector<std::string>& words) {
  std::string console = dir.file("console");
  std::vector<std::string> full = {"run", "--serial", console};
  if (std::find(args.begin(), args.end(), "--trace") == args.end()) full.push_back("--no-trace");
  full.insert(full.end(), args.begin(), args.end());
  RunResult r = run_rrvm(dir, "bad", full);
  ASSERT_TRUE(r.status.has_value());
  EXPECT_NE(*r.status, 0) << r.err;
  EXPECT_FALSE(r.signaled) << "rrvm crashed: " << r.err;
  EXPECT_EQ(*r.status, 2) << r.err;  // bad input, not a host without KVM (3)
  for (const auto& w : words)
    EXPECT_NE(r.err.find(w), std::string::npos) << "no '" << w << "' in: " << r.err;
  EXPECT_EQ(read_file(console), "") << "the guest ran";
}

TEST(E2eBadInput, MissingKernelFile) {
  TempDir dir;
  expect_refused(dir, {"--kernel", dir.file("no-such-kernel")},
                 {dir.file("no-such-kernel"), "No such file"});
}

TEST(E2eBadInput, KernelThatIsNotElfNorBzImage) {
  TempDir dir;
  std::string kernel = dir.file("kernel.txt");
  std::ofstream(kernel) << "this is not a kernel\n" << std::string(4096, 'x');
  expect_refused(dir, {"--kernel", kernel}, {kernel, "not a kernel"});
}

TEST(E2eBadInput, InitrdLargerThanGuestMemory) {
  TempDir dir;
  std::string initrd = dir.file("initrd.img");
  std::ofstream(initrd).put('\0');
  std::filesystem::resize_file(initrd, 64u << 20);  // sparse: larger than the 32 MiB guest
  expect_refused(dir, {"--mem", "32M", "--initrd", initrd}, {"initrd", initrd});
}

TEST(E2eBadInput, MissingDiskImageOrADirectory) {
  TempDir dir;
  expect_refused(dir, {"--disk", dir.file("no-such.img")},
                 {"virtio-blk0: open disk image " + dir.file("no-such.img"), "No such file"});
  std::string dir_as_disk = dir.path();
  expect_refused(dir, {"--disk", dir_as_disk}, {"virtio-blk0", dir_as_disk});
}

TEST(E2eBadInput, TraceQmpOrSerialPathInAMissingDirectory) {
  TempDir dir;
  std::string missing = dir.file("no-such-dir");
  expect_refused(dir, {"--trace", missing + "/t.rrtrace"},
                 {"trace " + missing + "/t.rrtrace", "No such file"});
  expect_refused(dir, {"--qmp", missing + "/qmp.sock"}, {"QMP socket " + missing + "/qmp.sock"});
  std::string console = missing + "/console";
  RunResult r = run_rrvm(dir, "bad-serial", {"run", "--no-trace", "--serial", console});
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("serial output " + console), std::string::npos) << r.err;
}

TEST(E2eBadInput, MemoryTooSmall) {
  TempDir dir;
  expect_refused(dir, {"--mem", "1M"}, {"--mem", "too small"});
}

TEST(E2eBadInput, MoreVcpusThanKvmAllows) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  expect_refused(dir, {"--cpus", "10000"}, {"--cpus 10000", "vCPUs"});
}

// QMP: a line that is not JSON, a command that does not exist and one with a wrong argument each
// get an error reply on the same session; the VM keeps running and ticking.
TEST(E2eBadInput, BrokenQmpLinesGetErrorsAndTheVmKeepsRunning) {
  RRVM_E2E_REQUIRE_KVM();
  TempDir dir;
  VmFiles f = vm_files(dir, "vm");
  RrvmProcess vm(dir, "vm", vm_args(f, {"--append", "tick_ms=50"}));
  QmpClient qmp;
  ASSERT_EQ(qmp.connect(f.qmp, 10s), "") << vm.describe();
  ASSERT_GE(wait_ticks(f.console, 1, 20s).size(), 1u);

  // A complete object that is not valid JSON (an unfinished one would, as in QEMU, wait for
  // more input).
  nlohmann::json broken = qmp.send_raw("{\"execute\": }");
  ASSERT_TRUE(broken.contains("error")) << broken.dump();
  EXPECT_EQ(broken["error"]["class"], "GenericError") << broken.dump();
  nlohmann::json garbage = qmp.send_raw("\x01\x02 not json at all");
  EXPECT_TRUE(garbage.contains("error")) << garbage.dump();
  nlohmann::json unknown = qmp.execute("no-such-command");
  ASSERT_TRUE(unknown.contains("error")) << unknown.dump();
  EXPECT_EQ(unknown["error"]["class"], "CommandNotFound") << unknown.dump();
  EXPECT_NE(str_field(unknown["error"], "desc").find("no-such-command"), std::string::npos);
  nlohmann::json bad_arg = qmp.execute("migrate", {{"uri", 42}});
  EXPECT_TRUE(bad_arg.contains("error")) << bad_arg.dump();

  EXPECT_EQ(qmp.status(), "running");
  size_t seen = parse_ticks(read_file(f.console)).size();
  EXPECT_GT(wait_ticks(f.console, seen + 2, 10s).size(), seen + 1) << "the guest stopped ticking";
  EXPECT_TRUE(qmp.ok("quit"));
  EXPECT_EQ(vm.wait(20s), 0) << vm.describe();
}

}  // namespace
}  // namespace rrvm::e2e
