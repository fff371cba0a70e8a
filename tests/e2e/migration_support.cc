#include "tests/e2e/migration_support.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "vmm/guest/include/rrvm_boot_abi.h"

namespace rrvm::e2e {

using core::testing::backtrace_has;
using core::testing::find_event;
using core::testing::is;
using trace::EventType;
using namespace std::chrono_literals;

nlohmann::json migrate_and_wait(QmpClient& qmp, const std::string& uri,
                                std::chrono::milliseconds timeout) {
  nlohmann::json reply = qmp.execute("migrate", {{"uri", uri}});
  EXPECT_TRUE(reply.contains("return")) << "migrate " << uri << ": " << reply.dump();
  if (!reply.contains("return")) return nullptr;
  return wait_migration_end(qmp, timeout);
}

nlohmann::json migrate_iterating(QmpClient& qmp, const std::string& uri) {
  EXPECT_TRUE(qmp.ok("migrate-set-parameters", {{"downtime-limit", 1}, {"max-bandwidth", 100000}}));
  nlohmann::json reply = qmp.execute("migrate", {{"uri", uri}});
  EXPECT_TRUE(reply.contains("return")) << "migrate " << uri << ": " << reply.dump();
  if (!reply.contains("return")) return nullptr;
  nlohmann::json q;
  EXPECT_TRUE(wait_until(20s, [&] {
    q = qmp.execute("query-migrate");
    std::string status = str_field(q["return"], "status");
    return q.value(nlohmann::json::json_pointer("/return/ram/dirty-sync-count"), int64_t{0}) >= 3 ||
           (status != "setup" && status != "active");
  })) << q.dump();
  EXPECT_TRUE(qmp.ok("migrate-set-parameters", {{"downtime-limit", 300}, {"max-bandwidth", 0}}));
  return wait_migration_end(qmp, 30s);
}

std::vector<uint64_t> iteration_pages(const std::vector<TracedEvent>& ev) {
  std::vector<uint64_t> pages;
  for (size_t i : find_all(ev, 0, is(EventType::MigrationEvent, " iteration iteration="))) {
    size_t at = ev[i].text.find(" dirty_pages=");
    if (at != std::string::npos)
      pages.push_back(std::strtoull(ev[i].text.c_str() + at + 13, nullptr, 10));
  }
  return pages;
}

nlohmann::json wait_migration_end(QmpClient& qmp, std::chrono::milliseconds timeout) {
  nlohmann::json last;
  wait_until(timeout, [&] {
    nlohmann::json q = qmp.execute("query-migrate");
    if (!q.contains("return")) return true;
    last = q["return"];
    std::string status = str_field(last, "status");
    return status != "setup" && status != "active" && status != "device" &&
           status != "cancelling";
  });
  return last;
}

void expect_source_completion_sequence(const std::vector<TracedEvent>& ev) {
  long fin = find_event(ev, 0, is(EventType::RunStateChange, "running -> finish-migrate"));
  ASSERT_GE(fin, 0) << describe(ev, 0, ev.size());
  long notifier = find_event(ev, fin, is(EventType::NotifierCall, "handler=kvmclock"));
  ASSERT_GT(notifier, fin);
  EXPECT_NE(ev[notifier].text.find("state=finish-migrate"), std::string::npos)
      << ev[notifier].str();
  long get1 = find_event(ev, notifier, is(EventType::ClockAccess, "get clock="));
  ASSERT_GT(get1, notifier);
  EXPECT_TRUE(backtrace_has(ev[get1], {"kvmclock", "vm_state_notify"})) << ev[get1].str();
  long post = find_event(ev, get1, is(EventType::RunStateChange, "finish-migrate -> postmigrate"));
  ASSERT_GT(post, get1) << describe(ev, fin, ev.size());
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    SCOPED_TRACE("vcpu" + std::to_string(vcpu));
    long tsc = find_event(ev, notifier, [&](const TracedEvent& e) {
      return e.type == EventType::TscRead && e.thread_vcpu == vcpu;
    });
    EXPECT_TRUE(tsc > notifier && tsc < get1) << describe(ev, fin, get1 + 1);
    long full = find_event(
        ev, get1, is(EventType::MsrAccess, "get vcpu=" + std::to_string(vcpu) + " level=full"));
    EXPECT_TRUE(full > get1 && full < post) << describe(ev, get1, post + 1);
  }
  long first_section = find_event(ev, get1, is(EventType::SnapshotSection, "save device="));
  ASSERT_GT(first_section, get1);
  for (const char* dev : {"cpu/0", "cpu/1", "irqchip", "pit", "kvmclock", "serial"}) {
    long s = find_event(ev, get1,
                        is(EventType::SnapshotSection, std::string("save device=") + dev + " "));
    EXPECT_TRUE(s > get1 && s < post) << "section " << dev << " missing";
    if (s >= 0) {
      EXPECT_NE(ev[s].text.find(" ok"), std::string::npos) << ev[s].str();
    }
  }
  // The second KVM_GET_CLOCK is kvmclock's pre_save, inside the device sections.
  long get2 = find_event(ev, get1 + 1, is(EventType::ClockAccess, "get clock="));
  EXPECT_TRUE(get2 > first_section && get2 < post) << describe(ev, get1, post + 1);
  if (get2 >= 0) {
    EXPECT_TRUE(backtrace_has(ev[get2], {"kvmclock_pre_save"})) << ev[get2].str();
  }
  long kvmclock_section =
      find_event(ev, get1, is(EventType::SnapshotSection, "save device=kvmclock"));
  EXPECT_GT(kvmclock_section, get2);
  EXPECT_EQ(find_event(ev, fin, is(EventType::ClockAccess, "set clock=")), -1)
      << "the source must not restart its clock after a successful migration";
}

