#include "vmm/migration/target.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "trace/names.h"
#include "trace/recorder.h"
#include "trace/span.h"
#include "vmm/migration/capnp_bytes.h"
#include "vmm/migration/checksum.h"
#include "vmm/migration/control_records.h"
#include "vmm/migration/ram_codec.h"
#include "vmm/migration/stream_reader.h"

namespace rrvm::migration {

namespace {

using trace::MigrationPhase;
using trace::RunState;

void emit_phase(MigrationPhase phase, uint32_t iteration, uint64_t bytes, std::string_view detail) {
  trace::emit(trace::MigrationEvent{phase, iteration, 0, bytes, 0, detail});
}

std::string stream_name(const Channel& channel) {
  if (channel.name().rfind("file:", 0) == 0) return "snapshot " + channel.name().substr(5);
  return "migration stream from " + channel.name();
}

// "section 'cpu/1'", "RAM run at gpa 0x1000": names records in errors about their payload.
std::string name_record(RecordKind kind, std::span<const uint8_t> descriptor) {
  std::string name = std::string(record_kind_name(kind)) + " record";
  if (kind == RecordKind::Section) {
    (void)read_message<schema::SectionHeader>(
        descriptor, MAX_DESCRIPTOR_BYTES, [&](schema::SectionHeader::Reader r) {
          name = "section '" + std::string(r.getName().cStr()).substr(0, MAX_SECTION_NAME) + "'";
          return ok_status();
        });
  } else if (kind == RecordKind::RamRun) {
    (void)read_message<schema::RamRun>(descriptor, MAX_DESCRIPTOR_BYTES,
                                       [&](schema::RamRun::Reader r) {
                                         char buf[48];
                                         std::snprintf(buf, sizeof buf, "RAM run at gpa 0x%llx",
                                                       static_cast<unsigned long long>(r.getGpa()));
                                         name = buf;
                                         return ok_status();
                                       });
  }
  return name;
}

}  // namespace

MigrationTarget::MigrationTarget(Migratable& vm, std::unique_ptr<Listener> listener,
                                 Progress& progress)
    : vm_(vm),
      listener_(std::move(listener)),
      progress_(progress),
      uri_(listener_->uri()) {}

MigrationTarget::~MigrationTarget() = default;

void MigrationTarget::cancel() {
  progress_.request_cancel();
  std::lock_guard lock(channel_mu_);
  listener_->cancel();
  if (channel_) channel_->cancel();
}

void MigrationTarget::run() {
  trace::set_thread_name("migration-incoming");
  trace::Span span("process_incoming_migration");
  progress_.set_status(MigrationStatus::Setup);
  emit_phase(MigrationPhase::LoadStart, 0, 0, uri_);
  Status result = run_stages();
  if (!result.ok()) return fail(result);
  {
    std::lock_guard lock(channel_mu_);
    channel_.reset();
  }
  progress_.set_status(MigrationStatus::Completed);
  spdlog::info("incoming migration from {} completed: {} passes, VM {}", uri_, iterations_,
               trace::run_state_name(vm_.run_state()));
}

Status MigrationTarget::enter_inmigrate() {
  RunState state = vm_.run_state();
  if (state == RunState::Prelaunch)
    return vm_.set_run_state(RunState::InMigrate, "incoming migration");
  if (state != RunState::InMigrate) {
    return make_error("an incoming migration needs a VM that has not run; this one is " +
                      std::string(trace::run_state_name(state)));
  }
  return ok_status();
}

Status MigrationTarget::run_stages() {
  RRVM_TRY(enter_inmigrate());
  RRVM_ASSIGN_OR_RETURN(std::unique_ptr<Channel> channel, listener_->accept());
  {
    std::lock_guard lock(channel_mu_);
    channel_ = std::move(channel);
    if (progress_.cancel_requested()) channel_->cancel();
  }
  progress_.restart_clock();
  {
    trace::Span span("qemu_loadvm_state");
    RRVM_TRY(receive());
    RRVM_TRY(load_sections());
    RRVM_TRY(vm_.cpu_synchronize_all_post_init());
  }
  {
    // QEMU's bdrv_activate_all() in process_incoming_migration_bh: the images were opened
    // unlocked; the source released them before its End record. Before the Ack, so that a
    // target that cannot take an image refuses the stream and the source resumes with it.
    trace::Span span("bdrv_activate_all");
    Status active = vm_.activate_disks();
    if (!active.ok()) return active.error().context("taking the disk images after the load");
  }
  emit_phase(MigrationPhase::LoadDone, iterations_, progress_.stats().stream_bytes, uri_);
  // The source may only give up its VM once the target has everything: acknowledge before the
  // VM starts here.
  if (channel_->live()) RRVM_TRY(send_ack(*channel_, true, {}));
  return start_vm();
}

Status MigrationTarget::receive() {
  StreamReader reader(*channel_, stream_name(*channel_));
  reader.set_namer(name_record);
  RRVM_TRY(reader.read_preamble());
  RRVM_ASSIGN_OR_RETURN(Record first, reader.next());
  if (first.kind != RecordKind::Header) {
    return reader.error_at(first.offset, record_kind_name(first.kind),
                           "the stream must start with a header record");
  }
  Result<HeaderInfo> header = check_header(first.descriptor, vm_.describe(), vm_.memory());
  if (!header.ok()) return reader.error_at(first.offset, "header", header.error().describe());
  progress_.set_status(MigrationStatus::Active);
  progress_.update([&](MigrationStats& s) { s.ram_total = vm_.memory().total_size(); });
  return receive_records(reader, *header);
}

Status MigrationTarget::receive_records(StreamReader& reader, const HeaderInfo& header) {
  RunDecoder decoder;
  uint64_t records = 1;  // the header
  while (true) {
    RRVM_ASSIGN_OR_RETURN(Record record, reader.next());
    switch (record.kind) {
      case RecordKind::RamRun: {
        Result<RunDecoder::Applied> applied =
            decoder.apply(record.descriptor, record.payload, vm_.memory());
        if (!applied.ok())
          return reader.error_at(record.offset, "RAM run", applied.error().describe());
        progress_.update([&](MigrationStats& s) {
          s.pages_sent += applied->pages - applied->zero_pages;
          s.zero_pages += applied->zero_pages;
          s.ram_transferred = s.stream_bytes = reader.offset();
        });
        break;
      }
      case RecordKind::Iteration: {
        uint32_t number = 0;
        Status s = read_message<schema::Iteration>(record.descriptor, MAX_DESCRIPTOR_BYTES,
                                                   [&](schema::Iteration::Reader r) -> Status {
                                                     number = r.getNumber();
                                                     return ok_status();
                                                   });
        if (!s.ok())
          return reader.error_at(record.offset, "iteration record", s.error().describe());
        if (number != iterations_ + 1) {
          return reader.error_at(
              record.offset, "iteration record",
              "pass " + std::to_string(number) + " follows pass " + std::to_string(iterations_));
        }
        iterations_ = number;
        progress_.update([&](MigrationStats& st) { st.iterations = number; });
        break;
      }
      case RecordKind::Section:
        RRVM_TRY(receive_section(reader, record, header));
        break;
      case RecordKind::End:
        return receive_end(reader, record, records, header);
      case RecordKind::Header:
      case RecordKind::Ack:
        return reader.error_at(record.offset, record_kind_name(record.kind),
                               "unexpected in the middle of a stream");
    }
    ++records;
    if (progress_.cancel_requested()) return make_error("incoming migration cancelled");
  }
}

Status MigrationTarget::receive_section(StreamReader& reader, const Record& record,
                                        const HeaderInfo& header) {
  ReceivedSection section;
  Status decoded = read_message<schema::SectionHeader>(
      record.descriptor, MAX_DESCRIPTOR_BYTES, [&](schema::SectionHeader::Reader r) -> Status {
        section.name = std::string(r.getName().cStr()).substr(0, MAX_SECTION_NAME + 1);
        section.version = r.getVersion();
        section.checksum = r.getChecksum();
        return ok_status();
      });
  if (!decoded.ok())
    return reader.error_at(record.offset, "section record", decoded.error().describe());
  const std::string what = "section '" + section.name + "'";
  // Sections come in exactly the order and versions the header announced.
  if (sections_.size() >= header.sections.size()) {
    return reader.error_at(record.offset, what, "more sections than the header announced");
  }
  const StreamSection& expected = header.sections[sections_.size()];
  if (section.name != expected.name || section.version != expected.version) {
    return reader.error_at(
        record.offset, what,
        "expected section '" + expected.name + "' version " + std::to_string(expected.version) +
            " (the header's order), got version " + std::to_string(section.version));
  }
  if (checksum64(record.payload) != section.checksum) {
    trace::emit(trace::SnapshotSection{trace::SectionOp::Load, section.name, record.payload.size(),
                                       section.checksum, false, "checksum mismatch"});
    return reader.error_at(record.offset, what, "checksum mismatch");
  }
  section_bytes_ += record.payload.size();
  if (section_bytes_ > MAX_TOTAL_SECTION_BYTES) {
    return reader.error_at(
        record.offset, what,
        "sections exceed " + std::to_string(MAX_TOTAL_SECTION_BYTES) + " bytes in total");
  }
  section.data.assign(record.payload.begin(), record.payload.end());
  sections_.push_back(std::move(section));
  return ok_status();
}

Status MigrationTarget::receive_end(StreamReader& reader, const Record& record,
                                    uint64_t records_before, const HeaderInfo& header) {
  uint64_t checksum = 0;
  uint64_t count = 0;
  Status decoded = read_message<schema::End>(record.descriptor, MAX_DESCRIPTOR_BYTES,
                                             [&](schema::End::Reader r) {
                                               checksum = r.getStreamChecksum();
                                               count = r.getRecords();
                                               return ok_status();
                                             });
  if (!decoded.ok())
    return reader.error_at(record.offset, "end record", decoded.error().describe());
  if (checksum != record.checksum_before) {
    return reader.error_at(record.offset, "end record",
                           "stream checksum mismatch: the stream is corrupt");
  }
  if (count != records_before) {
    return reader.error_at(record.offset, "end record",
                           "the source wrote " + std::to_string(count) + " records, " +
                               std::to_string(records_before) + " arrived");
  }
  if (sections_.size() != header.sections.size()) {
    return reader.error_at(record.offset, "end record",
                           "section '" + header.sections[sections_.size()].name + "' is missing");
  }
  if (!channel_->live()) {
    RRVM_ASSIGN_OR_RETURN(bool at_end, reader.at_end());
    if (!at_end)
      return reader.error_at(reader.offset(), "end of stream",
                             "trailing bytes after the end record");
  }
  progress_.update(
      [&](MigrationStats& s) { s.ram_transferred = s.stream_bytes = reader.offset(); });
  return ok_status();
}

Status MigrationTarget::load_sections() {
  const VmDescription desc = vm_.describe();
  for (const ReceivedSection& section : sections_) {
    std::string span_name = "loadvm.device " + section.name;
    trace::Span span(span_name);
    Status loaded;
    if (section.name == GLOBAL_STATE_SECTION) {
      Result<RunState> state = decode_global_state(section.data);
      if (state.ok())
        source_state_ = *state;
      else
        loaded = state.error();
    } else {
      const SectionInfo* info = nullptr;
      for (const SectionInfo& s : desc.sections) {
        if (s.name == section.name) info = &s;
      }
      RRVM_CHECK(info != nullptr);  // check_header() matched every name against describe()
      loaded = vm_.load_section(*info, section.version, section.data);
    }
    std::string error = loaded.ok() ? std::string() : loaded.error().describe();
    trace::emit(trace::SnapshotSection{trace::SectionOp::Load, section.name, section.data.size(),
                                       section.checksum, loaded.ok(), error});
    if (!loaded.ok())
      return make_error(stream_name(*channel_) + ": section '" + section.name + "': " + error);
  }
  return ok_status();
}

Status MigrationTarget::start_vm() {
  trace::Span span("process_incoming_migration_bh");
  // QEMU: a source that was running gives a running target (unless autostart is off); any other
  // state carries over as it was.
  if (source_state_ == RunState::Running) {
    if (vm_.autostart()) return vm_.vm_start("incoming migration");
    return vm_.set_run_state(RunState::Paused, "incoming migration (no autostart)");
  }
  return vm_.set_run_state(source_state_, "incoming migration: the source was " +
                                              std::string(trace::run_state_name(source_state_)));
}

void MigrationTarget::fail(const Status& result) {
  const bool cancelled = progress_.cancel_requested();
  const std::string reason = result.error().describe();
  spdlog::error("incoming migration from {} {}: {}", uri_, cancelled ? "cancelled" : "failed",
                reason);
  {
    std::lock_guard lock(channel_mu_);
    // Tell a live source why, so that it resumes its VM at once instead of waiting.
    if (channel_ && channel_->live() && !cancelled) (void)send_ack(*channel_, false, reason);
    channel_.reset();
  }
  progress_.set_status(cancelled ? MigrationStatus::Cancelled : MigrationStatus::Failed, reason);
  emit_phase(cancelled ? MigrationPhase::Cancelled : MigrationPhase::Failed, iterations_, 0,
             reason);
}

}  // namespace rrvm::migration
