// The device-status rules of virtio 1.x (§2.1, §3.1.1) as pure functions.
//
// The transport asks check_status_write() what a driver's write to the status register means,
// then acts on the verdict (reset, feature check, activation) and records it. Keeping the rules
// pure makes the whole table testable without a device, and lets restore() reuse
// is_reachable_status() to reject a snapshot with a status no driver could have produced.
#pragma once

#include <cstdint>
#include <string>

namespace rrvm::virtio {

enum class StatusVerdict : uint8_t {
  Refused,    // illegal: the status register keeps its old value
  Reset,      // the driver wrote 0
  Unchanged,  // the driver wrote back the current value (Linux's virtio_add_status does this)
  Accepted,   // bits added in a legal order; see the flags below for what the transport must do
};

struct StatusCheck {
  StatusVerdict verdict = StatusVerdict::Refused;
  uint32_t new_status = 0;         // the value to store when accepted
  bool features_ok_added = false;  // transport must check the negotiated features first
  bool driver_ok_added = false;    // transport must activate the device
  std::string reason;              // why it was refused (empty otherwise)
};

// Decides a driver's write of `written` while the device status is `current`.
//
// Rules: 0 resets. Otherwise the driver only adds bits (it never clears one except by writing 0),
// DEVICE_NEEDS_RESET belongs to the device (the driver may write it back, never set it), and
// bits are added in the order of §3.1.1: ACKNOWLEDGE, DRIVER, then FEATURES_OK in a later write
// than DRIVER (features are written in between), then DRIVER_OK in a later write than
// FEATURES_OK (the driver must read FEATURES_OK back first). FAILED may be added at any time.
// Once FAILED, or once the device needs a reset, nothing but FAILED may be added.
StatusCheck check_status_write(uint32_t current, uint32_t written);

// True when some sequence of legal driver writes and device actions leads to `status`
// (0, 1, 3, 11, 15, each optionally with FAILED; DEVICE_NEEDS_RESET only after DRIVER_OK was
// written, since rrvm sets it only on failed activation or a broken queue).
bool is_reachable_status(uint32_t status);

}  // namespace rrvm::virtio
