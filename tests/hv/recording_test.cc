// The recording wrappers: same behaviour as the backend they wrap, and every call in the trace.
// Uses the scriptable fake backend, a real trace recorder writing a temporary file, and the trace
// reader to look at what was written.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <variant>

#include "tests/hv/fake_hv.h"
#include "tests/hv/kvm_guest.h"
#include "trace/reader.h"
#include "trace/recorder.h"
#include "vmm/hv/recording/payload.h"
#include "vmm/hv/recording/recording_hypervisor.h"

namespace rrvm::hv {
namespace {

using testing::FakeHypervisor;
using testing::FakeVcpu;

// An event copied out of the reader (its views die with the chunk).
struct Seen {
  trace::EventType type;
  std::string name;  // HvCall name
  int32_t vcpu = 0;
  int64_t result = 0;
  int32_t err = 0;
  std::vector<uint8_t> bytes;  // HvCall payload or VcpuExit data
  trace::EventBody body;       // views inside are dangling: only scalars may be read
  std::vector<trace::MsrEntry> msrs;
};

class RecordingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "hv_recording_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".rrtrace";
    auto rec = trace::Recorder::open({.path = path_}, trace::Header{});
    ASSERT_TRUE(rec.ok()) << rec.error().describe();
    recorder_ = std::move(rec).value();
    trace::install(recorder_.get());

    auto fake = std::make_unique<FakeHypervisor>();
    fake_ = fake.get();
    hv_ = make_recording(std::move(fake));
  }

  void TearDown() override {
    trace::install(nullptr);
    EXPECT_TRUE(recorder_->close().ok());  // idempotent: finish() may have closed it
    std::remove(path_.c_str());
    // Closed recorders stay allocated until the process ends: the trace library recognises a
    // thread's buffer by its recorder's address, so a new recorder at a freed one's address would
    // inherit the old, closed buffer and lose events (reported to the trace owner).
    static std::vector<std::unique_ptr<trace::Recorder>> closed;
    closed.push_back(std::move(recorder_));
  }

  // Stops recording and reads back every event that is not a span or drop record.
  std::vector<Seen> finish() {
    trace::install(nullptr);
    EXPECT_TRUE(recorder_->close().ok());
    std::vector<Seen> out;
    auto reader = trace::Reader::open(path_);
    EXPECT_TRUE(reader.ok()) << reader.error().describe();
    if (!reader.ok()) return out;
    while (true) {
      auto e = (*reader)->next();
      EXPECT_TRUE(e.ok()) << e.error().describe();
      if (!e.ok() || *e == nullptr) break;
      out.push_back(copy(**e));
    }
    return out;
  }

  static Seen copy(const trace::EventRecord& r) {
    Seen s{.type = r.type(), .body = r.body};
    if (auto* c = std::get_if<trace::HvCall>(&r.body)) {
      s.name = std::string(c->name);
      s.vcpu = c->vcpu;
      s.result = c->result;
      s.err = c->err;
      s.bytes.assign(c->payload.begin(), c->payload.end());
    } else if (auto* x = std::get_if<trace::VcpuExit>(&r.body)) {
      s.vcpu = x->vcpu;
      s.bytes.assign(x->data.begin(), x->data.end());
    } else if (auto* m = std::get_if<trace::MsrAccess>(&r.body)) {
      s.vcpu = m->vcpu;
      s.err = m->err;
      s.msrs.assign(m->entries.begin(), m->entries.end());
    }
    return s;
  }

  static std::vector<Seen> of_type(const std::vector<Seen>& all, trace::EventType t) {
    std::vector<Seen> out;
    for (const Seen& s : all) {
      if (s.type == t) out.push_back(s);
    }
    return out;
  }

  static const Seen* call(const std::vector<Seen>& all, const std::string& name, size_t nth = 0) {
    for (const Seen& s : all) {
      if (s.type == trace::EventType::HvCall && s.name == name && nth-- == 0) return &s;
    }
    return nullptr;
  }

  // A vCPU through the wrappers, and the fake behind it.
  std::pair<std::unique_ptr<Vcpu>, FakeVcpu*> make_vcpu(int index) {
    auto vm = hv_->create_vm();
    EXPECT_TRUE(vm.ok());
    vm_ = std::move(vm).value();
    auto vcpu = vm_->create_vcpu(index);
    EXPECT_TRUE(vcpu.ok());
    return {std::move(vcpu).value(), fake_->last_vm->last_vcpu};
  }

