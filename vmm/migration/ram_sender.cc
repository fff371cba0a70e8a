#include "vmm/migration/ram_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <thread>

namespace rrvm::migration {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t ns_since(Clock::time_point t) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count());
}

constexpr auto RATE_SLOT = std::chrono::milliseconds(100);

}  // namespace

RamSender::RamSender(Migratable& vm, StreamWriter& writer, Progress& progress, int zstd_level)
    : vm_(vm), writer_(writer), progress_(progress), pipeline_(zstd_level) {
  for (const RamRegion& r : vm_.memory().regions())
    pending_.emplace_back((r.size / PAGE_SIZE + 63) / 64, 0);
  last_sync_ = Clock::now();
  slot_start_ = Clock::now();
}

std::optional<uint64_t> RamSender::estimate_ns(uint64_t pages) const {
  if (!have_rate_) return std::nullopt;
  return static_cast<uint64_t>(ns_per_page_ * static_cast<double>(pages));
}

Status RamSender::throttle() {
  uint64_t limit_per_slot = progress_.parameters().max_bandwidth / 10;
  if (limit_per_slot == 0) return ok_status();
  if (Clock::now() - slot_start_ >= RATE_SLOT) {
    slot_start_ = Clock::now();
    slot_bytes_ = 0;
  }
  // What is over the limit is on its way before the wait, as in QEMU (ram_save_iterate flushes
  // before the rate limiter sleeps): buffered records would otherwise sit out the wait unsent.
  if (slot_bytes_ >= limit_per_slot) RRVM_TRY(writer_.flush());
  while (slot_bytes_ >= limit_per_slot) {
    // Sleep out the slot in short steps so that a cancel is noticed promptly.
    auto slot_end = slot_start_ + RATE_SLOT;
    while (Clock::now() < slot_end) {
      if (progress_.cancel_requested()) return make_error("migration cancelled");
      std::this_thread::sleep_for(
          std::min<Clock::duration>(slot_end - Clock::now(), std::chrono::milliseconds(10)));
    }
    slot_start_ = slot_end;
    slot_bytes_ -= limit_per_slot;  // the overshoot counts against the next slot
    // migrate-set-parameters applies from the next slot, as in QEMU: a raised (or lifted) limit
    // ends a long wait for an earlier overshoot.
    limit_per_slot = progress_.parameters().max_bandwidth / 10;
    if (limit_per_slot == 0) {
      slot_bytes_ = 0;
      break;
    }
  }
  return ok_status();
}

Status RamSender::queue_run(const RunJob& job, PassResult& pass) {
  if (progress_.cancel_requested()) return make_error("migration cancelled");
  if (pipeline_.full()) RRVM_TRY(write_next(pass));
  pipeline_.submit(job);
  return ok_status();
}

Status RamSender::drain(PassResult& pass) {
  while (!pipeline_.empty()) RRVM_TRY(write_next(pass));
  return ok_status();
}

Status RamSender::write_next(PassResult& pass) {
  RRVM_ASSIGN_OR_RETURN(const EncodedRun* run, pipeline_.take());
  if (skip_all_zero_ && run->zero_pages == run->pages) {
    progress_.update([&](MigrationStats& s) { s.zero_pages += run->pages; });
    return ok_status();
  }
  uint64_t before = writer_.bytes_written();
  RRVM_TRY(writer_.write_record(RecordKind::RamRun, run->descriptor, run->payload));
  uint64_t bytes = writer_.bytes_written() - before;
  pass.pages += run->pages;
  pass.data_pages += run->pages - run->zero_pages;
  pass.bytes += bytes;
  slot_bytes_ += bytes;
  const uint64_t written = writer_.bytes_written();
  progress_.update([&](MigrationStats& s) {
    s.pages_sent += run->pages - run->zero_pages;
    s.zero_pages += run->zero_pages;
    s.ram_transferred = s.stream_bytes = written;
  });
  // As in QEMU, the rate limit is lifted once the VM is stopped: it would only add downtime.
  return vm_stopped_ ? ok_status() : throttle();
}

Status RamSender::send_region_all(size_t region, const std::optional<PageResidency>& residency,
                                  PassResult& pass) {
  const RamRegion& r = vm_.memory().regions()[region];
  const uint64_t pages = r.size / PAGE_SIZE;
  std::vector<uint64_t> maybe_data;
  if (residency) RRVM_TRY(residency->populated(r.host, pages, maybe_data));
  for (uint64_t first = 0; first < pages; first += MAX_RUN_PAGES) {
    RunJob job;
    job.gpa = r.gpa + first * PAGE_SIZE;
    job.host = r.host + first * PAGE_SIZE;
    job.pages = static_cast<uint32_t>(std::min<uint64_t>(MAX_RUN_PAGES, pages - first));
    if (residency) {
      // Runs start at multiples of MAX_RUN_PAGES, so their bits are whole words of maybe_data.
      bool any = false;
      for (uint32_t w = 0; w < (job.pages + 63) / 64; ++w) {
        job.known_zero[w] = ~maybe_data[first / 64 + w];
        any |= maybe_data[first / 64 + w] != 0;
      }
      if (!any) {  // never populated: zero without reading a byte
        progress_.update([&](MigrationStats& s) { s.zero_pages += job.pages; });
        continue;
      }
      job.has_known_zero = true;
    }
    RRVM_TRY(queue_run(job, pass));
  }
  return ok_status();
}

