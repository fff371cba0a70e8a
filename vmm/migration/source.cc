#include "vmm/migration/source.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "trace/names.h"
#include "trace/recorder.h"
#include "trace/span.h"
#include "vmm/migration/checksum.h"
#include "vmm/migration/control_records.h"
#include "vmm/migration/ram_sender.h"
#include "vmm/migration/schema/snapshot.capnp.h"
#include "vmm/migration/stream_header.h"
#include "vmm/migration/stream_writer.h"

namespace rrvm::migration {

namespace {

using trace::MigrationPhase;
using trace::RunState;

uint64_t now_ns() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

void emit_phase(MigrationPhase phase, uint32_t iteration, uint64_t pages, uint64_t bytes,
                uint64_t downtime_ns, std::string_view detail) {
  trace::emit(trace::MigrationEvent{phase, iteration, pages, bytes, downtime_ns, detail});
}

}  // namespace

MigrationSource::MigrationSource(Migratable& vm, std::string uri, Progress& progress)
    : vm_(vm), uri_(std::move(uri)), progress_(progress) {}

MigrationSource::~MigrationSource() = default;

void MigrationSource::cancel() {
  progress_.request_cancel();
  std::lock_guard lock(channel_mu_);
  if (channel_) channel_->cancel();
}

Status MigrationSource::check_cancel() const {
  if (progress_.cancel_requested()) return make_error("migration cancelled");
  return ok_status();
}

void MigrationSource::run() {
  trace::set_thread_name("migration");
  trace::Span span("migration_thread");
  progress_.set_status(MigrationStatus::Setup);
  emit_phase(MigrationPhase::Setup, 0, 0, 0, 0, uri_);
  Status result = run_stages();
  finish(result);
}

Status MigrationSource::run_stages() {
  RRVM_TRY(setup());
  progress_.set_status(MigrationStatus::Active);
  Status result = iterate();
  if (!result.ok()) return explain_failure(result);
  return result;
}

// A target that refuses the stream (wrong VM, corrupt data) says why in an Ack and closes; the
// source then sees only EPIPE/ECONNRESET on its next write. The reason may already be waiting on
// the channel: prefer it, it is what the user needs to read.
Status MigrationSource::explain_failure(const Status& result) {
  if (!channel_ || !channel_->live() || progress_.cancel_requested()) return result;
  channel_->set_read_timeout(std::chrono::milliseconds(500));
  Status reply = receive_ack(*channel_);
  if (!reply.ok() && reply.error().message.find(TARGET_REFUSED) != std::string::npos) return reply;
  return result;
}

Status MigrationSource::setup() {
  trace::Span span("qemu_savevm_state_setup");
  VmDescription desc = vm_.describe();
  Status valid = validate_section_list(desc.sections);
  if (!valid.ok()) return valid.error().context("the VM's section list");
  RRVM_ASSIGN_OR_RETURN(std::unique_ptr<Channel> channel, open_outgoing_channel(uri_));
  {
    std::lock_guard lock(channel_mu_);
    channel_ = std::move(channel);
    // A cancel that came while connecting must still reach the channel.
    if (progress_.cancel_requested()) channel_->cancel();
  }
  writer_ = std::make_unique<StreamWriter>(*channel_);
  RRVM_TRY(writer_->write_preamble());
  capnp::MallocMessageBuilder message;
  fill_header(message.initRoot<schema::StreamHeader>(), desc, vm_.memory(), channel_->live());
  RRVM_TRY(writer_->write_record(RecordKind::Header, message));
  // The log must run before the first pass reads RAM, so that no write during the pass is lost.
  RRVM_TRY(vm_.start_dirty_log());
  dirty_log_started_ = true;
  ram_ = std::make_unique<RamSender>(vm_, *writer_, progress_, progress_.parameters().zstd_level);
  progress_.update([&](MigrationStats& s) { s.ram_total = vm_.memory().total_size(); });
  return ok_status();
}

Status MigrationSource::write_iteration(const PassResult& pass) {
  ++iterations_;
  capnp::MallocMessageBuilder message;
  auto it = message.initRoot<schema::Iteration>();
  it.setNumber(iterations_);
  it.setDirtyPages(pass.pages);
  it.setBytes(pass.bytes);
  RRVM_TRY(writer_->write_record(RecordKind::Iteration, message));
  emit_phase(MigrationPhase::Iteration, iterations_, pass.pages, pass.bytes, 0, {});
  progress_.update([&](MigrationStats& s) {
    s.iterations = iterations_;
    s.ram_transferred = s.stream_bytes = writer_->bytes_written();
  });
  return ok_status();
}

Status MigrationSource::iterate() {
  {
    trace::Span span("migration_iteration_run");
    RRVM_ASSIGN_OR_RETURN(PassResult pass, ram_->send_all());
    RRVM_TRY(write_iteration(pass));
  }
  while (true) {
    RRVM_TRY(check_cancel());
    trace::Span span("migration_iteration_run");
    // The pass just written goes to stable storage now, while the VM runs, rather than in
    // commit() during the downtime; pages the guest dirties meanwhile are in the log fetched next.
    RRVM_TRY(writer_->flush());
    RRVM_TRY(channel_->sync_data());
    RRVM_ASSIGN_OR_RETURN(uint64_t pending, ram_->sync_dirty_log());
    // Converged when what is left can be sent within the downtime limit at the measured rate.
    uint64_t limit_ns = progress_.parameters().downtime_limit_ms * 1'000'000;
    std::optional<uint64_t> expected = ram_->estimate_ns(pending);
    if (pending == 0 || (expected && *expected <= limit_ns)) return complete();
    RRVM_ASSIGN_OR_RETURN(PassResult pass, ram_->send_pending(false));
    RRVM_TRY(write_iteration(pass));
  }
}

Status MigrationSource::complete() {
  trace::Span span("migration_completion");
  emit_phase(MigrationPhase::Completion, iterations_, ram_->pending_pages(),
             writer_->bytes_written(), 0, {});
  return complete_precopy();
}

Status MigrationSource::complete_precopy() {
  trace::Span span("migration_completion_precopy");
  downtime_start_ns_ = now_ns();
  // QEMU's global_state_store(): the state the target should end up in.
  state_before_stop_ = vm_.run_state();
  {
    trace::Span stop_span("migration_stop_vm");
    stopped_vm_ = true;  // even a failed stop may have changed the state: finish() puts it back
    RRVM_TRY(vm_.vm_stop_force_state(RunState::FinishMigrate, "migration completion"));
  }
  {
    trace::Span save_span("qemu_savevm_state_complete_precopy");
    RRVM_TRY(vm_.cpu_synchronize_all_states());
    {
      trace::Span ram_span("ram_save_complete");
      RRVM_TRY(ram_->sync_dirty_log());
      RRVM_ASSIGN_OR_RETURN(PassResult pass, ram_->send_pending(true));
      RRVM_TRY(write_iteration(pass));
    }
    RRVM_TRY(save_sections());
    {
      // QEMU's bdrv_inactivate_all() before QEMU_VM_EOF: the stop above drained device I/O;
      // the images' locks go now so that the target (or a restore of this file) can take them.
      trace::Span inactivate_span("bdrv_inactivate_all");
      disks_inactive_ = true;  // even a partial release must be undone by finish()
      RRVM_TRY(vm_.inactivate_disks());
    }
    RRVM_TRY(writer_->write_end());
  }
  // Downtime is QEMU's: from the stop to the end of the device state, the stream's last byte
  // handed to the channel. What follows (the target's Ack, or the file's fsync and rename) is
  // still part of completion, and is logged as such.
  const uint64_t stream_end_ns = now_ns();
  live_ = channel_->live();
  if (live_) {
    trace::Span ack_span("migration_wait_target_ack");
    RRVM_TRY(receive_ack(*channel_));
  } else {
    RRVM_TRY(channel_->commit());
  }
  downtime_ns_ = stream_end_ns - downtime_start_ns_;
  settle_ns_ = now_ns() - stream_end_ns;
  progress_.update([&](MigrationStats& s) {
    s.downtime_ms = downtime_ns_ / 1'000'000;
    s.ram_remaining = 0;
    s.ram_transferred = s.stream_bytes = writer_->bytes_written();
  });
  return ok_status();
}

Status MigrationSource::write_section(const SectionInfo& info, std::span<const uint8_t> data) {
  if (data.size() > MAX_SECTION_BYTES) {
    return make_error("section '" + info.name + "' is " + std::to_string(data.size()) +
                      " bytes, more than the " + std::to_string(MAX_SECTION_BYTES) +
                      " a stream allows");
  }
  uint64_t sum = checksum64(data);
  capnp::MallocMessageBuilder message;
  auto section = message.initRoot<schema::SectionHeader>();
  section.setName(info.name);
  section.setVersion(info.version);
  section.setChecksum(sum);
  RRVM_TRY(writer_->write_record(RecordKind::Section, message, data));
  trace::emit(
      trace::SnapshotSection{trace::SectionOp::Save, info.name, data.size(), sum, true, {}});
  return ok_status();
}

Status MigrationSource::save_sections() {
  {
    trace::Span span("savevm.device globalstate");
    RRVM_TRY(
        write_section(SectionInfo{GLOBAL_STATE_SECTION, GLOBAL_STATE_VERSION, GLOBAL_STATE_VERSION},
                      encode_global_state(state_before_stop_)));
  }
  for (const SectionInfo& info : vm_.describe().sections) {
    RRVM_TRY(check_cancel());
    std::string span_name = "savevm.device " + info.name;
    trace::Span span(span_name);
    Result<std::vector<uint8_t>> data = vm_.save_section(info);
    if (!data.ok()) {
      std::string error = data.error().describe();
      trace::emit(trace::SnapshotSection{trace::SectionOp::Save, info.name, 0, 0, false, error});
      return make_error("saving section '" + info.name + "': " + error);
    }
    RRVM_TRY(write_section(info, *data));
  }
  return ok_status();
}

// The images come back first (QEMU: bdrv_activate_all() in migrate_fd_cancel and on a failed
// completion): a VM must never run without them. If that fails the VM stays paused, as QEMU
// refuses to continue; `cont` tries again.
Status MigrationSource::resume_after_failure(bool cancelled) {
  if (disks_inactive_) {
    trace::Span span("bdrv_activate_all");
    Status active = vm_.activate_disks();
    if (!active.ok()) {
      if (vm_.run_state() == RunState::FinishMigrate) {
        Status s = vm_.set_run_state(RunState::Paused, "migration failed: disk images inactive");
        if (!s.ok()) spdlog::error("migration: {}", s.error().describe());
      }
      return active.error().context("the VM stays paused: its disk images could not be taken back");
    }
    disks_inactive_ = false;
  }
  if (state_before_stop_ == RunState::Running)
    return vm_.vm_start(cancelled ? "migration cancelled" : "migration failed");
  if (vm_.run_state() == RunState::FinishMigrate)
    return vm_.set_run_state(state_before_stop_, "migration failed");
  return ok_status();
}

void MigrationSource::finish(const Status& result) {
  trace::Span span("migration_iteration_finish");
  if (dirty_log_started_) {
    Status s = vm_.stop_dirty_log();
    if (!s.ok()) spdlog::warn("migration: stopping dirty logging: {}", s.error().describe());
  }
  const uint64_t bytes = writer_ ? writer_->bytes_written() : 0;
  {
    // Closes the connection, or removes the temporary of an unfinished snapshot file.
    std::lock_guard lock(channel_mu_);
    ram_.reset();
    writer_.reset();
    channel_.reset();
  }
  if (result.ok()) {
    Status s = vm_.set_run_state(RunState::PostMigrate, "migration completed");
    if (!s.ok()) spdlog::error("migration: {}", s.error().describe());
    progress_.set_status(MigrationStatus::Completed);
    emit_phase(MigrationPhase::Completed, iterations_, 0, bytes, downtime_ns_, {});
    spdlog::info(
        "migration to {} completed: {} bytes, {} passes, downtime {:.1f} ms, then {:.1f} ms "
        "until {}",
        uri_, bytes, iterations_, static_cast<double>(downtime_ns_) / 1e6,
        static_cast<double>(settle_ns_) / 1e6,
        live_ ? "the target's Ack" : "the stream was committed");
    return;
  }
  const bool cancelled = progress_.cancel_requested();
  const std::string reason = result.error().describe();
  spdlog::error("migration to {} {}: {}", uri_, cancelled ? "cancelled" : "failed", reason);
  // QEMU's migration_iteration_finish(): a VM that was running runs again.
  std::string status_reason = reason;
  if (stopped_vm_) {
    Status s = resume_after_failure(cancelled);
    if (!s.ok()) {
      spdlog::error("migration: resuming the VM: {}", s.error().describe());
      status_reason += "; " + s.error().describe();
    }
  }
  progress_.set_status(cancelled ? MigrationStatus::Cancelled : MigrationStatus::Failed,
                       status_reason);
  emit_phase(cancelled ? MigrationPhase::Cancelled : MigrationPhase::Failed, iterations_, 0, bytes,
             0, reason);
}

}  // namespace rrvm::migration