  std::string path_;
  std::unique_ptr<trace::Recorder> recorder_;
  FakeHypervisor* fake_ = nullptr;
  std::unique_ptr<Hypervisor> hv_;
  std::unique_ptr<Vm> vm_;
};

TEST_F(RecordingTest, MsrAccessesWithLevelCountsAndErrors) {
  auto [vcpu, fake] = make_vcpu(2);
  fake->msrs = {{0x10, 111}, {0x277, 222}};
  std::vector<MsrEntry> get = {{0x10, 0}, {0x277, 0}, {0x999, 0}};  // 0x999 unknown: short
  auto n = vcpu->get_msrs(get, trace::SyncLevel::Full);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(get[1].value, 222u);  // the caller sees the values, as without recording

  const std::vector<MsrEntry> put = {{0x175, 0x9000}};
  ASSERT_TRUE(vcpu->set_msrs(put, trace::SyncLevel::Runtime).ok());
  fake->fail_errno = EINVAL;
  auto failed = vcpu->set_msrs(put, trace::SyncLevel::Reset);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().err, EINVAL);

  const auto msr = of_type(finish(), trace::EventType::MsrAccess);
  ASSERT_EQ(msr.size(), 3u);
  const auto& g = std::get<trace::MsrAccess>(msr[0].body);
  EXPECT_EQ(g.vcpu, 2);
  EXPECT_EQ(g.op, trace::MsrOp::Get);
  EXPECT_EQ(g.level, trace::SyncLevel::Full);
  EXPECT_EQ(g.requested, 3u);
  EXPECT_EQ(g.processed, 2u);
  EXPECT_EQ(g.err, 0);
  ASSERT_GE(msr[0].msrs.size(), 2u);
  EXPECT_EQ(msr[0].msrs[0].index, 0x10u);
  EXPECT_EQ(msr[0].msrs[0].value, 111u);
  const auto& p = std::get<trace::MsrAccess>(msr[1].body);
  EXPECT_EQ(p.op, trace::MsrOp::Put);
  EXPECT_EQ(p.level, trace::SyncLevel::Runtime);
  EXPECT_EQ(p.processed, 1u);
  ASSERT_EQ(msr[1].msrs.size(), 1u);
  EXPECT_EQ(msr[1].msrs[0].value, 0x9000u);
  const auto& f = std::get<trace::MsrAccess>(msr[2].body);
  EXPECT_EQ(f.level, trace::SyncLevel::Reset);
  EXPECT_EQ(f.processed, 0u);
  EXPECT_EQ(f.err, EINVAL);
}

TEST_F(RecordingTest, ClockKvmclockCtrlAndTscEvents) {
  auto [vcpu, fake] = make_vcpu(0);
  fake_->last_vm->clock = ClockData{.clock_ns = 5000, .flags = CLOCK_FLAG_TSC_STABLE, .host_tsc = 7};
  auto c = vm_->get_clock();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->clock_ns, 5000u);
  ASSERT_TRUE(vm_->set_clock(ClockData{.clock_ns = 9000}).ok());
  fake->kvmclock_ctrl_errno = EINVAL;
  EXPECT_EQ(vcpu->kvmclock_ctrl().error().err, EINVAL);
  fake->kvmclock_ctrl_errno = 0;
  EXPECT_TRUE(vcpu->kvmclock_ctrl().ok());
  EXPECT_EQ(*vcpu->get_tsc_khz(), 2'000'000u);
  EXPECT_TRUE(vcpu->set_tsc_khz(1'000'000).ok());
  EXPECT_EQ(hv_->host_tsc_khz(), 2'500'000u);

  const auto all = finish();
  const auto clocks = of_type(all, trace::EventType::ClockAccess);
  ASSERT_EQ(clocks.size(), 2u);
  const auto& get = std::get<trace::ClockAccess>(clocks[0].body);
  EXPECT_EQ(get.op, trace::ClockOp::Get);
  EXPECT_EQ(get.clock_ns, 5000u);
  EXPECT_EQ(get.flags, CLOCK_FLAG_TSC_STABLE);
  EXPECT_EQ(get.host_tsc, 7u);
  const auto& set = std::get<trace::ClockAccess>(clocks[1].body);
  EXPECT_EQ(set.op, trace::ClockOp::Set);
  EXPECT_EQ(set.clock_ns, 9000u);

  const auto ctrl = of_type(all, trace::EventType::KvmclockCtrl);
  ASSERT_EQ(ctrl.size(), 2u);
  EXPECT_EQ(std::get<trace::KvmclockCtrl>(ctrl[0].body).err, EINVAL);
  EXPECT_EQ(std::get<trace::KvmclockCtrl>(ctrl[1].body).err, 0);

  const auto tsc = of_type(all, trace::EventType::TscKhz);
  ASSERT_EQ(tsc.size(), 3u);
  EXPECT_FALSE(std::get<trace::TscKhz>(tsc[0].body).set);
  EXPECT_EQ(std::get<trace::TscKhz>(tsc[0].body).khz, 2'000'000u);
  EXPECT_TRUE(std::get<trace::TscKhz>(tsc[1].body).set);
  EXPECT_EQ(std::get<trace::TscKhz>(tsc[1].body).khz, 1'000'000u);
  EXPECT_EQ(std::get<trace::TscKhz>(tsc[2].body).vcpu, -1);  // the host's frequency
}

