#include "tests/e2e/migration_support.h"

#include <thread>

namespace rrvm::e2e {

using core::testing::backtrace_has;
using core::testing::find_event;
using core::testing::is;
using trace::EventType;

nlohmann::json migrate_and_wait(QmpClient& qmp, const std::string& uri,
                                std::chrono::milliseconds timeout) {
  nlohmann::json reply = qmp.execute("migrate", {{"uri", uri}});
  EXPECT_TRUE(reply.contains("return")) << "migrate " << uri << ": " << reply.dump();
  if (!reply.contains("return")) return nullptr;
  nlohmann::json last;
  wait_until(timeout, [&] {
    nlohmann::json q = qmp.execute("query-migrate");
    if (!q.contains("return")) return true;
    last = q["return"];
    std::string status = str_field(last, "status");
    return status != "setup" && status != "active" && status != "device";
  });
  return last;
}

void expect_source_completion_sequence(const std::vector<TracedEvent>& ev) {
  long fin = find_event(ev, 0, is(EventType::RunStateChange, "running -> finish-migrate"));
  ASSERT_GE(fin, 0) << describe(ev, 0, ev.size());
  long notifier = find_event(ev, fin, is(EventType::NotifierCall, "handler=kvmclock"));
  ASSERT_GT(notifier, fin);
  EXPECT_NE(ev[notifier].text.find("state=finish-migrate"), std::string::npos) << ev[notifier].str();
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
    long full = find_event(ev, get1, is(EventType::MsrAccess, "get vcpu=" + std::to_string(vcpu) + " level=full"));
    EXPECT_TRUE(full > get1 && full < post) << describe(ev, get1, post + 1);
  }
  long first_section = find_event(ev, get1, is(EventType::SnapshotSection, "save device="));
  ASSERT_GT(first_section, get1);
  for (const char* dev : {"cpu/0", "cpu/1", "irqchip", "pit", "kvmclock", "serial"}) {
    long s = find_event(ev, get1, is(EventType::SnapshotSection, std::string("save device=") + dev + " "));
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
  long kvmclock_section = find_event(ev, get1, is(EventType::SnapshotSection, "save device=kvmclock"));
  EXPECT_GT(kvmclock_section, get2);
  EXPECT_EQ(find_event(ev, fin, is(EventType::ClockAccess, "set clock=")), -1)
      << "the source must not restart its clock after a successful migration";
}

void expect_target_load_sequence(const std::vector<TracedEvent>& ev) {
  long in = find_event(ev, 0, is(EventType::RunStateChange, "-> inmigrate"));
  ASSERT_GE(in, 0) << describe(ev, 0, ev.size());
  long running = find_event(ev, in, is(EventType::RunStateChange, "inmigrate -> running"));
  ASSERT_GT(running, in) << describe(ev, in, ev.size());
  for (const char* dev : {"cpu/0", "cpu/1", "irqchip", "pit", "kvmclock", "serial"}) {
    long s = find_event(ev, in, is(EventType::SnapshotSection, std::string("load device=") + dev + " "));
    EXPECT_TRUE(s > in && s < running) << "load of " << dev << " missing";
  }
  long last_load = in;
  for (long s = in; (s = find_event(ev, s + 1, is(EventType::SnapshotSection, "load"))) >= 0;) {
    last_load = s;
  }
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    long put = find_event(ev, last_load, is(EventType::MsrAccess, "put vcpu=" + std::to_string(vcpu) + " level=full"));
    EXPECT_TRUE(put > last_load && put < running) << describe(ev, in, running + 1);
  }
  long set = find_event(ev, running, is(EventType::ClockAccess, "set clock="));
  ASSERT_GT(set, running);
  long last_ctrl = set;
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    long ctrl = find_event(ev, set, is(EventType::KvmclockCtrl, "vcpu=" + std::to_string(vcpu) + " "));
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

}  // namespace rrvm::e2e
