// FakeMigratable: a Migratable with real guest RAM and made-up devices, for the migration tests,
// benchmark and fuzz target. No KVM.
//
// - RAM: GuestMemory (private anonymous), optionally split in two regions like the pc machine.
// - A "vCPU" writer thread that keeps dirtying pages of a working set while the VM is running,
//   and tracks them in its own dirty log the way KVM does (the bit is set after the write lands,
//   so a fetch never misses a write). vm_stop_force_state() waits until it is quiescent.
// - Sections: bytes a test chooses (source) or that were loaded (target); failures injectable.
// - Every call is logged, so tests can check QEMU's order.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vmm/migration/migratable.h"

namespace rrvm::migration::testing {

class FakeMigratable : public Migratable {
 public:
  struct Options {
    uint64_t memory_bytes = 64ull << 20;
    // RAM above this gpa continues at 4 GiB (a second region), as GuestMemory::allocate does.
    uint64_t hole_start = 3ull << 30;
    uint32_t vcpus = 2;
    std::string cpu_vendor = "FakeCpuVendor";
    std::vector<SectionInfo> sections = {{"cpu/0"}, {"cpu/1"}, {"kvmclock"}, {"serial"}};
    trace::RunState initial_state = trace::RunState::Running;
    // Whether the "disk images" start held: false models an incoming VM (`--incoming`), which
    // opens its images unlocked and must activate_disks() before it runs.
    bool disks_active = true;
  };

  static Result<std::unique_ptr<FakeMigratable>> create(const Options& options);
  // A 1 MiB VM with two vCPUs and four sections, in Prelaunch: the VM of the snapshot fuzz target
  // and of its seed corpus (fuzz/seeds/snapshot_fuzz/).
  static Options small_target_options();
  ~FakeMigratable() override;

  // ---- test controls
  // Starts the writer: while Running, it writes pseudo-random data to pages of
  // [first_page, first_page + pages) of region 0 (`rate_pages_per_ms` pages per millisecond, 0
  // for as fast as it can).
  void start_writer(uint64_t first_page, uint64_t pages, uint32_t rate_pages_per_ms, uint64_t seed);
  void stop_writer();
  uint64_t pages_written() const { return pages_written_.load(); }
  // Fills `pages` pages from gpa with pseudo-random bytes (not tracked as dirty: use before a
  // migration starts).
  void fill_random(uint64_t gpa, uint64_t pages, uint64_t seed);

  void set_section_data(const std::string& name, std::vector<uint8_t> data);
  std::vector<uint8_t> section_data(const std::string& name) const;
  void fail_save(const std::string& section, const std::string& error);
  void fail_load(const std::string& section, const std::string& error);
  // activate_disks() fails with `error` (empty: succeeds again).
  void fail_activate_disks(const std::string& error);
  // False between inactivate_disks() and a successful activate_disks(); vm_start() refuses then.
  bool disks_active() const { return disks_active_.load(); }
  std::vector<std::string> calls() const;
  void clear_calls();
  // The RAM image, region by region.
  std::vector<uint8_t> ram_image() const;
  // What autostart() answers (a target's `--no-autostart` when false).
  std::atomic<bool> autostart_on{true};

  // ---- Migratable
  VmDescription describe() const override;
  const GuestMemory& memory() const override { return memory_; }
  bool ram_is_private_anonymous() const override { return true; }
  trace::RunState run_state() const override { return state_.load(); }
  bool autostart() const override { return autostart_on.load(); }
  Status set_run_state(trace::RunState state, std::string_view reason) override;
  Status vm_start(std::string_view reason) override;
  Status start_dirty_log() override;
  Result<std::vector<uint64_t>> fetch_dirty_log(size_t region) override;
  Status stop_dirty_log() override;
  Status vm_stop_force_state(trace::RunState state, std::string_view reason) override;
  Status cpu_synchronize_all_states() override;
  Status inactivate_disks() override;
  Status activate_disks() override;
  Result<std::vector<uint8_t>> save_section(const SectionInfo& section) override;
  Status load_section(const SectionInfo& section, uint32_t version,
                      std::span<const uint8_t> data) override;
  Status cpu_synchronize_all_post_init() override;

 private:
  explicit FakeMigratable(const Options& options);
  void log(std::string call);
  Status change_state(trace::RunState to);
  void writer_loop(uint64_t first_page, uint64_t pages, uint32_t rate, uint64_t seed);
  void mark_dirty(uint64_t page);

  Options options_;
  GuestMemory memory_;
  std::atomic<trace::RunState> state_;

  mutable std::mutex mu_;  // sections, failures, calls
  std::map<std::string, std::vector<uint8_t>> sections_;
  std::map<std::string, std::string> save_failures_;
  std::map<std::string, std::string> load_failures_;
  std::vector<std::string> calls_;
  std::string activate_failure_;
  std::atomic<bool> disks_active_;

  // Dirty log of region 0 (the writer only writes there), one atomic word per 64 pages.
  std::unique_ptr<std::atomic<uint64_t>[]> dirty_;
  size_t dirty_words_ = 0;
  std::atomic<bool> logging_{false};

  // The writer runs while `vcpus_running_`; stop waits until it is between writes.
  std::mutex write_mu_;
  std::condition_variable write_cv_;
  bool vcpus_running_ = false;
  bool writer_exit_ = false;
  std::thread writer_;
  std::atomic<uint64_t> pages_written_{0};
};

}  // namespace rrvm::migration::testing