void expect_target_load_sequence(const std::vector<TracedEvent>& ev) {
  long in = find_event(ev, 0, is(EventType::RunStateChange, "-> inmigrate"));
  ASSERT_GE(in, 0) << describe(ev, 0, ev.size());
  // The load ends by leaving inmigrate: to running, or to paused (no autostart) until a `cont`.
  long loaded = find_event(ev, in, is(EventType::RunStateChange, "inmigrate -> "));
  ASSERT_GT(loaded, in) << describe(ev, in, ev.size());
  long running = find_event(ev, loaded, is(EventType::RunStateChange, "-> running"));
  ASSERT_GE(running, loaded) << describe(ev, in, ev.size());
  for (const char* dev : {"cpu/0", "cpu/1", "irqchip", "pit", "kvmclock", "serial"}) {
    long s =
        find_event(ev, in, is(EventType::SnapshotSection, std::string("load device=") + dev + " "));
    EXPECT_TRUE(s > in && s < loaded) << "load of " << dev << " missing";
  }
  long last_load = in;
  for (long s = in; (s = find_event(ev, s + 1, is(EventType::SnapshotSection, "load"))) >= 0;) {
    last_load = s;
  }
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    long put =
        find_event(ev, last_load,
                   is(EventType::MsrAccess, "put vcpu=" + std::to_string(vcpu) + " level=full"));
    EXPECT_TRUE(put > last_load && put < loaded) << describe(ev, in, running + 1);
  }
  long set = find_event(ev, running, is(EventType::ClockAccess, "set clock="));
  ASSERT_GT(set, running);
  long last_ctrl = set;
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    long ctrl =
        find_event(ev, set, is(EventType::KvmclockCtrl, "vcpu=" + std::to_string(vcpu) + " "));
    EXPECT_GT(ctrl, set);
    if (ctrl >= 0) {
      EXPECT_NE(ev[ctrl].text.find("result=0"), std::string::npos) << ev[ctrl].str();
    }
    last_ctrl = std::max(last_ctrl, ctrl);
  }
  EXPECT_GT(find_event(ev, in, is(EventType::VcpuExit)), last_ctrl)
      << "a vCPU ran before the load finished or before every KVMCLOCK_CTRL";
}

bool is_continuation(const std::string& source_console, uint64_t first_target_tick) {
  auto ticks = parse_ticks(source_console);
  uint64_t last = ticks.empty() ? 0 : ticks.back().n;
  if (first_target_tick == last + 1) return true;
  return ends_in_partial_tick(source_console) && first_target_tick == last + 2;
}

std::string make_tick_disk(const TempDir& dir) {
  std::string path = dir.file("disk.img");
  std::ofstream(path, std::ios::binary) << std::string(TICK_DISK_SECTORS * 512, '\0');
  return path;
}

std::vector<std::string> busy_guest_args(const std::string& disk) {
  std::string append =
      "tick_ms=50 scenario=virtio-rng,ticks dirty_mib=" + std::to_string(DIRTY_MIB);
  std::vector<std::string> args = {"--rng"};
  if (!disk.empty()) {
    append += " tick_disk=" + std::to_string(TICK_DISK_SECTORS);
    args.insert(args.end(), {"--disk", disk});
  }
  args.insert(args.end(), {"--append", append});
  return args;
}

std::vector<uint64_t> parse_tick_work(const std::string& console) {
  std::vector<uint64_t> out;
  size_t start = 0;
  for (size_t nl; (nl = console.find('\n', start)) != std::string::npos; start = nl + 1) {
    uint64_t n = 0;
    if (std::sscanf(console.substr(start, nl - start).c_str(), "tick-work %" SCNu64, &n) == 1) {
      out.push_back(n);
    }
  }
  return out;
}

