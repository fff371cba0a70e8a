// vCPU and VM state get/set round trips, interrupts, eventfds and dirty logging through the KVM
// backend. Blob offsets below are those of struct kvm_* in Linux's x86 uapi headers.
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tests/hv/kvm_guest.h"

namespace rrvm::hv::testing {
namespace {

template <typename T>
T blob_get(const Blob& b, size_t offset) {
  T v;
  std::memcpy(&v, b.data() + offset, sizeof v);
  return v;
}

template <typename T>
void blob_put(Blob& b, size_t offset, T v) {
  std::memcpy(b.data() + offset, &v, sizeof v);
}

bool same_segment(const Segment& a, const Segment& b) {
  return a.base == b.base && a.limit == b.limit && a.selector == b.selector && a.type == b.type &&
         a.present == b.present && a.dpl == b.dpl && a.db == b.db && a.s == b.s && a.l == b.l &&
         a.g == b.g;
}

TEST(KvmState, RegsRoundTrip) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.create());
  Regs r{};
  uint64_t* words = &r.rax;
  for (int i = 0; i < 18; ++i) words[i] = 0x1000 + i * 0x11;
  r.rflags = 0x202;
  RRVM_ASSERT_OK(g.vcpu->set_regs(r));
  auto got = g.vcpu->get_regs();
  RRVM_ASSERT_OK(got);
  EXPECT_EQ(std::memcmp(&*got, &r, sizeof r), 0);
}

TEST(KvmState, SregsRoundTripInLongMode) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.create({.irqchip = true}));
  auto initial = g.vcpu->get_sregs();
  RRVM_ASSERT_OK(initial);
  Sregs want = *initial;
  apply_long_mode_sregs(want, test_layout());
  RRVM_ASSERT_OK(g.vcpu->set_sregs(want));
  auto got = g.vcpu->get_sregs();
  RRVM_ASSERT_OK(got);
  EXPECT_EQ(got->cr0, want.cr0);
  EXPECT_EQ(got->cr3, want.cr3);
  EXPECT_EQ(got->cr4, want.cr4);
  EXPECT_EQ(got->efer & (EFER_LME | EFER_LMA), EFER_LME | EFER_LMA);
  EXPECT_EQ(got->apic_base, initial->apic_base);
  for (auto [a, b] : {std::pair{&got->cs, &want.cs}, {&got->ss, &want.ss}, {&got->tr, &want.tr}}) {
    EXPECT_TRUE(same_segment(*a, *b)) << "selector " << b->selector;
  }
  EXPECT_EQ(got->gdt.base, want.gdt.base);
  EXPECT_EQ(got->gdt.limit, want.gdt.limit);
  // Setting what was read back changes nothing.
  RRVM_ASSERT_OK(g.vcpu->set_sregs(*got));
  auto again = g.vcpu->get_sregs();
  RRVM_ASSERT_OK(again);
  EXPECT_EQ(again->cr0, got->cr0);
  EXPECT_EQ(again->efer, got->efer);
  EXPECT_TRUE(same_segment(again->cs, got->cs));
}

