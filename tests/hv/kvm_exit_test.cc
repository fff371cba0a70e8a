// KVM exits decoded into hv::Exit, with tiny hand-assembled guests (assembly in the comments).
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "tests/hv/kvm_guest.h"

namespace rrvm::hv::testing {
namespace {

// Runs until the next exit that is not a spurious Interrupted one.
Result<Exit> next_exit(Vcpu& vcpu) { return vcpu.run(); }

void expect_io(const Exit& e, uint16_t port, uint32_t size, bool is_write) {
  EXPECT_EQ(e.kind, Exit::Kind::Io);
  EXPECT_EQ(e.address, port);
  EXPECT_EQ(e.size, size);
  EXPECT_EQ(e.is_write, is_write);
  EXPECT_EQ(e.data.size(), size * e.count);
}

TEST(KvmExit, PortOutAndInWithTheValueTheHostSupplies) {
  const uint8_t code[] = {
      0xb0, 0x42,                    // mov al, 0x42
      0xe6, 0x10,                    // out 0x10, al
      0xe4, 0x11,                    // in al, 0x11
      0xe6, 0x12,                    // out 0x12, al        ; echo what the host supplied
      0x66, 0xba, 0x20, 0x00,        // mov dx, 0x20
      0xb8, 0x78, 0x56, 0x34, 0x12,  // mov eax, 0x12345678
      0xef,                          // out dx, eax
      0xeb, 0xfe,                    // jmp $
  };
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.start(code));

  auto out = next_exit(*g.vcpu);
  RRVM_ASSERT_OK(out);
  expect_io(*out, 0x10, 1, true);
  EXPECT_EQ(out->data[0], 0x42);

  auto in = next_exit(*g.vcpu);
  RRVM_ASSERT_OK(in);
  expect_io(*in, 0x11, 1, false);
  in->data[0] = 0x5a;  // the exit handler's answer, handed to the guest by the next KVM_RUN

  auto echo = next_exit(*g.vcpu);
  RRVM_ASSERT_OK(echo);
  expect_io(*echo, 0x12, 1, true);
  EXPECT_EQ(echo->data[0], 0x5a);

  auto wide = next_exit(*g.vcpu);
  RRVM_ASSERT_OK(wide);
  expect_io(*wide, 0x20, 4, true);
  uint32_t v;
  std::memcpy(&v, wide->data.data(), 4);
  EXPECT_EQ(v, 0x12345678u);
}

TEST(KvmExit, StringIoDataPointsIntoTheRunArea) {
  const uint8_t code[] = {
      0xbe, 0x00, 0x50, 0x00, 0x00,  // mov esi, 0x5000
      0xb9, 0x03, 0x00, 0x00, 0x00,  // mov ecx, 3
      0x66, 0xba, 0x30, 0x00,        // mov dx, 0x30
      0xf3, 0x6e,                    // rep outsb           ; "abc" to port 0x30
      0xbf, 0x00, 0x60, 0x00, 0x00,  // mov edi, 0x6000
      0xb9, 0x04, 0x00, 0x00, 0x00,  // mov ecx, 4
      0x66, 0xba, 0x31, 0x00,        // mov dx, 0x31
      0xf3, 0x6c,                    // rep insb            ; 4 bytes from port 0x31 to 0x6000
      0xe6, 0x10,                    // out 0x10, al        ; done
      0xeb, 0xfe,                    // jmp $
  };
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.create());
  std::memcpy(g.ram.data() + DATA_GPA, "abc", 3);
  RRVM_ASSERT_OK(g.load_long_mode(code));

  std::string written, supplied;
  const std::string answer = "wxyz";
  for (int i = 0; i < 16; ++i) {
    auto e = next_exit(*g.vcpu);
    RRVM_ASSERT_OK(e);
    ASSERT_EQ(e->kind, Exit::Kind::Io);
    if (e->address == 0x10) break;
    ASSERT_EQ(e->size, 1u);
    if (e->address == 0x30) {
      ASSERT_TRUE(e->is_write);
      written.append(e->data.begin(), e->data.end());
    } else {
      ASSERT_EQ(e->address, 0x31u);
      ASSERT_FALSE(e->is_write);
      for (uint8_t& b : e->data) b = answer.at(supplied.size()), supplied.push_back(char(b));
    }
  }
  EXPECT_EQ(written, "abc");
  EXPECT_EQ(supplied, answer);
  EXPECT_EQ(std::memcmp(g.ram.data() + 0x6000, "wxyz", 4), 0);
}

