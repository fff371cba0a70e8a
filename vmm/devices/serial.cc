#include "vmm/devices/serial.h"

#include <unistd.h>

#include <cerrno>

#include "vmm/base/log.h"

namespace rrvm::devices {
namespace {

// Register offsets.
constexpr uint64_t RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

constexpr uint8_t IER_RDI = 0x01, IER_THRI = 0x02, IER_MASK = 0x0f;
constexpr uint8_t IIR_NO_INT = 0x01, IIR_THRI = 0x02, IIR_RDI = 0x04, IIR_FIFO_ENABLED = 0xc0;
constexpr uint8_t FCR_ENABLE = 0x01, FCR_CLEAR_RCVR = 0x02, FCR_TRIGGER_MASK = 0xc0;
constexpr uint8_t LCR_DLAB = 0x80;
constexpr uint8_t MCR_LOOP = 0x10, MCR_MASK = 0x1f, MCR_OUT2 = 0x08;
constexpr uint8_t LSR_DR = 0x01, LSR_THRE = 0x20, LSR_TEMT = 0x40;
constexpr uint8_t MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_DCD = 0x80;
constexpr size_t MAX_LINE = 4096;  // a longer line is handed to on_line in pieces

}  // namespace

Serial::Serial(Options options)
    : options_(std::move(options)),
      mcr_(MCR_OUT2),
      lsr_(LSR_THRE | LSR_TEMT),
      msr_(MSR_DCD | MSR_DSR | MSR_CTS) {}

void Serial::reset() {
  std::lock_guard lock(mu_);
  ier_ = 0, lcr_ = 0, mcr_ = MCR_OUT2, lsr_ = LSR_THRE | LSR_TEMT;
  msr_ = MSR_DCD | MSR_DSR | MSR_CTS, scr_ = 0, dll_ = 0x0c, dlm_ = 0, fcr_ = 0;
  thr_interrupt_pending_ = false;
  rx_.clear();
}

void Serial::read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  // Byte-wide registers: a wider access reads consecutive registers, as QEMU's memory API does.
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < SERIAL_PORT_COUNT ? read_register(offset + i) : 0xff;
  }
}

void Serial::write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < data.size(); ++i) {
    if (offset + i < SERIAL_PORT_COUNT) write_register(offset + i, data[i]);
  }
}

uint8_t Serial::modem_status() const {
  if (!(mcr_ & MCR_LOOP)) return msr_;
  // Loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD (Linux's 8250 probe checks this).
  return static_cast<uint8_t>(((mcr_ & 0x0c) << 4) | ((mcr_ & 0x02) << 3) | ((mcr_ & 0x01) << 5));
}

uint8_t Serial::interrupt_identification() const {
  uint8_t iir = IIR_NO_INT;
  if ((ier_ & IER_RDI) && !rx_.empty()) {
    iir = IIR_RDI;
  } else if ((ier_ & IER_THRI) && thr_interrupt_pending_) {
    iir = IIR_THRI;
  }
  return (fcr_ & FCR_ENABLE) ? static_cast<uint8_t>(iir | IIR_FIFO_ENABLED) : iir;
}

// Triggers the line when `event_pending` (an interrupt source that just became active) is
// enabled: each new event is one edge, like Firecracker's serial.
void Serial::update_interrupt(bool event_pending) {
  if (event_pending && interrupt_pending() && options_.irq) {
    if (auto st = options_.irq->trigger(); !st.ok()) {
      spdlog::warn("{}: raising the interrupt failed: {}", options_.name, st.error().describe());
    }
  }
}

uint8_t Serial::read_register(uint64_t offset) {
  bool dlab = lcr_ & LCR_DLAB;
  switch (offset) {
    case RBR_THR: {
      if (dlab) return dll_;
      if (rx_.empty()) return 0;
      uint8_t byte = rx_.front();
      rx_.pop_front();
      return byte;
    }
    case IER:
      return dlab ? dlm_ : ier_;
    case IIR_FCR: {
      uint8_t iir = interrupt_identification();
      // Reading IIR while it reports THRE acknowledges that interrupt (16550 datasheet).
      if ((iir & 0x0f) == IIR_THRI) thr_interrupt_pending_ = false;
      return iir;
    }
    case LCR:
      return lcr_;
    case MCR:
      return mcr_;
    case LSR:
      return static_cast<uint8_t>(lsr_ | (rx_.empty() ? 0 : LSR_DR));
    case MSR:
      return modem_status();
    case SCR:
      return scr_;
  }
  return 0xff;
}