TEST_F(RecordingTest, ExitsWithWriteDataAndReadDataAtTheNextRun) {
  auto [vcpu, fake] = make_vcpu(1);
  fake->io_buffer = {0x42, 0, 0, 0};
  Exit out{.kind = Exit::Kind::Io, .address = 0x3f8, .size = 1, .is_write = true,
           .data = std::span<uint8_t>(fake->io_buffer.data(), 1)};
  Exit in{.kind = Exit::Kind::Mmio, .address = 0xd0000008, .size = 4, .is_write = false,
          .data = std::span<uint8_t>(fake->io_buffer.data(), 4)};
  Exit internal{.kind = Exit::Kind::InternalError, .detail = 1, .extra = {0xcc, 2}};
  fake->exits = {out, in, internal};

  auto e1 = vcpu->run();
  ASSERT_TRUE(e1.ok());
  EXPECT_EQ(e1->data.data(), fake->io_buffer.data());  // the caller gets the backend's exit
  auto e2 = vcpu->run();
  ASSERT_TRUE(e2.ok());
  const uint8_t answer[] = {0x78, 0x56, 0x34, 0x12};
  std::memcpy(e2->data.data(), answer, 4);  // the exit handler's reply
  auto e3 = vcpu->run();
  ASSERT_TRUE(e3.ok());
  EXPECT_EQ(e3->kind, Exit::Kind::InternalError);
  fake->fail_errno = EFAULT;
  auto e4 = vcpu->run();
  ASSERT_FALSE(e4.ok());

  const auto all = finish();
  const auto exits = of_type(all, trace::EventType::VcpuExit);
  ASSERT_EQ(exits.size(), 3u);
  const auto& w = std::get<trace::VcpuExit>(exits[0].body);
  EXPECT_EQ(w.vcpu, 1);
  EXPECT_EQ(w.kind, trace::ExitKind::Io);
  EXPECT_EQ(w.address, 0x3f8u);
  EXPECT_TRUE(w.is_write);
  EXPECT_EQ(exits[0].bytes, (std::vector<uint8_t>{0x42}));
  const auto& r = std::get<trace::VcpuExit>(exits[1].body);
  EXPECT_EQ(r.kind, trace::ExitKind::Mmio);
  EXPECT_FALSE(r.is_write);
  EXPECT_EQ(r.size, 4u);
  EXPECT_TRUE(exits[1].bytes.empty());  // not known yet when run() returned
  EXPECT_EQ(std::get<trace::VcpuExit>(exits[2].body).kind, trace::ExitKind::InternalError);
  EXPECT_EQ(std::get<trace::VcpuExit>(exits[2].body).detail, 1u);

  const Seen* data = call(all, "exit_read_data");
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(data->vcpu, 1);
  EXPECT_EQ(data->bytes, std::vector<uint8_t>(answer, answer + 4));
  const Seen* extra = call(all, "exit_extra");
  ASSERT_NE(extra, nullptr);
  auto words = payload::decode_u64_list(extra->bytes);
  ASSERT_TRUE(words.ok());
  EXPECT_EQ(*words, (std::vector<uint64_t>{0xcc, 2}));
  const Seen* failed = call(all, "KVM_RUN");
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->result, -1);
  EXPECT_EQ(failed->err, EFAULT);

  // Order: the read's data comes after its exit and before the next exit.
  size_t read_exit = 0, read_data = 0, next_exit = 0;
  for (size_t i = 0, n = 0; i < all.size(); ++i) {
    if (all[i].type == trace::EventType::VcpuExit && ++n == 2) read_exit = i;
    if (all[i].type == trace::EventType::VcpuExit && n == 3 && next_exit == 0) next_exit = i;
    if (all[i].type == trace::EventType::HvCall && all[i].name == "exit_read_data") read_data = i;
  }
  EXPECT_LT(read_exit, read_data);
  EXPECT_LT(read_data, next_exit);
}

