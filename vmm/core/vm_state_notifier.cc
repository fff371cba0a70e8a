#include "vmm/core/vm_state_notifier.h"

#include <algorithm>

#include "trace/recorder.h"
#include "trace/span.h"
#include "vmm/base/check.h"

namespace rrvm::core {
namespace {

template <typename H>
void call_one(const H& h, trace::NotifierPhase phase, bool running, RunState state) {
  const auto& cb = phase == trace::NotifierPhase::Prepare ? h.prepare : h.main;
  if (!cb) return;
  trace::Span span(phase == trace::NotifierPhase::Prepare ? h.prepare_span : h.name);
  trace::emit(trace::NotifierCall{h.name, h.priority, phase, running, state});
  cb(running, state);
}

}  // namespace

VmStateNotifiers::Id VmStateNotifiers::add(std::string name, Callback main, int priority,
                                           Callback prepare) {
  std::lock_guard lock(mu_);
  auto h = std::make_shared<Handler>();
  h->id = next_id_++;
  h->prepare_span = name + " prepare";
  h->name = std::move(name);
  h->priority = priority;
  h->prepare = std::move(prepare);
  h->main = std::move(main);
  // Insert before the first handler with a strictly higher priority: ties keep registration
  // order (QEMU's qemu_add_vm_change_state_handler_prio_full).
  auto pos = std::find_if(handlers_.begin(), handlers_.end(),
                          [&](const auto& other) { return priority < other->priority; });
  Id id = h->id;
  handlers_.insert(pos, std::move(h));
  return id;
}

void VmStateNotifiers::remove(Id id) {
  std::lock_guard lock(mu_);
  auto it =
      std::find_if(handlers_.begin(), handlers_.end(), [&](const auto& h) { return h->id == id; });
  RRVM_CHECK_MSG(it != handlers_.end(), "removing unknown VM state handler " + std::to_string(id));
  handlers_.erase(it);
}

size_t VmStateNotifiers::size() const {
  std::lock_guard lock(mu_);
  return handlers_.size();
}

void VmStateNotifiers::notify(bool running, RunState state) {
  std::vector<std::shared_ptr<const Handler>> snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = handlers_;
  }
  trace::Span span("vm_state_notify");
  if (running) {
    for (const auto& h : snapshot) call_one(*h, trace::NotifierPhase::Prepare, running, state);
    for (const auto& h : snapshot) call_one(*h, trace::NotifierPhase::Main, running, state);
  } else {
    // Reverse iterators rather than std::views::reverse: clang 14 (the fuzz build) cannot
    // compile libstdc++ 12's ranges.
    for (auto it = snapshot.rbegin(); it != snapshot.rend(); ++it) {
      call_one(**it, trace::NotifierPhase::Prepare, running, state);
    }
    for (auto it = snapshot.rbegin(); it != snapshot.rend(); ++it) {
      call_one(**it, trace::NotifierPhase::Main, running, state);
    }
  }
}

}  // namespace rrvm::core