Result<PassResult> RamSender::send_all() {
  auto start = Clock::now();
  PassResult pass;
  std::optional<PageResidency> residency;
  if (vm_.ram_is_private_anonymous()) {
    Result<PageResidency> opened = PageResidency::open();
    if (opened.ok()) {
      residency.emplace(std::move(opened).value());
    } else {
      spdlog::debug("migration: {}; scanning every page for zeros", opened.error().describe());
    }
  }
  skip_all_zero_ = true;
  vm_stopped_ = false;
  for (size_t region = 0; region < vm_.memory().regions().size(); ++region) {
    RRVM_TRY(send_region_all(region, residency, pass));
  }
  RRVM_TRY(drain(pass));
  pass.ns = ns_since(start);
  ns_per_page_ =
      static_cast<double>(pass.ns) / static_cast<double>(std::max<uint64_t>(pass.pages, 1));
  have_rate_ = true;
  report(true);
  return pass;
}

Result<uint64_t> RamSender::sync_dirty_log() {
  const auto& regions = vm_.memory().regions();
  uint64_t newly_dirty = 0;
  for (size_t i = 0; i < regions.size(); ++i) {
    const uint64_t pages = regions[i].size / PAGE_SIZE;
    RRVM_ASSIGN_OR_RETURN(std::vector<uint64_t> bits, vm_.fetch_dirty_log(i));
    if (bits.size() != pending_[i].size()) {
      return make_error("dirty log of RAM region " + std::to_string(i) + " has " +
                        std::to_string(bits.size()) + " words, expected " +
                        std::to_string(pending_[i].size()));
    }
    if (pages % 64 != 0) bits.back() &= (uint64_t{1} << (pages % 64)) - 1;  // bits past the region
    for (size_t w = 0; w < bits.size(); ++w) {
      newly_dirty += static_cast<uint64_t>(std::popcount(bits[w]));
      pending_[i][w] |= bits[w];
    }
  }
  pending_count_ = 0;
  for (const auto& p : pending_) {
    for (uint64_t w : p) pending_count_ += static_cast<uint64_t>(std::popcount(w));
  }
  uint64_t elapsed = std::max<uint64_t>(ns_since(last_sync_), 1);
  last_sync_ = Clock::now();
  std::optional<uint64_t> expected = estimate_ns(pending_count_);
  progress_.update([&](MigrationStats& s) {
    s.dirty_pages_rate = newly_dirty * 1'000'000'000ull / elapsed;
    s.ram_remaining = pending_count_ * PAGE_SIZE;
    if (expected) s.expected_downtime_ms = *expected / 1'000'000;
  });
  return pending_count_;
}

Result<PassResult> RamSender::send_pending(bool vm_stopped) {
  auto start = Clock::now();
  PassResult pass;
  skip_all_zero_ = false;
  vm_stopped_ = vm_stopped;
  const auto& regions = vm_.memory().regions();
  for (size_t i = 0; i < regions.size(); ++i) {
    std::vector<uint64_t> to_send(pending_[i].size(), 0);
    to_send.swap(pending_[i]);
    const uint64_t pages = regions[i].size / PAGE_SIZE;
    uint64_t p = 0;
    while (p < pages) {
      uint64_t bits = to_send[p / 64] >> (p % 64);
      if (bits == 0) {
        p = (p / 64 + 1) * 64;
        continue;
      }
      p += static_cast<uint64_t>(std::countr_zero(bits));
      const uint64_t first = p;
      while (p < pages && p - first < MAX_RUN_PAGES && test_bit(to_send, p)) ++p;
      RunJob job;
      job.gpa = regions[i].gpa + first * PAGE_SIZE;
      job.host = regions[i].host + first * PAGE_SIZE;
      job.pages = static_cast<uint32_t>(p - first);
      job.stable = vm_stopped;
      RRVM_TRY(queue_run(job, pass));
    }
  }
  RRVM_TRY(drain(pass));
  pending_count_ = 0;
  pass.ns = ns_since(start);
  if (pass.pages > 0) {
    ns_per_page_ = static_cast<double>(pass.ns) / static_cast<double>(pass.pages);
    have_rate_ = true;
  }
  report(true);
  return pass;
}

void RamSender::report(bool pass_done) {
  uint64_t written = writer_.bytes_written();
  progress_.update([&](MigrationStats& s) {
    s.ram_transferred = written;
    s.stream_bytes = written;
    if (pass_done) s.ram_remaining = pending_count_ * PAGE_SIZE;
  });
}

}  // namespace rrvm::migration