TEST(KvmState, FpuXsaveAndXcrs) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.create());
  auto fpu = g.vcpu->get_fpu();
  RRVM_ASSERT_OK(fpu);
  Fpu f = *fpu;
  f.fcw = 0x27f;
  f.xmm[0] = 0xab;
  f.xmm[255] = 0xcd;
  RRVM_ASSERT_OK(g.vcpu->set_fpu(f));
  auto f2 = g.vcpu->get_fpu();
  RRVM_ASSERT_OK(f2);
  EXPECT_EQ(f2->fcw, 0x27f);
  EXPECT_EQ(f2->xmm[0], 0xab);
  EXPECT_EQ(f2->xmm[255], 0xcd);

  auto xsave = g.vcpu->get_xsave();
  RRVM_ASSERT_OK(xsave);
  ASSERT_GE(xsave->size(), 4096u);
  // Legacy region: FCW at 0, XMM0 at 160; the XSAVE header's XSTATE_BV at 512 must mark x87 and
  // SSE as present, or KVM loads their init state instead. (KVM_SET_FPU does not touch XSTATE_BV,
  // so the FPU state set above need not show here: rrvm uses one form or the other, as QEMU.)
  Blob changed = *xsave;
  blob_put<uint16_t>(changed, 0, 0x37b);
  changed[160] = 0x5e;
  blob_put<uint64_t>(changed, 512, blob_get<uint64_t>(changed, 512) | 0x3);
  RRVM_ASSERT_OK(g.vcpu->set_xsave(changed));
  auto xsave2 = g.vcpu->get_xsave();
  RRVM_ASSERT_OK(xsave2);
  EXPECT_EQ(blob_get<uint16_t>(*xsave2, 0), 0x37b);
  EXPECT_EQ((*xsave2)[160], 0x5e);
  auto f3 = g.vcpu->get_fpu();
  RRVM_ASSERT_OK(f3);
  EXPECT_EQ(f3->fcw, 0x37b);  // both views show the state set through XSAVE
  EXPECT_EQ(f3->xmm[0], 0x5e);
  Status bad = g.vcpu->set_xsave(Blob(100, 0));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("XSAVE area is 100 bytes"), std::string::npos);

  auto xcrs = g.vcpu->get_xcrs();
  RRVM_ASSERT_OK(xcrs);
  ASSERT_FALSE(xcrs->empty());
  EXPECT_EQ((*xcrs)[0].index, 0u);
  EXPECT_TRUE((*xcrs)[0].value & 1);  // XCR0.x87 is always set
  RRVM_ASSERT_OK(g.vcpu->set_xcrs(*xcrs));
  EXPECT_FALSE(g.vcpu->set_xcrs(std::vector<Xcr>(17, Xcr{0, 1})).ok());
}

TEST(KvmState, LapicEventsMpStateDebugregs) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.create({.irqchip = true}));

  auto lapic = g.vcpu->get_lapic();
  RRVM_ASSERT_OK(lapic);
  ASSERT_EQ(lapic->size(), 1024u);
  Blob l = *lapic;
  blob_put<uint32_t>(l, 0x80, 0x20);  // TPR
  RRVM_ASSERT_OK(g.vcpu->set_lapic(l));
  auto l2 = g.vcpu->get_lapic();
  RRVM_ASSERT_OK(l2);
  EXPECT_EQ(blob_get<uint32_t>(*l2, 0x80), 0x20u);
  Status bad = g.vcpu->set_lapic(Blob(1000, 0));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "KVM_SET_LAPIC (vcpu 0): state is 1000 bytes, KVM's structure has 1024");

  auto events = g.vcpu->get_vcpu_events();
  RRVM_ASSERT_OK(events);
  ASSERT_EQ(events->size(), 64u);
  RRVM_ASSERT_OK(g.vcpu->set_vcpu_events(*events));
  auto events2 = g.vcpu->get_vcpu_events();
  RRVM_ASSERT_OK(events2);
  EXPECT_EQ(*events2, *events);

  RRVM_ASSERT_OK(g.vcpu->set_mp_state(MpState::Halted));
  auto mp = g.vcpu->get_mp_state();
  RRVM_ASSERT_OK(mp);
  EXPECT_EQ(*mp, MpState::Halted);
  RRVM_ASSERT_OK(g.vcpu->set_mp_state(MpState::Runnable));
  mp = g.vcpu->get_mp_state();
  RRVM_ASSERT_OK(mp);
  EXPECT_EQ(*mp, MpState::Runnable);

  auto dr = g.vcpu->get_debugregs();
  RRVM_ASSERT_OK(dr);
  ASSERT_EQ(dr->size(), 128u);
  Blob d = *dr;
  blob_put<uint64_t>(d, 0, 0x12345000);  // DR0
  blob_put<uint64_t>(d, 24, 0xabcde000);  // DR3
  RRVM_ASSERT_OK(g.vcpu->set_debugregs(d));
  auto dr2 = g.vcpu->get_debugregs();
  RRVM_ASSERT_OK(dr2);
  EXPECT_EQ(blob_get<uint64_t>(*dr2, 0), 0x12345000u);
  EXPECT_EQ(blob_get<uint64_t>(*dr2, 24), 0xabcde000u);
}

