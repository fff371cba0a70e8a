#include "vmm/devices/serial.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace rrvm::devices {
namespace {

class CountingIrq : public InterruptLine {
 public:
  Status trigger() override {
    ++count;
    return ok_status();
  }
  int count = 0;
};

// Register offsets.
constexpr uint64_t THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

class SerialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(pipe2(pipe_, O_NONBLOCK | O_CLOEXEC), 0);
    serial_ = std::make_unique<Serial>(
        Serial::Options{.name = "serial0",
                        .output_fd = pipe_[1],
                        .on_line = [this](std::string_view l) { lines_.emplace_back(l); },
                        .irq = irq_});
  }
  void TearDown() override {
    close(pipe_[0]);
    close(pipe_[1]);
  }
  uint8_t in(uint64_t offset) {
    uint8_t v = 0;
    serial_->read(offset, std::span<uint8_t>(&v, 1));
    return v;
  }
  void out(uint64_t offset, uint8_t v) { serial_->write(offset, std::span<const uint8_t>(&v, 1)); }
  void out(const std::string& s) {
    for (char c : s) out(THR, static_cast<uint8_t>(c));
  }
  std::string output() {
    char buf[4096];
    ssize_t n = ::read(pipe_[0], buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

  int pipe_[2];
  std::shared_ptr<CountingIrq> irq_ = std::make_shared<CountingIrq>();
  std::unique_ptr<Serial> serial_;
  std::vector<std::string> lines_;
};

TEST_F(SerialTest, OutputGoesToTheSinkAndLinesToTheCallback) {
  out("rrvm: ready\r\nti");
  out("ck 1\n");
  EXPECT_EQ(output(), "rrvm: ready\r\ntick 1\n");
  EXPECT_EQ(lines_, (std::vector<std::string>{"rrvm: ready", "tick 1"}));
}

TEST_F(SerialTest, ResetValuesMatchA16550) {
  EXPECT_EQ(in(LSR), 0x60);  // THRE | TEMT
  EXPECT_EQ(in(IIR), 0x01);  // no interrupt pending
  EXPECT_EQ(in(IER), 0x00);
  EXPECT_EQ(in(MCR), 0x08);  // OUT2
  EXPECT_EQ(in(MSR), 0xb0);  // DCD | DSR | CTS
}

TEST_F(SerialTest, DivisorLatchIsBehindDlab) {
  out(LCR, 0x83);  // DLAB, 8N1
  out(THR, 0x01);  // DLL: 115200 baud
  out(IER, 0x00);  // DLM
  EXPECT_EQ(in(THR), 0x01);
  EXPECT_EQ(in(IER), 0x00);
  out(LCR, 0x03);
  EXPECT_EQ(in(LCR), 0x03);
  EXPECT_EQ(output(), "");  // the DLL write was not a character
  out(IER, 0x0f);
  EXPECT_EQ(in(IER), 0x0f);
  out(LCR, 0x83);
  EXPECT_EQ(in(THR), 0x01);  // the divisor survived
}

TEST_F(SerialTest, InputIsReadInOrderAndSetsDataReady) {
  const uint8_t bytes[] = {'o', 'k'};
  EXPECT_EQ(serial_->enqueue_input(bytes), 2u);
  EXPECT_EQ(in(LSR)&0x01, 0x01);
  EXPECT_EQ(in(THR), 'o');
  EXPECT_EQ(in(THR), 'k');
  EXPECT_EQ(in(LSR)&0x01, 0x00);
  std::vector<uint8_t> many(100, 'x');
  EXPECT_EQ(serial_->enqueue_input(many), SERIAL_FIFO_SIZE);
}

TEST_F(SerialTest, ThreInterruptFollowsQemu) {
  out(IER, 0x02);  // enable THRE: THR is empty, so it is pending at once
  EXPECT_EQ(irq_->count, 1);
  EXPECT_EQ(in(IIR), 0x02);
  EXPECT_EQ(in(IIR), 0x01);  // reading IIR acknowledged it
  out(THR, 'a');             // the byte leaves at once: THR empty again
  EXPECT_EQ(irq_->count, 2);
  EXPECT_EQ(in(IIR), 0x02);
  out(IER, 0x00);
  out(THR, 'b');
  EXPECT_EQ(irq_->count, 2);  // disabled: no interrupt
  EXPECT_EQ(in(IIR), 0x01);
}

TEST_F(SerialTest, ReceiveInterruptHasPriorityAndClearsWhenDrained) {
  out(IER, 0x03);
  int before = irq_->count;
  const uint8_t byte = 'z';
  serial_->enqueue_input(std::span<const uint8_t>(&byte, 1));
  EXPECT_EQ(irq_->count, before + 1);
  EXPECT_EQ(in(IIR), 0x04);  // RDA before THRE
  EXPECT_EQ(in(THR), 'z');
  EXPECT_EQ(in(IIR), 0x02);  // THRE still pending underneath
  EXPECT_EQ(in(IIR), 0x01);
}

TEST_F(SerialTest, FifoEnableShowsInIir) {
  out(FCR, 0x01);
  EXPECT_EQ(in(IIR)&0xc0, 0xc0);  // Linux's 8250 probe: a 16550A
  out(FCR, 0x00);
  EXPECT_EQ(in(IIR)&0xc0, 0x00);
  const uint8_t byte = 'q';
  serial_->enqueue_input(std::span<const uint8_t>(&byte, 1));
  out(FCR, 0x03);  // clear the receive FIFO
  EXPECT_EQ(in(LSR)&0x01, 0x00);
}

TEST_F(SerialTest, LoopbackForTheLinuxProbe) {
  out(MCR, 0x1a);                 // LOOP | OUT2 | RTS
  EXPECT_EQ(in(MSR)&0xf0, 0x90);  // CTS | DCD, what serial8250's autoconfig expects
  out(MCR, 0x1f);
  EXPECT_EQ(in(MSR)&0xf0, 0xf0);
  out(THR, 'L');  // loops back as input, never reaches the sink
  EXPECT_EQ(in(LSR)&0x01, 0x01);
  EXPECT_EQ(in(THR), 'L');
  EXPECT_EQ(output(), "");
  out(MCR, 0x08);
  EXPECT_EQ(in(MSR), 0xb0);
}

TEST_F(SerialTest, ScratchAndWideAccesses) {
  out(SCR, 0x5a);
  EXPECT_EQ(in(SCR), 0x5a);
  uint8_t two[2];
  serial_->read(5, two);  // LSR and MSR in one 16-bit read
  EXPECT_EQ(two[0], 0x60);
  EXPECT_EQ(two[1], 0xb0);
  uint8_t past[4];
  serial_->read(6, past);  // bytes past the last register read as open bus
  EXPECT_EQ(past[2], 0xff);
  EXPECT_EQ(past[3], 0xff);
  out(LSR, 0x00);  // read-only
  EXPECT_EQ(in(LSR), 0x60);
}

TEST_F(SerialTest, ResetRestoresPowerOnValues) {
  out(LCR, 0x83);
  out(THR, 0x01);
  out(LCR, 0x03);
  out(IER, 0x03);
  out(SCR, 0x11);
  out(MCR, 0x1f);
  const uint8_t byte = 'r';
  serial_->enqueue_input(std::span<const uint8_t>(&byte, 1));
  serial_->reset();
  EXPECT_EQ(in(LCR), 0x00);
  EXPECT_EQ(in(IER), 0x00);
  EXPECT_EQ(in(SCR), 0x00);
  EXPECT_EQ(in(MCR), 0x08);
  EXPECT_EQ(in(LSR), 0x60);
  EXPECT_EQ(in(IIR), 0x01);
  out(LCR, 0x80);
  EXPECT_EQ(in(THR), 0x0c);  // the power-on divisor (9600 baud)
}

TEST_F(SerialTest, SaveRestoreRoundTripAndValidation) {
  out(LCR, 0x03);
  out(IER, 0x01);
  out(SCR, 0x77);
  const uint8_t bytes[] = {'a', 'b', 'c'};
  serial_->enqueue_input(bytes);
  Serial::State s = serial_->save();
  Serial other(Serial::Options{});
  ASSERT_TRUE(other.restore(s).ok());
  Serial::State t = other.save();
  EXPECT_EQ(t.lcr, 0x03);
  EXPECT_EQ(t.ier, 0x01);
  EXPECT_EQ(t.scr, 0x77);
  EXPECT_EQ(t.rx_fifo, (std::vector<uint8_t>{'a', 'b', 'c'}));
  uint8_t v;
  other.read(0, std::span<uint8_t>(&v, 1));
  EXPECT_EQ(v, 'a');

  Serial::State bad = s;
  bad.rx_fifo.assign(65, 0);
  auto st = other.restore(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("receive FIFO holds 65 bytes"), std::string::npos);
  bad = s;
  bad.ier = 0xf1;
  EXPECT_FALSE(other.restore(bad).ok());
  bad = s;
  bad.lsr = 0x61;
  EXPECT_FALSE(other.restore(bad).ok());
  EXPECT_EQ(other.save().scr, 0x77);  // a refused restore changed nothing
}

}  // namespace
}  // namespace rrvm::devices
