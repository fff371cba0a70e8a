#include "vmm/devices/virtio/status_rules.h"

#include <cstdio>

#include "trace/names.h"
#include "vmm/devices/virtio/virtio_spec.h"

namespace rrvm::virtio {
namespace {

StatusCheck refuse(std::string reason) {
  StatusCheck c;
  c.verdict = StatusVerdict::Refused;
  c.reason = std::move(reason);
  return c;
}

// The ordering rules for the bits a write adds; empty when the order is legal.
std::string check_added_bits(uint32_t current, uint32_t written, uint32_t added) {
  if ((current & STATUS_FAILED) && added != 0) {
    return "the device is FAILED: the driver must reset it before setting " +
           trace::virtio_status_bits(added);
  }
  if ((current & STATUS_DEVICE_NEEDS_RESET) && (added & ~STATUS_FAILED) != 0) {
    return "the device needs a reset: only FAILED or a reset are allowed, not " +
           trace::virtio_status_bits(added);
  }
  if ((added & STATUS_DRIVER) && !(written & STATUS_ACKNOWLEDGE)) {
    return "DRIVER without ACKNOWLEDGE";
  }
  if (added & STATUS_FEATURES_OK) {
    if (!(current & STATUS_DRIVER)) {
      return "FEATURES_OK before DRIVER was set (the driver must negotiate features in between)";
    }
  }
  if (added & STATUS_DRIVER_OK) {
    if (added & STATUS_FEATURES_OK) {
      return "DRIVER_OK in the same write as FEATURES_OK (the driver must read FEATURES_OK back "
             "before setting DRIVER_OK)";
    }
    if (!(current & STATUS_FEATURES_OK)) return "DRIVER_OK without FEATURES_OK";
  }
  return {};
}

}  // namespace

StatusCheck check_status_write(uint32_t current, uint32_t written) {
  if (written & ~0xffu) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "0x%x has bits above the 8-bit status", written);
    return refuse(buf);
  }
  if (written == 0) {
    StatusCheck c;
    c.verdict = StatusVerdict::Reset;
    return c;
  }
  if ((written & STATUS_DEVICE_NEEDS_RESET) && !(current & STATUS_DEVICE_NEEDS_RESET)) {
    return refuse("DEVICE_NEEDS_RESET is set by the device, never by the driver");
  }
  // DEVICE_NEEDS_RESET is the device's: a write without it does not clear it.
  uint32_t cleared = current & ~written & ~STATUS_DEVICE_NEEDS_RESET;
  if (cleared != 0) {
    return refuse("clears " + trace::virtio_status_bits(cleared) +
                  " without a reset (the driver only clears bits by writing 0)");
  }
  uint32_t added = written & ~current;
  if (added == 0) {
    StatusCheck c;
    c.verdict = StatusVerdict::Unchanged;
    c.new_status = current;
    return c;
  }
  std::string order_error = check_added_bits(current, written, added);
  if (!order_error.empty()) return refuse(std::move(order_error));
  StatusCheck c;
  c.verdict = StatusVerdict::Accepted;
  c.new_status = written | (current & STATUS_DEVICE_NEEDS_RESET);
  c.features_ok_added = (added & STATUS_FEATURES_OK) != 0;
  c.driver_ok_added = (added & STATUS_DRIVER_OK) != 0;
  return c;
}

bool is_reachable_status(uint32_t status) {
  if (status & ~STATUS_ALL_BITS) return false;
  uint32_t progress = status & ~(STATUS_FAILED | STATUS_DEVICE_NEEDS_RESET);
  bool legal_progress =
      progress == 0 || progress == STATUS_ACKNOWLEDGE ||
      progress == (STATUS_ACKNOWLEDGE | STATUS_DRIVER) ||
      progress == (STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK) ||
      progress == (STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  if (!legal_progress) return false;
  if ((status & STATUS_DEVICE_NEEDS_RESET) && !(status & STATUS_DRIVER_OK)) return false;
  return true;
}

}  // namespace rrvm::virtio