TEST(KvmState, IrqchipsAndPit) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.create({.irqchip = true}));
  for (uint32_t chip = 0; chip < 3; ++chip) {
    auto state = g.vm->get_irqchip(chip);
    RRVM_ASSERT_OK(state);
    ASSERT_EQ(state->size(), 512u);
    RRVM_ASSERT_OK(g.vm->set_irqchip(chip, *state));
  }
  // IOAPIC (kvm_ioapic_state): redirection entry 5 at 24 + 5 * 8: masked, vector 0x30.
  auto ioapic = g.vm->get_irqchip(2);
  RRVM_ASSERT_OK(ioapic);
  Blob io = *ioapic;
  blob_put<uint64_t>(io, 24 + 5 * 8, (1ull << 16) | 0x30);
  RRVM_ASSERT_OK(g.vm->set_irqchip(2, io));
  auto io2 = g.vm->get_irqchip(2);
  RRVM_ASSERT_OK(io2);
  EXPECT_EQ(blob_get<uint64_t>(*io2, 24 + 5 * 8), (1ull << 16) | 0x30);
  EXPECT_FALSE(g.vm->get_irqchip(3).ok());
  EXPECT_FALSE(g.vm->set_irqchip(0, Blob(511, 0)).ok());

  // kvm_pit_state2: three 24-byte channels (count_load_time, a timestamp, at 16..23 of each).
  auto pit = g.vm->get_pit();
  RRVM_ASSERT_OK(pit);
  ASSERT_EQ(pit->size(), 112u);
  Blob p = *pit;
  blob_put<uint32_t>(p, 0, 0x1234);  // channel 0 count
  p[13] = 2;                         // channel 0 mode: rate generator
  RRVM_ASSERT_OK(g.vm->set_pit(p));
  auto pit2 = g.vm->get_pit();
  RRVM_ASSERT_OK(pit2);
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_EQ(std::memcmp(pit2->data() + c * 24, p.data() + c * 24, 16), 0) << "channel " << c;
  }
  EXPECT_FALSE(g.vm->set_pit(Blob(8, 0)).ok());
}

// PIC master (kvm_pic_state): irr is byte 1.
bool pic_irr_bit(Vm& vm, int irq) {
  auto pic = vm.get_irqchip(0);
  EXPECT_TRUE(pic.ok());
  return pic.ok() && (((*pic)[1] >> irq) & 1);
}

TEST(KvmState, IrqLineAndIrqfdRaiseThePicInput) {
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.create({.irqchip = true}));
  EXPECT_FALSE(pic_irr_bit(*g.vm, 3));
  RRVM_ASSERT_OK(g.vm->set_irq_line(3, true));
  EXPECT_TRUE(pic_irr_bit(*g.vm, 3));
  RRVM_ASSERT_OK(g.vm->set_irq_line(3, false));

  Fd efd(::eventfd(0, EFD_CLOEXEC));
  ASSERT_TRUE(efd.valid());
  RRVM_ASSERT_OK(g.vm->irqfd(efd.get(), 4, true));
  EXPECT_FALSE(pic_irr_bit(*g.vm, 4));
  const uint64_t one = 1;
  ASSERT_EQ(::write(efd.get(), &one, sizeof one), 8);
  // KVM injects from a work queue: wait for it.
  bool raised = false;
  for (int i = 0; i < 200 && !raised; ++i) {
    raised = pic_irr_bit(*g.vm, 4);
    if (!raised) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(raised);
  RRVM_ASSERT_OK(g.vm->irqfd(efd.get(), 4, false));
  Status bad = g.vm->irqfd(-1, 5, true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "KVM_IRQFD (gsi 5)");
}

uint64_t eventfd_count(const Fd& fd) {
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, 0) != 1) return 0;
  uint64_t v = 0;
  EXPECT_EQ(::read(fd.get(), &v, sizeof v), 8);
  return v;
}