void Serial::write_register(uint64_t offset, uint8_t value) {
  bool dlab = lcr_ & LCR_DLAB;
  switch (offset) {
    case RBR_THR:
      if (dlab) {
        dll_ = value;
        return;
      }
      transmit(value);
      return;
    case IER: {
      if (dlab) {
        dlm_ = value;
        return;
      }
      uint8_t enabled = static_cast<uint8_t>((value & IER_MASK) & ~ier_);
      ier_ = value & IER_MASK;
      // THR is always empty here, so enabling THRI raises it at once (QEMU's serial.c).
      if (enabled & IER_THRI) thr_interrupt_pending_ = true;
      update_interrupt((enabled & IER_THRI) || ((enabled & IER_RDI) && !rx_.empty()));
      return;
    }
    case IIR_FCR:
      if (value & FCR_CLEAR_RCVR) rx_.clear();
      fcr_ = value & (FCR_ENABLE | FCR_TRIGGER_MASK);
      return;
    case LCR:
      lcr_ = value;
      return;
    case MCR:
      mcr_ = value & MCR_MASK;
      return;
    case LSR:
    case MSR:
      return;  // read-only (factory test registers)
    case SCR:
      scr_ = value;
      return;
  }
}

void Serial::transmit(uint8_t byte) {
  if (mcr_ & MCR_LOOP) {
    // Loopback: the byte comes back as input and never leaves the UART.
    bool was_empty = rx_.empty();
    if (rx_.size() < SERIAL_FIFO_SIZE) rx_.push_back(byte);
    update_interrupt(was_empty && (ier_ & IER_RDI));
  } else {
    if (options_.output_fd >= 0) {
      ssize_t n;
      do {
        n = ::write(options_.output_fd, &byte, 1);
      } while (n < 0 && errno == EINTR);
    }
    if (options_.on_line) {
      if (byte == '\n' || line_.size() >= MAX_LINE) {
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        options_.on_line(line_);
        line_.clear();
      }
      if (byte != '\n') line_.push_back(static_cast<char>(byte));
    }
  }
  // The byte left at once: THR is empty again, which is a THRE interrupt event.
  thr_interrupt_pending_ = true;
  update_interrupt(ier_ & IER_THRI);
}

size_t Serial::enqueue_input(std::span<const uint8_t> bytes) {
  std::lock_guard lock(mu_);
  bool was_empty = rx_.empty();
  size_t taken = 0;
  while (taken < bytes.size() && rx_.size() < SERIAL_FIFO_SIZE) rx_.push_back(bytes[taken++]);
  update_interrupt(was_empty && taken > 0 && (ier_ & IER_RDI));
  return taken;
}

Serial::State Serial::save() const {
  std::lock_guard lock(mu_);
  State s;
  s.ier = ier_, s.lcr = lcr_, s.mcr = mcr_, s.lsr = lsr_, s.msr = msr_, s.scr = scr_;
  s.dll = dll_, s.dlm = dlm_, s.fcr = fcr_;
  s.thr_interrupt_pending = thr_interrupt_pending_;
  s.rx_fifo.assign(rx_.begin(), rx_.end());
  return s;
}

Status Serial::restore(const State& s) {
  auto bad = [&](const std::string& what) {
    return make_error(options_.name + ": invalid saved state: " + what);
  };
  if (s.ier & ~IER_MASK) return bad("IER has reserved bits set");
  if (s.mcr & ~MCR_MASK) return bad("MCR has reserved bits set");
  if (s.fcr & ~(FCR_ENABLE | FCR_TRIGGER_MASK)) return bad("FCR has reserved bits set");
  // rrvm's UART transmits instantly and never reports line errors: only THRE|TEMT are possible.
  if (s.lsr != (LSR_THRE | LSR_TEMT)) return bad("LSR is not THRE|TEMT");
  if (s.rx_fifo.size() > SERIAL_FIFO_SIZE) {
    return bad("receive FIFO holds " + std::to_string(s.rx_fifo.size()) + " bytes (max " +
               std::to_string(SERIAL_FIFO_SIZE) + ")");
  }
  std::lock_guard lock(mu_);
  ier_ = s.ier, lcr_ = s.lcr, mcr_ = s.mcr, lsr_ = s.lsr, msr_ = s.msr, scr_ = s.scr;
  dll_ = s.dll, dlm_ = s.dlm, fcr_ = s.fcr;
  thr_interrupt_pending_ = s.thr_interrupt_pending;
  rx_.assign(s.rx_fifo.begin(), s.rx_fifo.end());
  return ok_status();
}

}  // namespace rrvm::devices
