// vCPU and VM state as the hypervisor interface exchanges it. Plain data, no <linux/kvm.h>: the
// KVM backend converts; replay and snapshots use these as they are.
//
// Structures KVM defines at a fixed size that rrvm does not interpret (LAPIC page, XSAVE area,
// vCPU events, debug registers, irqchips, PIT) travel as Blob with their KVM size, which
// restore code validates.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trace/events.h"

namespace rrvm::hv {

struct Regs {
  uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
  uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
  uint64_t rip, rflags;
};

struct Segment {
  uint64_t base;
  uint32_t limit;
  uint16_t selector;
  uint8_t type;
  uint8_t present, dpl, db, s, l, g, avl;
  uint8_t unusable;
};

struct DescriptorTable {
  uint64_t base;
  uint16_t limit;
};

struct Sregs {
  Segment cs, ds, es, fs, gs, ss;
  Segment tr, ldt;
  DescriptorTable gdt, idt;
  uint64_t cr0, cr2, cr3, cr4, cr8;
  uint64_t efer;
  uint64_t apic_base;
  std::array<uint64_t, 4> interrupt_bitmap;  // (256 + 63) / 64
};

struct Fpu {
  std::array<uint8_t, 128> fpr;  // 8 x 16 bytes
  uint16_t fcw, fsw;
  uint8_t ftwx;
  uint16_t last_opcode;
  uint64_t last_ip, last_dp;
  std::array<uint8_t, 256> xmm;  // 16 x 16 bytes
  uint32_t mxcsr;
};

using Blob = std::vector<uint8_t>;

struct Xcr {
  uint32_t index;
  uint64_t value;
};

// KVM_MP_STATE_* values.
enum class MpState : uint32_t { Runnable = 0, Uninitialized = 1, InitReceived = 2, Halted = 3, SipiReceived = 4 };

using MsrEntry = trace::MsrEntry;

// KVM_GET_CLOCK / KVM_SET_CLOCK data.
struct ClockData {
  uint64_t clock_ns = 0;
  uint32_t flags = 0;  // CLOCK_FLAG_* below
  uint64_t host_tsc = 0;
  uint64_t realtime_ns = 0;
};
// (Not CLOCK_REALTIME: <time.h> defines that name as a macro.)
inline constexpr uint32_t CLOCK_FLAG_TSC_STABLE = 2;  // KVM_CLOCK_TSC_STABLE
inline constexpr uint32_t CLOCK_FLAG_REALTIME = 4;    // KVM_CLOCK_REALTIME
inline constexpr uint32_t CLOCK_FLAG_HOST_TSC = 8;    // KVM_CLOCK_HOST_TSC

struct CpuidEntry {
  uint32_t function, index, flags;
  uint32_t eax, ebx, ecx, edx;
};

// Why KVM_RUN returned, decoded. Data for I/O points into the vCPU's run area (KVM) or a replay
// buffer: for a read (is_write == false) the exit handler writes the value there before the next
// run().
struct Exit {
  enum class Kind {
    Io,             // port I/O
    Mmio,           // MMIO to an address no memory slot covers
    Hlt,            // only without an in-kernel LAPIC
    Shutdown,       // triple fault
    InternalError,  // KVM could not emulate; suberror + data explain
    FailEntry,      // VM entry failed; detail is the hardware reason
    SystemEvent,    // guest asked for shutdown/reset/crash (PSCI, not x86 usually)
    Interrupted,    // run() returned EINTR/immediate_exit: a kick, not a guest exit
    Other,          // any other exit reason (detail holds it)
  };
  Kind kind = Kind::Other;
  uint64_t address = 0;  // port or guest physical address
  uint32_t size = 0;     // bytes per access
  uint32_t count = 1;    // string I/O repeat count
  bool is_write = false;
  std::span<uint8_t> data;      // size * count bytes
  uint32_t detail = 0;          // suberror / hardware reason / system event type / raw reason
  std::vector<uint64_t> extra;  // internal-error data words
};

trace::ExitKind to_trace_kind(Exit::Kind kind);

// A user memory region (memory slot).
struct MemoryRegion {
  uint32_t slot;
  uint64_t guest_phys_addr;
  uint64_t size;
  uint8_t* host_addr;
  bool log_dirty;
};

struct IoEventFd {
  int fd;
  uint64_t address;
  uint32_t length;        // 0 for any length (MMIO only)
  bool pio;
  bool has_datamatch;
  uint64_t datamatch;
};

}  // namespace rrvm::hv