TEST(KvmState, IoeventfdsTakeMatchingWritesWithoutAnExit) {
  const uint8_t code[] = {
      0x66, 0xba, 0x00, 0x06,        // mov dx, 0x600
      0xb0, 0x07,                    // mov al, 7
      0xee,                          // out dx, al          ; matches: eventfd, no exit
      0xb0, 0x08,                    // mov al, 8
      0xee,                          // out dx, al          ; no match: an I/O exit
      0xb8, 0x00, 0x00, 0x00, 0xd0,  // mov eax, 0xd0000000
      0xc7, 0x00, 0x01, 0x00, 0x00, 0x00,  // mov dword [rax], 1 ; MMIO eventfd, any value
      0xe6, 0x10,                    // out 0x10, al        ; done
      0xeb, 0xfe,                    // jmp $
  };
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.start(code, {.irqchip = true}));
  Fd pio(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  Fd mmio(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  const IoEventFd pio_ev{.fd = pio.get(), .address = 0x600, .length = 1, .pio = true,
                         .has_datamatch = true, .datamatch = 7};
  const IoEventFd mmio_ev{.fd = mmio.get(), .address = 0xd0000000, .length = 4, .pio = false};
  RRVM_ASSERT_OK(g.vm->ioeventfd(pio_ev, true));
  RRVM_ASSERT_OK(g.vm->ioeventfd(mmio_ev, true));

  auto e = g.vcpu->run();
  RRVM_ASSERT_OK(e);
  ASSERT_EQ(e->kind, Exit::Kind::Io);
  EXPECT_EQ(e->address, 0x600u);
  EXPECT_EQ(e->data[0], 8);
  EXPECT_EQ(eventfd_count(pio), 1u);
  auto done = g.vcpu->run();
  RRVM_ASSERT_OK(done);
  ASSERT_EQ(done->kind, Exit::Kind::Io);
  EXPECT_EQ(done->address, 0x10u);
  EXPECT_EQ(eventfd_count(mmio), 1u);

  RRVM_ASSERT_OK(g.vm->ioeventfd(pio_ev, false));
  Status again = g.vm->ioeventfd(pio_ev, false);  // nothing left to remove
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("KVM_IOEVENTFD (port 0x600, deassign)"), std::string::npos);
}

TEST(KvmState, DirtyLogSeesGuestWrites) {
  const uint8_t code[] = {
      0xc6, 0x04, 0x25, 0x00, 0x50, 0x00, 0x00, 0x01,  // mov byte [0x5000], 1
      0xc6, 0x04, 0x25, 0x00, 0x00, 0x18, 0x00, 0x02,  // mov byte [0x180000], 2
      0xe6, 0x10,                                      // out 0x10, al
      0xeb, 0xfe,                                      // jmp $
  };
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.start(code, {.log_dirty = true}));
  auto bits_of = [](const std::vector<uint64_t>& bitmap, uint64_t gpa) {
    const uint64_t page = gpa / 4096;
    return (bitmap[page / 64] >> (page % 64)) & 1;
  };
  auto first = g.vm->get_dirty_log(0, RAM_BYTES);
  RRVM_ASSERT_OK(first);
  ASSERT_EQ(first->size(), RAM_BYTES / 4096 / 64);
  auto e = g.vcpu->run();
  RRVM_ASSERT_OK(e);
  ASSERT_EQ(e->address, 0x10u);
  auto log = g.vm->get_dirty_log(0, RAM_BYTES);
  RRVM_ASSERT_OK(log);
  EXPECT_TRUE(bits_of(*log, 0x5000));
  EXPECT_TRUE(bits_of(*log, 0x180000));
  EXPECT_FALSE(bits_of(*log, 0x100000));  // never touched
  // The log is cleared by each call.
  auto again = g.vm->get_dirty_log(0, RAM_BYTES);
  RRVM_ASSERT_OK(again);
  EXPECT_FALSE(bits_of(*again, 0x5000));
  EXPECT_FALSE(g.vm->get_dirty_log(7, RAM_BYTES).ok());  // no such slot
}

}  // namespace
}  // namespace rrvm::hv::testing
