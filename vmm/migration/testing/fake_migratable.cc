#include "vmm/migration/testing/fake_migratable.h"

#include <chrono>
#include <cstring>

#include "trace/names.h"
#include "vmm/base/tsan.h"
#include "vmm/core/run_state.h"
#include "vmm/migration/format.h"

namespace rrvm::migration::testing {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void fill_page(uint8_t* page, uint64_t& rng) {
  for (size_t i = 0; i < PAGE_SIZE; i += 8) {
    uint64_t v = splitmix64(rng);
    std::memcpy(page + i, &v, 8);
  }
}

}  // namespace

Result<std::unique_ptr<FakeMigratable>> FakeMigratable::create(const Options& options) {
  std::unique_ptr<FakeMigratable> vm(new FakeMigratable(options));
  RRVM_ASSIGN_OR_RETURN(vm->memory_,
                        GuestMemory::allocate(options.memory_bytes, options.hole_start));
  uint64_t pages = vm->memory_.regions()[0].size / PAGE_SIZE;
  vm->dirty_words_ = (pages + 63) / 64;
  vm->dirty_ = std::make_unique<std::atomic<uint64_t>[]>(vm->dirty_words_);
  for (size_t i = 0; i < vm->dirty_words_; ++i) vm->dirty_[i].store(0);
  for (const SectionInfo& s : options.sections) {
    std::string text = "state of " + s.name;
    vm->sections_[s.name] = std::vector<uint8_t>(text.begin(), text.end());
  }
  return vm;
}

FakeMigratable::Options FakeMigratable::small_target_options() {
  Options o;
  o.memory_bytes = 1ull << 20;
  o.initial_state = trace::RunState::Prelaunch;
  return o;
}

FakeMigratable::FakeMigratable(const Options& options)
    : options_(options),
      state_(options.initial_state),
      disks_active_(options.disks_active),
      vcpus_running_(options.initial_state == trace::RunState::Running) {}

FakeMigratable::~FakeMigratable() { stop_writer(); }

void FakeMigratable::log(std::string call) {
  std::lock_guard lock(mu_);
  calls_.push_back(std::move(call));
}

std::vector<std::string> FakeMigratable::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

void FakeMigratable::clear_calls() {
  std::lock_guard lock(mu_);
  calls_.clear();
}

void FakeMigratable::start_writer(uint64_t first_page, uint64_t pages, uint32_t rate_pages_per_ms,
                                  uint64_t seed) {
  RRVM_CHECK(!writer_.joinable());
  RRVM_CHECK(pages > 0 && (first_page + pages) * PAGE_SIZE <= memory_.regions()[0].size);
  writer_ = std::thread([=, this] { writer_loop(first_page, pages, rate_pages_per_ms, seed); });
}

void FakeMigratable::stop_writer() {
  {
    std::lock_guard lock(write_mu_);
    writer_exit_ = true;
  }
  write_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  std::lock_guard lock(write_mu_);
  writer_exit_ = false;
}

void FakeMigratable::mark_dirty(uint64_t page) {
  if (logging_.load(std::memory_order_acquire)) {
    dirty_[page / 64].fetch_or(uint64_t{1} << (page % 64), std::memory_order_release);
  }
}

