// Machine as a migration::Migratable: run-state hooks, dirty logging, and the snapshot sections.
//
// Section order (save and load): cpu/0..N-1, irqchip, pit, kvmclock, serial, then the virtio
// devices in their MMIO order. kvmclock's save does its pre_save (the second KVM_GET_CLOCK) as
// QEMU's device section does. On load every section is validated by its component before it is
// applied, and all of it happens before any vCPU runs (the migration layer guarantees the order).
#include <spdlog/spdlog.h>

#include "trace/span.h"
#include "vmm/machine/machine.h"
#include "vmm/machine/state_codec.h"

namespace rrvm::machine {
namespace {

constexpr uint32_t PIC_MASTER = 0, PIC_SLAVE = 1, IOAPIC = 2;

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

migration::VmDescription Machine::describe() const {
  migration::VmDescription d;
  d.memory_bytes = memory_.total_size();
  d.vcpus = config_.vcpus;
  for (uint32_t i = 0; i < config_.vcpus; ++i) d.sections.push_back({"cpu/" + std::to_string(i)});
  for (const char* name : {"irqchip", "pit", "kvmclock", "serial"}) d.sections.push_back({name});
  for (const auto& v : virtio_) d.sections.push_back({v.transport->name()});
  return d;
}

Status Machine::set_run_state(trace::RunState state, std::string_view reason) {
  return on_main_loop("runstate_set", [&] { return run_state_.set(state, reason); });
}

Status Machine::vm_start(std::string_view reason) {
  return on_main_loop("vm_start", [&] { return control_->vm_start(reason); });
}

Status Machine::vm_stop_force_state(trace::RunState state, std::string_view reason) {
  return on_main_loop("vm_stop_force_state",
                      [&] { return control_->vm_stop_force_state(state, reason); });
}

Status Machine::start_dirty_log() {
  // KVM_MEM_LOG_DIRTY_PAGES on every slot; re-registering a slot with the flag starts its log
  // empty. Device writes are tracked by GuestMemory itself.
  for (const auto& r : memory_.regions()) {
    RRVM_TRY(vm_->set_memory_region({r.slot, r.gpa, r.size, r.host, true}));
  }
  memory_.set_dirty_tracking(true);
  dirty_logging_ = true;
  return ok_status();
}

Result<std::vector<uint64_t>> Machine::fetch_dirty_log(size_t region) {
  const auto& r = memory_.regions().at(region);
  RRVM_ASSIGN_OR_RETURN(auto bits, vm_->get_dirty_log(r.slot, r.size));
  auto device_bits = memory_.take_dirty(region);
  if (device_bits.size() != bits.size()) {
    return make_error("dirty log of slot " + std::to_string(r.slot) + " has " +
                      std::to_string(bits.size()) + " words, expected " +
                      std::to_string(device_bits.size()));
  }
  for (size_t i = 0; i < bits.size(); ++i) bits[i] |= device_bits[i];
  return bits;
}

Status Machine::stop_dirty_log() {
  if (!dirty_logging_) return ok_status();
  memory_.set_dirty_tracking(false);
  dirty_logging_ = false;
  for (const auto& r : memory_.regions()) {
    RRVM_TRY(vm_->set_memory_region({r.slot, r.gpa, r.size, r.host, false}));
  }
  return ok_status();
}

Status Machine::cpu_synchronize_all_states() { return vcpu_set_->synchronize_all_states(); }

Status Machine::cpu_synchronize_all_post_init() { return vcpu_set_->synchronize_all_post_init(); }

Status Machine::inactivate_disks() {
  return on_main_loop("bdrv_inactivate_all", [&]() -> Status {
    for (auto& v : virtio_) {
      if (!v.blk) continue;
      // The stop ran the notifiers: the backend finished its last request (under the
      // transport's lock) and serves none until the VM runs again.
      RRVM_CHECK_MSG(!v.transport->backend_running(),
                     "inactivating a disk image while its device still serves requests");
      RRVM_TRY(v.blk->release_lock("migration completion"));
    }
    disks_active_ = false;
    return ok_status();
  });
}

Status Machine::activate_disks() {
  return on_main_loop("bdrv_activate_all", [&]() -> Status {
    std::vector<virtio::BlkDevice*> taken;
    for (auto& v : virtio_) {
      if (!v.blk || v.blk->locked()) continue;
      Status st = v.blk->acquire_lock(run_state_.get() == trace::RunState::InMigrate
                                          ? "incoming migration loaded"
                                          : "taken back after migration");
      if (!st.ok()) {
        // All or nothing: a VM that cannot run must not keep some images from their owner.
        for (auto* blk : taken) (void)blk->release_lock("activation failed");
        return st;
      }
      taken.push_back(v.blk);
    }
    disks_active_ = true;
    return ok_status();
  });
}

Result<std::vector<uint8_t>> Machine::save_section(const migration::SectionInfo& section) {
  const std::string& name = section.name;
  if (starts_with(name, "cpu/")) {
    size_t i = std::stoul(name.substr(4));
    return encode_cpu_state(vcpu_set_->sync(i).state());
  }
  if (name == "irqchip") {
    IrqchipBlobs chips;
    RRVM_ASSIGN_OR_RETURN(chips.pic_master, vm_->get_irqchip(PIC_MASTER));
    RRVM_ASSIGN_OR_RETURN(chips.pic_slave, vm_->get_irqchip(PIC_SLAVE));
    RRVM_ASSIGN_OR_RETURN(chips.ioapic, vm_->get_irqchip(IOAPIC));
    return encode_irqchip_state(chips);
  }
  if (name == "pit") {
    RRVM_ASSIGN_OR_RETURN(auto pit, vm_->get_pit());
    return encode_pit_state(pit);
  }
  if (name == "kvmclock") {
    trace::Span span("kvmclock_pre_save");
    RRVM_TRY(kvmclock_->pre_save());
    return encode_kvmclock_state(kvmclock_->save());
  }
  if (name == "serial") return encode_serial_state(serial_->save());
  for (const auto& v : virtio_) {
    if (v.transport->name() != name) continue;
    VirtioSection section{v.transport->save(), std::nullopt};
    if (v.blk) section.blk = v.blk->save();
    return encode_virtio_state(section);
  }
  return make_error("no section named '" + name + "' in this machine");
}

Status Machine::load_section(const migration::SectionInfo& section, uint32_t /*version*/,
                             std::span<const uint8_t> data) {
  const std::string& name = section.name;
  if (starts_with(name, "cpu/")) {
    size_t i = std::stoul(name.substr(4));
    RRVM_ASSIGN_OR_RETURN(auto state, decode_cpu_state(data));
    Status st;
    vcpu_set_->thread(i).run_on_cpu("cpu_load", [&] { st = vcpu_set_->sync(i).load(state); });
    return st;
  }
  if (name == "irqchip") {
    RRVM_ASSIGN_OR_RETURN(auto chips, decode_irqchip_state(data));
    RRVM_TRY(vm_->set_irqchip(PIC_MASTER, chips.pic_master));
    RRVM_TRY(vm_->set_irqchip(PIC_SLAVE, chips.pic_slave));
    return vm_->set_irqchip(IOAPIC, chips.ioapic);
  }
  if (name == "pit") {
    RRVM_ASSIGN_OR_RETURN(auto pit, decode_pit_state(data));
    return vm_->set_pit(pit);
  }
  if (name == "kvmclock") {
    RRVM_ASSIGN_OR_RETURN(auto state, decode_kvmclock_state(data));
    return kvmclock_->restore(state);
  }
  if (name == "serial") {
    RRVM_ASSIGN_OR_RETURN(auto state, decode_serial_state(data));
    return serial_->restore(state);
  }
  for (size_t i = 0; i < virtio_.size(); ++i) {
    if (virtio_[i].transport->name() == name) return restore_virtio(i, data);
  }
  return make_error("no section named '" + name + "' in this machine");
}

}  // namespace rrvm::machine