TEST(KvmExit, MmioWriteAndReadToAnUnmappedAddress) {
  const uint8_t code[] = {
      0xb8, 0x00, 0x00, 0x00, 0xd0,        // mov eax, 0xd0000000
      0xc7, 0x00, 0x34, 0x12, 0xcd, 0xab,  // mov dword [rax], 0xabcd1234
      0x8b, 0x58, 0x08,                    // mov ebx, [rax+8]
      0x89, 0x58, 0x10,                    // mov [rax+16], ebx    ; echo what the host supplied
      0xeb, 0xfe,                          // jmp $
  };
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.start(code));

  auto w = next_exit(*g.vcpu);
  RRVM_ASSERT_OK(w);
  EXPECT_EQ(w->kind, Exit::Kind::Mmio);
  EXPECT_EQ(w->address, 0xd0000000u);
  EXPECT_EQ(w->size, 4u);
  EXPECT_TRUE(w->is_write);
  uint32_t v;
  std::memcpy(&v, w->data.data(), 4);
  EXPECT_EQ(v, 0xabcd1234u);

  auto r = next_exit(*g.vcpu);
  RRVM_ASSERT_OK(r);
  EXPECT_EQ(r->kind, Exit::Kind::Mmio);
  EXPECT_EQ(r->address, 0xd0000008u);
  EXPECT_EQ(r->size, 4u);
  EXPECT_FALSE(r->is_write);
  const uint32_t answer = 0x55667788;
  std::memcpy(r->data.data(), &answer, 4);

  auto echo = next_exit(*g.vcpu);
  RRVM_ASSERT_OK(echo);
  EXPECT_EQ(echo->kind, Exit::Kind::Mmio);
  EXPECT_EQ(echo->address, 0xd0000010u);
  std::memcpy(&v, echo->data.data(), 4);
  EXPECT_EQ(v, answer);
}

TEST(KvmExit, HltExitsWithoutInKernelIrqchip) {
  const uint8_t code[] = {
      0xf4,  // hlt
  };
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.start(code));
  auto e = next_exit(*g.vcpu);
  RRVM_ASSERT_OK(e);
  EXPECT_EQ(e->kind, Exit::Kind::Hlt);
}

TEST(KvmExit, InstructionTheEmulatorRefusesIsAnInternalError) {
  const uint8_t code[] = {
      0xe6, 0x10,  // out 0x10, al   ; proves the guest ran up to here
      0xcc,        // int3           ; KVM's emulator does not handle it here
  };
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.start(code));
  auto io = next_exit(*g.vcpu);
  RRVM_ASSERT_OK(io);
  ASSERT_EQ(io->kind, Exit::Kind::Io);
  auto e = next_exit(*g.vcpu);
  RRVM_ASSERT_OK(e);
  ASSERT_EQ(e->kind, Exit::Kind::InternalError)
      << "exit kind " << static_cast<int>(e->kind) << " detail " << e->detail;
  EXPECT_EQ(e->detail, 1u);  // KVM_INTERNAL_ERROR_EMULATION
  std::printf("int3: internal error suberror %u with %zu data words\n", e->detail, e->extra.size());
}

TEST(KvmExit, RealModeGuestRuns) {
  const uint8_t code[] = {
      0xb0, 0x42,  // mov al, 0x42    (16-bit code: same encoding)
      0xe6, 0x10,  // out 0x10, al
  };
  KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  RRVM_ASSERT_OK(g.create());
  std::memcpy(g.ram.data() + CODE_GPA, code, sizeof code);
  // The vCPU starts in real mode (reset state); point CS:IP at the code instead of the BIOS.
  auto sregs = g.vcpu->get_sregs();
  RRVM_ASSERT_OK(sregs);
  EXPECT_EQ(sregs->cr0 & CR0_PE, 0u);
  sregs->cs.selector = 0;
  sregs->cs.base = 0;
  RRVM_ASSERT_OK(g.vcpu->set_sregs(*sregs));
  Regs regs{};
  regs.rip = CODE_GPA;
  regs.rflags = 0x2;
  RRVM_ASSERT_OK(g.vcpu->set_regs(regs));
  auto e = next_exit(*g.vcpu);
  RRVM_ASSERT_OK(e);
  ASSERT_EQ(e->kind, Exit::Kind::Io) << "exit kind " << static_cast<int>(e->kind);
  EXPECT_EQ(e->address, 0x10u);
  EXPECT_EQ(e->data[0], 0x42);
}

}  // namespace
}  // namespace rrvm::hv::testing