uint64_t first_tick_after_stop(const std::string& console) {
  size_t stop = console.find("rrvm-guest: pvclock guest-stopped");
  if (stop == std::string::npos) return 0;
  auto ticks = parse_ticks(console.substr(stop));
  return ticks.empty() ? 0 : ticks.front().n;
}

void expect_dirty_ram_verified(const std::string& target_console, uint64_t source_last_work) {
  const std::string prefix =
      "rrvm-guest: dirty-ram verified pages=" + std::to_string(DIRTY_PAGES) + " tick=";
  ASSERT_EQ(count_lines(target_console, "dirty-ram verified"), 1u) << target_console;
  size_t at = target_console.find(prefix);
  ASSERT_NE(at, std::string::npos) << target_console;
  uint64_t tick = std::strtoull(target_console.c_str() + at + prefix.size(), nullptr, 10);
  EXPECT_TRUE(tick == source_last_work || tick == source_last_work + 1)
      << "verified the words of tick " << tick << ", the source completed tick "
      << source_last_work;
}

void expect_disk_handover(const std::vector<TracedEvent>& source,
                          const std::vector<TracedEvent>* target) {
  long saved = find_event(source, 0, is(EventType::SnapshotSection, "save device=virtio-blk0 "));
  ASSERT_GE(saved, 0) << describe(source, 0, source.size());
  long released = find_event(
      source, 0, is(EventType::DeviceBackend, "device=virtio-blk0 stop reason=\"disk image"));
  long post = find_event(source, 0, is(EventType::RunStateChange, "finish-migrate -> postmigrate"));
  ASSERT_GE(released, 0) << "the source never released its disk image";
  EXPECT_TRUE(saved < released && released < post) << describe(source, saved, source.size());
  EXPECT_NE(source[released].text.find("lock released"), std::string::npos)
      << source[released].str();
  EXPECT_TRUE(backtrace_has(source[released], {"bdrv_inactivate_all", "migration_completion"}))
      << source[released].str();
  if (!target) return;
  const auto& ev = *target;
  long loaded = find_event(ev, 0, is(EventType::SnapshotSection, "load device=virtio-blk0 "));
  long taken = find_event(
      ev, 0, is(EventType::DeviceBackend, "device=virtio-blk0 start reason=\"disk image"));
  // Before the load ends (to running, or to paused without autostart): no vCPU runs without it.
  long load_end = find_event(ev, 0, is(EventType::RunStateChange, "inmigrate -> "));
  ASSERT_GE(taken, 0) << "the target never took the disk image";
  EXPECT_TRUE(loaded >= 0 && loaded < taken && taken < load_end) << describe(ev, 0, ev.size());
  EXPECT_NE(ev[taken].text.find("exclusive lock taken"), std::string::npos) << ev[taken].str();
  EXPECT_TRUE(backtrace_has(ev[taken], {"bdrv_activate_all"})) << ev[taken].str();
}

void expect_tick_records(const std::string& image, uint64_t last_tick, uint64_t source_last_work,
                         uint64_t target_checked_tick) {
  std::string bytes = read_file(image);
  ASSERT_EQ(bytes.size(), TICK_DISK_SECTORS * 512);
  ASSERT_LT(last_tick, TICK_DISK_SECTORS);
  ASSERT_LT(source_last_work, target_checked_tick);
  uint64_t previous_ns = 0;
  for (uint64_t n = 1; n <= last_tick; ++n) {
    SCOPED_TRACE("sector " + std::to_string(n));
    uint64_t w[RRVM_TICK_RECORD_WORDS];
    std::memcpy(w, bytes.data() + n * 512, sizeof w);
    ASSERT_EQ(w[0], RRVM_TICK_RECORD_MAGIC);
    ASSERT_EQ(w[1], n);
    EXPECT_EQ(w[RRVM_TICK_RECORD_SUM_WORD], rrvm_tick_record_sum(w));
    for (uint64_t i = RRVM_TICK_RECORD_FIRST_FILL; i < RRVM_TICK_RECORD_SUM_WORD; ++i) {
      ASSERT_EQ(w[i], rrvm_tick_record_fill(n, i)) << "word " << i;
    }
    EXPECT_GT(w[2], previous_ns) << "kvmclock went backwards between ticks " << n - 1 << " and "
                                 << n;
    previous_ns = w[2];
    if (n <= source_last_work) {
      EXPECT_EQ(w[3], 0u) << "the source wrote it";
    }
    if (n >= target_checked_tick) {
      EXPECT_EQ(w[3], 1u) << "the target wrote it";
    }
  }
}

}  // namespace rrvm::e2e
