// `rrvm restore FILE [run options]`: `rrvm run --incoming file:FILE` with the same options.
//
// The VM options (--mem, --cpus, --disk, --rng) must describe the VM the snapshot was taken of;
// the snapshot's header is checked against them before any RAM is loaded, and a mismatch or a
// corrupt file ends rrvm with status 1 and a message naming the file, before any vCPU runs.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>

#include "vmm/base/fd.h"
#include "vmm/cli/command.h"
#include "vmm/cli/run_options.h"

namespace rrvm::cli {
namespace {

// A missing or unreadable file is found here, before KVM and the VM are set up, so the error is
// about the file rather than about a failed migration.
Status check_snapshot_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return errno_error("cannot open the snapshot " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("fstat of the snapshot " + path);
  if (!S_ISREG(st.st_mode)) return make_error("the snapshot " + path + " is not a regular file");
  return ok_status();
}

class RestoreCommand final : public Command {
 public:
  const char* name() const override { return "restore"; }
  const char* summary() const override {
    return "restore a VM from a snapshot file (rrvm run --incoming file:FILE)";
  }

  void add_options(CLI::App& app) override {
    app.add_option("FILE", file_, "snapshot file (from rrvm snapshot or QMP migrate file:)")
        ->required();
    options_.add_to(app, /*with_incoming=*/false);
  }

  int run() override {
    if (Status st = check_snapshot_file(file_); !st.ok()) {
      std::fprintf(stderr, "rrvm restore: %s\n", st.error().describe().c_str());
      return EXIT_BAD_INPUT;
    }
    options_.set_incoming("file:" + file_);
    auto config = options_.make_config();
    if (!config.ok()) {
      std::fprintf(stderr, "rrvm restore: %s\n", config.error().describe().c_str());
      return EXIT_BAD_INPUT;
    }
    return run_machine("rrvm restore", *config);
  }

 private:
  std::string file_;
  RunOptions options_;
};
RRVM_REGISTER_COMMAND(RestoreCommand);

}  // namespace
}  // namespace rrvm::cli
