#include "tests/e2e/stop_cont_sequence.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace rrvm::e2e {

using core::testing::backtrace_has;
using core::testing::find_event;
using core::testing::is;
using trace::EventType;

long expect_stop_sequence(const std::vector<TracedEvent>& ev, long from) {
  long stop =
      find_event(ev, from, is(EventType::RunStateChange, "running -> paused reason=\"qmp:stop\""));
  EXPECT_GE(stop, 0) << describe(ev, from, ev.size());
  if (stop < 0) return -1;
  long notifier = find_event(ev, stop, is(EventType::NotifierCall, "handler=kvmclock"));
  EXPECT_GE(notifier, 0);
  if (notifier < 0) return -1;
  EXPECT_NE(ev[notifier].text.find("running=false state=paused"), std::string::npos)
      << ev[notifier].str();
  EXPECT_TRUE(backtrace_has(ev[notifier], {"kvmclock", "vm_state_notify"})) << ev[notifier].str();
  long get = find_event(ev, notifier, is(EventType::ClockAccess, "get clock="));
  EXPECT_GE(get, 0) << describe(ev, notifier, ev.size());
  if (get < 0) return -1;
  EXPECT_TRUE(backtrace_has(ev[get], {"kvmclock", "vm_state_notify"})) << ev[get].str();
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    long tsc = find_event(ev, notifier, [&](const TracedEvent& e) {
      return e.type == EventType::TscRead && e.thread_vcpu == vcpu;
    });
    EXPECT_TRUE(tsc > notifier && tsc < get)
        << "TSC read on vcpu" << vcpu
        << " thread must come between the notifier and KVM_GET_CLOCK:\n"
        << describe(ev, stop, get + 1);
    if (tsc >= 0) {
      EXPECT_TRUE(backtrace_has(ev[tsc], {"kvmclock"})) << ev[tsc].str();
    }
  }
  return get + 1;
}

long expect_cont_sequence(const std::vector<TracedEvent>& ev, long from) {
  long cont =
      find_event(ev, from, is(EventType::RunStateChange, "paused -> running reason=\"qmp:cont\""));
  EXPECT_GE(cont, 0) << describe(ev, from, ev.size());
  if (cont < 0) return -1;
  long set = find_event(ev, cont, is(EventType::ClockAccess, "set clock="));
  EXPECT_GE(set, 0);
  if (set < 0) return -1;
  EXPECT_TRUE(backtrace_has(ev[set], {"kvmclock", "vm_state_notify"})) << ev[set].str();
  long last_ctrl = set;
  for (int vcpu = 0; vcpu < 2; ++vcpu) {
    long ctrl =
        find_event(ev, set, is(EventType::KvmclockCtrl, "vcpu=" + std::to_string(vcpu) + " "));
    EXPECT_GT(ctrl, set) << "KVMCLOCK_CTRL vcpu" << vcpu << " missing after KVM_SET_CLOCK";
    if (ctrl < 0) return -1;
    EXPECT_NE(ev[ctrl].text.find("result=0"), std::string::npos) << ev[ctrl].str();
    last_ctrl = std::max(last_ctrl, ctrl);
  }
  long next_cont = find_event(ev, cont + 1, is(EventType::RunStateChange, "-> running"));
  long ctrls = 0;
  for (long i = cont; i < (next_cont < 0 ? long(ev.size()) : next_cont); ++i) {
    if (ev[i].type == EventType::KvmclockCtrl) ++ctrls;
  }
  EXPECT_EQ(ctrls, 2) << "one KVMCLOCK_CTRL per vCPU per resume";
  long exit = find_event(ev, cont, is(EventType::VcpuExit));
  EXPECT_GT(exit, last_ctrl) << "a vCPU ran before every KVMCLOCK_CTRL was done:\n"
                             << describe(ev, cont, last_ctrl + 1);
  return last_ctrl + 1;
}

}  // namespace rrvm::e2e
