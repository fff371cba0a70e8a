// The I/O buses: a vCPU's port-I/O or MMIO exit is dispatched to the device that owns the address.
//
// Devices implement BusDevice; the machine inserts them into the PIO bus (serial 0x3f8, debug-exit
// 0x501) or the MMIO bus (virtio-mmio windows). Dispatch happens on the vCPU thread that exited,
// so a device that is also used from another thread (an I/O thread, the monitor) locks itself.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>

#include "vmm/base/result.h"

namespace rrvm {

class BusDevice {
 public:
  virtual ~BusDevice() = default;
  virtual std::string name() const = 0;
  // offset is relative to the start of the device's range. For a read, fill `data` (its size is
  // the access size); a device that has nothing there returns all ones, like real hardware.
  virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

// An edge-triggered interrupt a device raises (KVM irqfd, or a direct IRQ line in tests).
class InterruptLine {
 public:
  virtual ~InterruptLine() = default;
  virtual Status trigger() = 0;
};

class IoBus {
 public:
  explicit IoBus(std::string name) : name_(std::move(name)) {}

  // Error when [base, base + size) overlaps a range already inserted.
  Status insert(uint64_t base, uint64_t size, std::shared_ptr<BusDevice> device);

  // Swaps the device at `base` (a device restored from a snapshot takes its predecessor's place).
  // nullptr leaves the range reserved but vacant: accesses then behave as if nothing were there.
  Status replace(uint64_t base, std::shared_ptr<BusDevice> device);

  // False when no device covers the access (the caller records it and reads all ones).
  bool read(uint64_t addr, std::span<uint8_t> data) const;
  bool write(uint64_t addr, std::span<const uint8_t> data) const;

  // The device covering addr and its base, or nullptr.
  std::shared_ptr<BusDevice> find(uint64_t addr, uint64_t* base = nullptr) const;

 private:
  struct Range {
    uint64_t size;
    std::shared_ptr<BusDevice> device;
  };
  std::string name_;
  mutable std::shared_mutex mu_;       // insert (setup) vs dispatch (vCPU threads)
  std::map<uint64_t, Range> ranges_;   // keyed by base
};

}  // namespace rrvm