TEST_F(RecordingTest, StateCallsCarryTheirPayload) {
  auto [vcpu, fake] = make_vcpu(3);
  Regs regs{};
  regs.rip = 0x100000;
  regs.rsp = 0x8000;
  ASSERT_TRUE(vcpu->set_regs(regs).ok());
  fake->sregs.cr3 = 0x9000;
  fake->sregs.cs.l = 1;
  auto sregs = vcpu->get_sregs();
  ASSERT_TRUE(sregs.ok());
  fake->lapic[0x80] = 0x20;
  ASSERT_TRUE(vcpu->get_lapic().ok());
  ASSERT_TRUE(vcpu->set_mp_state(MpState::Halted).ok());
  fake->fail_errno = EBUSY;
  EXPECT_FALSE(vcpu->set_xsave(Blob(4096, 1)).ok());

  const auto all = finish();
  const Seen* create = call(all, "KVM_CREATE_VCPU");
  ASSERT_NE(create, nullptr);
  EXPECT_EQ(create->vcpu, -1);
  EXPECT_EQ(create->result, 3);
  ASSERT_NE(call(all, "KVM_CREATE_VM"), nullptr);

  const Seen* set_regs = call(all, "KVM_SET_REGS");
  ASSERT_NE(set_regs, nullptr);
  EXPECT_EQ(set_regs->vcpu, 3);
  auto decoded = payload::decode_regs(set_regs->bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->rip, 0x100000u);
  EXPECT_EQ(decoded->rsp, 0x8000u);

  const Seen* get_sregs = call(all, "KVM_GET_SREGS");
  ASSERT_NE(get_sregs, nullptr);
  auto s = payload::decode_sregs(get_sregs->bytes);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->cr3, 0x9000u);
  EXPECT_EQ(s->cs.l, 1);

  const Seen* lapic = call(all, "KVM_GET_LAPIC");
  ASSERT_NE(lapic, nullptr);
  ASSERT_EQ(lapic->bytes.size(), 1024u);
  EXPECT_EQ(lapic->bytes[0x80], 0x20);
  EXPECT_EQ(lapic->result, 1024);

  const Seen* mp = call(all, "KVM_SET_MP_STATE");
  ASSERT_NE(mp, nullptr);
  EXPECT_EQ(mp->bytes, (std::vector<uint8_t>{3, 0, 0, 0}));

  const Seen* xsave = call(all, "KVM_SET_XSAVE");
  ASSERT_NE(xsave, nullptr);
  EXPECT_EQ(xsave->result, -1);
  EXPECT_EQ(xsave->err, EBUSY);
  EXPECT_EQ(xsave->bytes.size(), 4096u);
}

