// A 16550A UART (the PC's COM1 at 0x3f8, IRQ 4): enough of it for Linux's 8250 driver (probe,
// FIFO detection, loopback test, THRE and RX interrupts) and for the rrvm guest's console.
//
// Registers (offset, DLAB = LCR bit 7):
//   0  RBR (read) / THR (write) / DLL when DLAB    4  MCR
//   1  IER / DLM when DLAB                          5  LSR
//   2  IIR (read) / FCR (write)                     6  MSR
//   3  LCR                                          7  SCR
// Transmission is instantaneous (THR is always empty again right after a write), as in QEMU and
// Firecracker. Interrupts follow QEMU's serial.c: enabling the THRE interrupt while THR is empty
// raises it at once; reading IIR when it reports THRE clears it; received data raises RDA until
// RBR is drained. Each time an interrupt becomes pending the line is triggered (an edge: the
// machine wires it to an ISA, edge-triggered GSI through an irqfd).
//
// Threading: guest accesses come from vCPU threads, input from the machine's console thread;
// one mutex guards the registers. Output and the line callback run under that mutex, so they must
// not call back into the device.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vmm/base/result.h"
#include "vmm/core/io_bus.h"

namespace rrvm::devices {

inline constexpr uint64_t COM1_PORT = 0x3f8;
inline constexpr uint64_t SERIAL_PORT_COUNT = 8;
inline constexpr uint32_t COM1_IRQ = 4;
inline constexpr size_t SERIAL_FIFO_SIZE = 64;  // receive FIFO, as Firecracker's

class Serial : public BusDevice {
 public:
  struct Options {
    std::string name = "serial0";
    // Where the guest's output goes, e.g. STDOUT_FILENO or a file the machine opened; -1 for
    // nowhere. Not owned: it must stay open while the device lives.
    int output_fd = -1;
    // Called with each complete output line (without "\n" and a trailing "\r"), e.g. to watch for
    // the guest's ready marker. Runs on the vCPU thread that wrote the line's last byte.
    std::function<void(std::string_view line)> on_line;
    // Raised when an interrupt becomes pending; may be null (the guest then polls).
    std::shared_ptr<InterruptLine> irq;
  };

  // Register state for snapshots (Persist pattern).
  struct State {
    uint8_t ier = 0, lcr = 0, mcr = 0, lsr = 0, msr = 0, scr = 0, dll = 0, dlm = 0;
    uint8_t fcr = 0;
    bool thr_interrupt_pending = false;
    std::vector<uint8_t> rx_fifo;  // at most SERIAL_FIFO_SIZE bytes
  };

  explicit Serial(Options options);

  std::string name() const override { return options_.name; }
  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

  // Power-on register values, empty FIFO (system reset).
  void reset();

  // Host input (the console): queues up to the free FIFO space; returns how many bytes it took.
  size_t enqueue_input(std::span<const uint8_t> bytes);

  State save() const;
  // Validates `state` (reserved bits, FIFO size) before applying any of it.
  Status restore(const State& state);

 private:
  uint8_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint8_t value);
  void transmit(uint8_t byte);
  uint8_t modem_status() const;
  uint8_t interrupt_identification() const;
  void update_interrupt(bool event_pending);
  bool interrupt_pending() const { return (interrupt_identification() & 0x01) == 0; }

  Options options_;
  mutable std::mutex mu_;
  uint8_t ier_ = 0, lcr_ = 0, mcr_, lsr_, msr_, scr_ = 0, dll_ = 0x0c, dlm_ = 0, fcr_ = 0;
  bool thr_interrupt_pending_ = false;
  std::deque<uint8_t> rx_;
  std::string line_;  // output since the last newline, for on_line
};

}  // namespace rrvm::devices
