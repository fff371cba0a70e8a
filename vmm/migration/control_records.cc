#include "vmm/migration/control_records.h"

#include "trace/names.h"
#include "vmm/migration/capnp_bytes.h"
#include "vmm/migration/schema/snapshot.capnp.h"
#include "vmm/migration/stream_reader.h"
#include "vmm/migration/stream_writer.h"

namespace rrvm::migration {

namespace {
constexpr size_t MAX_ACK_ERROR = 4096;
}

std::vector<uint8_t> encode_global_state(trace::RunState state) {
  capnp::MallocMessageBuilder message;
  auto gs = message.initRoot<schema::GlobalState>();
  gs.setRunState(static_cast<uint8_t>(state));
  std::string_view name = trace::run_state_name(state);
  gs.setRunStateName(capnp::Text::Reader(name.data(), name.size()));
  return message_bytes(message);
}

Result<trace::RunState> decode_global_state(std::span<const uint8_t> data) {
  trace::RunState state{};
  RRVM_TRY(
      read_message<schema::GlobalState>(data, 4096, [&](schema::GlobalState::Reader r) -> Status {
        if (r.getRunState() >= trace::RUN_STATE_COUNT) {
          return make_error("run state " + std::to_string(r.getRunState()) + " is not a run state");
        }
        state = static_cast<trace::RunState>(r.getRunState());
        return ok_status();
      }));
  return state;
}

Status send_ack(Channel& channel, bool ok, const std::string& error) {
  capnp::MallocMessageBuilder message;
  auto ack = message.initRoot<schema::Ack>();
  ack.setOk(ok);
  std::string text = error.substr(0, MAX_ACK_ERROR);
  ack.setError(capnp::Text::Reader(text.data(), text.size()));
  StreamWriter writer(channel);
  RRVM_TRY(writer.write_record(RecordKind::Ack, message));
  return writer.flush();
}

Status receive_ack(Channel& channel) {
  StreamReader reader(channel, "reply from the migration target " + channel.name());
  RRVM_ASSIGN_OR_RETURN(bool closed, reader.at_end());
  if (closed) {
    return make_error("migration channel " + channel.name() +
                      ": the peer closed the connection without acknowledging the stream");
  }
  RRVM_ASSIGN_OR_RETURN(Record record, reader.next());
  if (record.kind != RecordKind::Ack) {
    return reader.error_at(
        record.offset, "reply",
        "expected an ack record, got a " + std::string(record_kind_name(record.kind)) + " record");
  }
  bool ok = false;
  std::string error;
  RRVM_TRY(read_message<schema::Ack>(
      record.descriptor, MAX_DESCRIPTOR_BYTES, [&](schema::Ack::Reader r) -> Status {
        ok = r.getOk();
        error = std::string(r.getError().cStr()).substr(0, MAX_ACK_ERROR);
        return ok_status();
      }));
  if (!ok) return make_error(std::string(TARGET_REFUSED) + ": " + error);
  return ok_status();
}

}  // namespace rrvm::migration