TEST_F(RecordingTest, VmCallsAndHypervisorQueries) {
  fake_->caps[76] = 1;
  fake_->msr_list = {0x10, 0x4b564d01};
  EXPECT_EQ(hv_->check_extension(76), 1);
  auto list = hv_->msr_index_list();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(*list, fake_->msr_list);
  auto vm = hv_->create_vm();
  ASSERT_TRUE(vm.ok());
  uint8_t ram[4096];
  ASSERT_TRUE((*vm)->set_memory_region({.slot = 1, .guest_phys_addr = 0x100000, .size = 4096,
                                        .host_addr = ram, .log_dirty = true})
                  .ok());
  ASSERT_TRUE((*vm)->ioeventfd({.fd = 9, .address = 0x600, .length = 2, .pio = true,
                                .has_datamatch = true, .datamatch = 7},
                               true)
                  .ok());
  fake_->last_vm->irqchips[2] = Blob(512, 0xab);
  auto ioapic = (*vm)->get_irqchip(2);
  ASSERT_TRUE(ioapic.ok());
  EXPECT_EQ(ioapic->size(), 512u);
  auto dirty = (*vm)->get_dirty_log(1, 4096);
  ASSERT_TRUE(dirty.ok());
  EXPECT_EQ(fake_->last_vm->regions.size(), 1u);  // the call reached the backend

  const auto all = finish();
  const Seen* ext = call(all, "KVM_CHECK_EXTENSION");
  ASSERT_NE(ext, nullptr);
  EXPECT_EQ(ext->result, 1);
  EXPECT_EQ(ext->bytes, (std::vector<uint8_t>{76, 0, 0, 0}));
  const Seen* msr_list = call(all, "KVM_GET_MSR_INDEX_LIST");
  ASSERT_NE(msr_list, nullptr);
  EXPECT_EQ(*payload::decode_u32_list(msr_list->bytes), fake_->msr_list);

  const Seen* region = call(all, "KVM_SET_USER_MEMORY_REGION");
  ASSERT_NE(region, nullptr);
  payload::Reader r(region->bytes, "region");
  EXPECT_EQ(*r.u32(), 1u);
  EXPECT_EQ(*r.u8(), 1u);
  EXPECT_EQ(*r.u64(), 0x100000u);
  EXPECT_EQ(*r.u64(), 4096u);

  const Seen* ioev = call(all, "KVM_IOEVENTFD");
  ASSERT_NE(ioev, nullptr);
  payload::Reader i(ioev->bytes, "ioeventfd");
  EXPECT_EQ(*i.u32(), 9u);
  EXPECT_EQ(*i.u64(), 0x600u);

  const Seen* chip = call(all, "KVM_GET_IRQCHIP");
  ASSERT_NE(chip, nullptr);
  ASSERT_EQ(chip->bytes.size(), 4u + 512u);
  EXPECT_EQ(chip->bytes[0], 2);
  EXPECT_EQ(chip->bytes[4], 0xab);

  const Seen* log = call(all, "KVM_GET_DIRTY_LOG");
  ASSERT_NE(log, nullptr);
  auto words = payload::decode_u64_list(std::span(log->bytes).subspan(12));
  ASSERT_TRUE(words.ok());
  EXPECT_EQ(*words, fake_->last_vm->dirty);
}

TEST_F(RecordingTest, KicksAreRecordedAndForwarded) {
  auto [vcpu, fake] = make_vcpu(0);
  vcpu->kick();
  vcpu->clear_kick();
  EXPECT_EQ(fake->kicks, 1);
  EXPECT_EQ(fake->clear_kicks, 1);
  const auto all = finish();
  ASSERT_NE(call(all, "kick"), nullptr);
  ASSERT_NE(call(all, "clear_kick"), nullptr);
}

