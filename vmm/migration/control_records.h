// The stream's small control payloads: the "globalstate" section (the source's run state) and the
// target's Ack on a live channel.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trace/events.h"
#include "vmm/base/result.h"
#include "vmm/migration/channel.h"

namespace rrvm::migration {

inline constexpr char GLOBAL_STATE_SECTION[] = "globalstate";
inline constexpr uint32_t GLOBAL_STATE_VERSION = 1;

std::vector<uint8_t> encode_global_state(trace::RunState state);
// Errors for malformed bytes and for a value outside the run-state enum.
Result<trace::RunState> decode_global_state(std::span<const uint8_t> data);

// Target -> source after the End record: whether the target accepted the stream.
Status send_ack(Channel& channel, bool ok, const std::string& error);
// Prefix of the error receive_ack() returns when the target refused the stream.
inline constexpr char TARGET_REFUSED[] = "the migration target refused the stream";

// Source: waits for the target's Ack; an error if it refused (with its reason) or went away.
Status receive_ack(Channel& channel);

}  // namespace rrvm::migration