void FakeMigratable::writer_loop(uint64_t first_page, uint64_t pages, uint32_t rate,
                                 uint64_t seed) {
  uint64_t rng = seed;
  uint8_t* base = memory_.regions()[0].host;
  uint32_t in_batch = 0;
  while (true) {
    {
      std::unique_lock lock(write_mu_);
      write_cv_.wait(lock, [&] { return vcpus_running_ || writer_exit_; });
      if (writer_exit_) return;
      uint64_t page = first_page + splitmix64(rng) % pages;
      uint64_t n = pages_written_.fetch_add(1);
      {
        // The guest's own store, unsynchronised with the migration thread's reads as a real
        // guest's is (only the dirty log below orders them): invisible to TSan (vmm/base/tsan.h).
        GuestWriteScope as_guest;
        // Every 7th write clears the page: later passes must send zero pages explicitly.
        if (n % 7 == 6) {
          std::memset(base + page * PAGE_SIZE, 0, PAGE_SIZE);
        } else {
          fill_page(base + page * PAGE_SIZE, rng);
        }
      }
      // After the write, as KVM's log behaves: a fetch that clears this bit sees the new data.
      mark_dirty(page);
    }
    if (rate != 0 && ++in_batch >= rate) {
      in_batch = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

void FakeMigratable::fill_random(uint64_t gpa, uint64_t pages, uint64_t seed) {
  uint64_t rng = seed;
  auto span = memory_.slice(gpa, pages * PAGE_SIZE);
  RRVM_CHECK(span.ok());
  for (uint64_t i = 0; i < pages; ++i) fill_page(span->data() + i * PAGE_SIZE, rng);
}

void FakeMigratable::set_section_data(const std::string& name, std::vector<uint8_t> data) {
  std::lock_guard lock(mu_);
  sections_[name] = std::move(data);
}

std::vector<uint8_t> FakeMigratable::section_data(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = sections_.find(name);
  return it == sections_.end() ? std::vector<uint8_t>{} : it->second;
}

void FakeMigratable::fail_save(const std::string& section, const std::string& error) {
  std::lock_guard lock(mu_);
  save_failures_[section] = error;
}

void FakeMigratable::fail_load(const std::string& section, const std::string& error) {
  std::lock_guard lock(mu_);
  load_failures_[section] = error;
}

std::vector<uint8_t> FakeMigratable::ram_image() const {
  std::vector<uint8_t> out;
  out.reserve(memory_.total_size());
  for (const RamRegion& r : memory_.regions()) out.insert(out.end(), r.host, r.host + r.size);
  return out;
}

VmDescription FakeMigratable::describe() const {
  return VmDescription{memory_.total_size(), options_.vcpus, options_.cpu_vendor,
                       options_.sections};
}

Status FakeMigratable::change_state(trace::RunState to) {
  trace::RunState from = state_.load();
  if (from != to && !core::run_state_transition_allowed(from, to)) {
    return make_error(std::string("illegal run state change ") +
                      std::string(trace::run_state_name(from)) + " -> " +
                      std::string(trace::run_state_name(to)));
  }
  state_.store(to);
  return ok_status();
}

Status FakeMigratable::set_run_state(trace::RunState state, std::string_view) {
  log("set_run_state " + std::string(trace::run_state_name(state)));
  return change_state(state);
}

Status FakeMigratable::vm_start(std::string_view) {
  log("vm_start");
  if (!disks_active_.load()) return make_error("vm_start with inactive disk images");
  RRVM_TRY(change_state(trace::RunState::Running));
  {
    std::lock_guard lock(write_mu_);
    vcpus_running_ = true;
  }
  write_cv_.notify_all();
  return ok_status();
}

Status FakeMigratable::vm_stop_force_state(trace::RunState state, std::string_view) {
  log("vm_stop_force_state " + std::string(trace::run_state_name(state)));
  RRVM_TRY(change_state(state));
  // Taking the lock waits out a write in progress: after this, RAM does not change.
  std::lock_guard lock(write_mu_);
  vcpus_running_ = false;
  return ok_status();
}

Status FakeMigratable::start_dirty_log() {
  log("start_dirty_log");
  for (size_t i = 0; i < dirty_words_; ++i) dirty_[i].store(0);
  logging_.store(true, std::memory_order_release);
  return ok_status();
}

Result<std::vector<uint64_t>> FakeMigratable::fetch_dirty_log(size_t region) {
  log("fetch_dirty_log " + std::to_string(region));
  if (region >= memory_.regions().size())
    return make_error("no RAM region " + std::to_string(region));
  uint64_t pages = memory_.regions()[region].size / PAGE_SIZE;
  std::vector<uint64_t> bits((pages + 63) / 64, 0);
  if (region == 0) {
    for (size_t i = 0; i < dirty_words_; ++i)
      bits[i] = dirty_[i].exchange(0, std::memory_order_acq_rel);
  }
  return bits;
}

Status FakeMigratable::stop_dirty_log() {
  log("stop_dirty_log");
  logging_.store(false, std::memory_order_release);
  return ok_status();
}

Status FakeMigratable::cpu_synchronize_all_states() {
  log("cpu_synchronize_all_states");
  return ok_status();
}

Status FakeMigratable::inactivate_disks() {
  log("inactivate_disks");
  disks_active_.store(false);
  return ok_status();
}

Status FakeMigratable::activate_disks() {
  log("activate_disks");
  std::lock_guard lock(mu_);
  if (!activate_failure_.empty()) return make_error(activate_failure_);
  disks_active_.store(true);
  return ok_status();
}

void FakeMigratable::fail_activate_disks(const std::string& error) {
  std::lock_guard lock(mu_);
  activate_failure_ = error;
}

Result<std::vector<uint8_t>> FakeMigratable::save_section(const SectionInfo& section) {
  log("save_section " + section.name);
  std::lock_guard lock(mu_);
  if (auto it = save_failures_.find(section.name); it != save_failures_.end())
    return make_error(it->second);
  return sections_[section.name];
}

Status FakeMigratable::load_section(const SectionInfo& section, uint32_t version,
                                    std::span<const uint8_t> data) {
  log("load_section " + section.name + " v" + std::to_string(version));
  std::lock_guard lock(mu_);
  if (auto it = load_failures_.find(section.name); it != load_failures_.end())
    return make_error(it->second);
  sections_[section.name].assign(data.begin(), data.end());
  return ok_status();
}

Status FakeMigratable::cpu_synchronize_all_post_init() {
  log("cpu_synchronize_all_post_init");
  return ok_status();
}

}  // namespace rrvm::migration::testing