TEST_F(RecordingTest, OverKvmTheTraceShowsTheGuestsIo) {
  const uint8_t code[] = {
      0xb0, 0x42,  // mov al, 0x42
      0xe6, 0x10,  // out 0x10, al
      0xe4, 0x11,  // in al, 0x11
      0xe6, 0x12,  // out 0x12, al   ; echo
      0xeb, 0xfe,  // jmp $
  };
  testing::KvmGuest g;
  RRVM_REQUIRE_KVM(g);
  g.hv = make_recording(std::move(g.hv));
  ASSERT_TRUE(g.start(code).ok());
  for (int i = 0; i < 3; ++i) {
    auto e = g.vcpu->run();
    ASSERT_TRUE(e.ok()) << e.error().describe();
    ASSERT_EQ(e->kind, Exit::Kind::Io);
    if (!e->is_write) e->data[0] = 0x5a;
  }
  const auto all = finish();
  std::vector<std::string> io;  // "port:dir:bytes" in trace order, with the read's data
  for (const Seen& s : all) {
    if (s.type == trace::EventType::VcpuExit) {
      const auto& x = std::get<trace::VcpuExit>(s.body);
      io.push_back(std::to_string(x.address) + (x.is_write ? ":w:" : ":r:") +
                   (s.bytes.empty() ? "" : std::to_string(s.bytes[0])));
    } else if (s.type == trace::EventType::HvCall && s.name == "exit_read_data") {
      io.push_back("data:" + std::to_string(s.bytes.at(0)));
    }
  }
  EXPECT_EQ(io, (std::vector<std::string>{"16:w:66", "17:r:", "data:90", "18:w:90"}));
  for (const char* name : {"KVM_CREATE_VM", "KVM_SET_USER_MEMORY_REGION", "KVM_CREATE_VCPU",
                           "KVM_GET_SUPPORTED_CPUID", "KVM_SET_CPUID2", "KVM_GET_SREGS",
                           "KVM_SET_SREGS", "KVM_SET_REGS", "KVM_SET_MP_STATE"}) {
    EXPECT_NE(call(all, name), nullptr) << name;
  }
}

TEST(RecordingOff, WrappersAreTransparentWithoutARecorder) {
  auto fake = std::make_unique<FakeHypervisor>();
  FakeHypervisor* f = fake.get();
  auto hv = make_recording(std::move(fake));
  auto vm = hv->create_vm();
  ASSERT_TRUE(vm.ok());
  auto vcpu = (*vm)->create_vcpu(0);
  ASSERT_TRUE(vcpu.ok());
  f->last_vm->last_vcpu->fpu.fcw = 0x37f;
  auto fpu = (*vcpu)->get_fpu();
  ASSERT_TRUE(fpu.ok());
  EXPECT_EQ(fpu->fcw, 0x37f);
  f->last_vm->last_vcpu->fail_errno = ENOMEM;
  auto bad = (*vcpu)->get_regs();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().err, ENOMEM);
  EXPECT_EQ(bad.error().message, "KVM_GET_REGS");
}

TEST(Payload, RoundTripsAndRefusesBadBytes) {
  Sregs s{};
  s.cs = Segment{.base = 1, .limit = 0xffffffff, .selector = 8, .type = 11, .present = 1, .l = 1};
  s.tr.base = 0x600;
  s.gdt = {0x500, 47};
  s.efer = 0x500;
  s.interrupt_bitmap[3] = 1ull << 63;
  auto back = payload::decode_sregs(payload::encode(s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(payload::encode(*back), payload::encode(s));
  EXPECT_EQ(back->interrupt_bitmap[3], 1ull << 63);

  Fpu f{};
  f.fcw = 0x37f;
  f.xmm[255] = 9;
  f.mxcsr = 0x1f80;
  auto fb = payload::decode_fpu(payload::encode(f));
  ASSERT_TRUE(fb.ok());
  EXPECT_EQ(fb->xmm[255], 9);
  EXPECT_EQ(fb->mxcsr, 0x1f80u);

  const std::vector<CpuidEntry> cpuid = {{0x40000001, 0, 0, 0x01007efb, 0, 0, 1}};
  auto cb = payload::decode_cpuid(payload::encode(cpuid));
  ASSERT_TRUE(cb.ok());
  EXPECT_EQ((*cb)[0].eax, 0x01007efbu);
  const std::vector<Xcr> xcrs = {{0, 7}};
  EXPECT_EQ((*payload::decode_xcrs(payload::encode(xcrs)))[0].value, 7u);

  auto regs = payload::encode(Regs{});
  regs.pop_back();
  auto short_regs = payload::decode_regs(regs);
  ASSERT_FALSE(short_regs.ok());
  EXPECT_NE(short_regs.error().message.find("regs payload"), std::string::npos);
  regs.push_back(0);
  regs.push_back(0);
  EXPECT_FALSE(payload::decode_regs(regs).ok());  // one byte too many

  // A count that claims more entries than there are bytes never allocates them.
  const std::vector<uint8_t> lying = {0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4};
  auto l = payload::decode_u32_list(lying);
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.error().message.find("4294967295 entries"), std::string::npos);
  EXPECT_FALSE(payload::decode_cpuid(lying).ok());
}

}  // namespace
}  // namespace rrvm::hv
