#include "vmm/machine/state_codec.h"

#include <capnp/message.h>

#include <cstring>

#include "vmm/machine/schema/machine_state.capnp.h"
#include "vmm/migration/capnp_bytes.h"

namespace rrvm::machine {
namespace {

namespace s = ::rrvm::machine::schema;

using capnp::Data;

Data::Reader data_of(const hv::Blob& blob) { return Data::Reader(blob.data(), blob.size()); }
hv::Blob blob_of(Data::Reader d) { return hv::Blob(d.begin(), d.end()); }

template <typename T, typename Fill>
std::vector<uint8_t> encode(Fill&& fill) {
  capnp::MallocMessageBuilder message;
  fill(message.initRoot<T>());
  return migration::message_bytes(message);
}

template <typename T, typename Out, typename Read>
Result<Out> decode(std::span<const uint8_t> bytes, const char* what, Read&& read) {
  Out out{};
  Status st = migration::read_message<T>(bytes, MAX_SECTION_BYTES,
                                         [&](typename T::Reader r) { return read(r, out); });
  if (!st.ok()) return st.error().context(std::string("decoding ") + what);
  return out;
}

Status expect_size(const char* what, size_t got, size_t want) {
  if (got == want) return ok_status();
  return make_error(std::string(what) + " has " + std::to_string(got) + " entries, expected " +
                    std::to_string(want));
}

void put_segment(s::Segment::Builder b, const hv::Segment& g) {
  b.setBase(g.base);
  b.setLimit(g.limit);
  b.setSelector(g.selector);
  b.setType(g.type);
  b.setPresent(g.present);
  b.setDpl(g.dpl);
  b.setDb(g.db);
  b.setS(g.s);
  b.setL(g.l);
  b.setG(g.g);
  b.setAvl(g.avl);
  b.setUnusable(g.unusable);
}

hv::Segment get_segment(s::Segment::Reader r) {
  return hv::Segment{r.getBase(), r.getLimit(), r.getSelector(), r.getType(), r.getPresent(),
                     r.getDpl(),  r.getDb(),    r.getS(),        r.getL(),    r.getG(),
                     r.getAvl(),  r.getUnusable()};
}

// The fixed-order views of Regs and Sregs the schema stores as lists.
std::array<uint64_t*, 18> reg_fields(hv::Regs& r) {
  return {&r.rax, &r.rbx, &r.rcx, &r.rdx, &r.rsi, &r.rdi, &r.rsp, &r.rbp, &r.r8,
          &r.r9,  &r.r10, &r.r11, &r.r12, &r.r13, &r.r14, &r.r15, &r.rip, &r.rflags};
}
std::array<hv::Segment*, 8> segment_fields(hv::Sregs& s) {
  return {&s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss, &s.tr, &s.ldt};
}
std::array<uint64_t*, 7> control_fields(hv::Sregs& s) {
  return {&s.cr0, &s.cr2, &s.cr3, &s.cr4, &s.cr8, &s.efer, &s.apic_base};
}

void put_fpu(s::Fpu::Builder b, const hv::Fpu& f) {
  b.setFpr(Data::Reader(f.fpr.data(), f.fpr.size()));
  b.setFcw(f.fcw);
  b.setFsw(f.fsw);
  b.setFtwx(f.ftwx);
  b.setLastOpcode(f.last_opcode);
  b.setLastIp(f.last_ip);
  b.setLastDp(f.last_dp);
  b.setXmm(Data::Reader(f.xmm.data(), f.xmm.size()));
  b.setMxcsr(f.mxcsr);
}

Status get_fpu(s::Fpu::Reader r, hv::Fpu& f) {
  RRVM_TRY(expect_size("fpu.fpr", r.getFpr().size(), f.fpr.size()));
  RRVM_TRY(expect_size("fpu.xmm", r.getXmm().size(), f.xmm.size()));
  std::memcpy(f.fpr.data(), r.getFpr().begin(), f.fpr.size());
  std::memcpy(f.xmm.data(), r.getXmm().begin(), f.xmm.size());
  f.fcw = r.getFcw();
  f.fsw = r.getFsw();
  f.ftwx = r.getFtwx();
  f.last_opcode = r.getLastOpcode();
  f.last_ip = r.getLastIp();
  f.last_dp = r.getLastDp();
  f.mxcsr = r.getMxcsr();
  return ok_status();
}

template <typename List>
void put_msrs(List list, const std::vector<hv::MsrEntry>& entries) {
  for (size_t i = 0; i < entries.size(); ++i) {
    list[i].setIndex(entries[i].index);
    list[i].setValue(entries[i].value);
  }
}

}  // namespace

std::vector<uint8_t> encode_cpu_state(const core::CpuState& state) {
  return encode<s::CpuState>([&](s::CpuState::Builder b) {
    core::CpuState c = state;  // the field views below need non-const access
    auto regs = b.initRegs(18);
    auto rf = reg_fields(c.regs);
    for (size_t i = 0; i < rf.size(); ++i) regs.set(i, *rf[i]);
    auto segs = b.initSegments(8);
    auto sf = segment_fields(c.sregs);
    for (size_t i = 0; i < sf.size(); ++i) put_segment(segs[i], *sf[i]);
    b.initGdt().setBase(c.sregs.gdt.base);
    b.getGdt().setLimit(c.sregs.gdt.limit);
    b.initIdt().setBase(c.sregs.idt.base);
    b.getIdt().setLimit(c.sregs.idt.limit);
    auto cr = b.initControlRegs(7);
    auto cf = control_fields(c.sregs);
    for (size_t i = 0; i < cf.size(); ++i) cr.set(i, *cf[i]);
    auto bitmap = b.initInterruptBitmap(4);
    for (size_t i = 0; i < 4; ++i) bitmap.set(i, c.sregs.interrupt_bitmap[i]);
    b.setXsave(data_of(c.xsave));
    put_fpu(b.initFpu(), c.fpu);
    auto xcrs = b.initXcrs(c.xcrs.size());
    for (size_t i = 0; i < c.xcrs.size(); ++i) {
      xcrs[i].setIndex(c.xcrs[i].index);
      xcrs[i].setValue(c.xcrs[i].value);
    }
    b.setLapic(data_of(c.lapic));
    b.setEvents(data_of(c.events));
    b.setMpState(static_cast<uint32_t>(c.mp_state));
    b.setDebugregs(data_of(c.debugregs));
    put_msrs(b.initMsrs(c.msrs.size()), c.msrs);
    b.setTscValid(c.tsc_valid);
  });
}

Result<core::CpuState> decode_cpu_state(std::span<const uint8_t> bytes) {
  return decode<s::CpuState, core::CpuState>(
      bytes, "cpu state", [](s::CpuState::Reader r, core::CpuState& c) -> Status {
        RRVM_TRY(expect_size("regs", r.getRegs().size(), 18));
        RRVM_TRY(expect_size("segments", r.getSegments().size(), 8));
        RRVM_TRY(expect_size("controlRegs", r.getControlRegs().size(), 7));
        RRVM_TRY(expect_size("interruptBitmap", r.getInterruptBitmap().size(), 4));
        if (r.getXcrs().size() > core::MAX_XCRS || r.getMsrs().size() > core::MAX_MSRS) {
          return make_error("too many XCRs or MSRs");
        }
        auto rf = reg_fields(c.regs);
        for (size_t i = 0; i < rf.size(); ++i) *rf[i] = r.getRegs()[i];
        auto sf = segment_fields(c.sregs);
        for (size_t i = 0; i < sf.size(); ++i) *sf[i] = get_segment(r.getSegments()[i]);
        c.sregs.gdt = {r.getGdt().getBase(), r.getGdt().getLimit()};
        c.sregs.idt = {r.getIdt().getBase(), r.getIdt().getLimit()};
        auto cf = control_fields(c.sregs);
        for (size_t i = 0; i < cf.size(); ++i) *cf[i] = r.getControlRegs()[i];
        for (size_t i = 0; i < 4; ++i) c.sregs.interrupt_bitmap[i] = r.getInterruptBitmap()[i];
        c.xsave = blob_of(r.getXsave());
        if (r.hasFpu()) RRVM_TRY(get_fpu(r.getFpu(), c.fpu));
        for (auto x : r.getXcrs()) c.xcrs.push_back({x.getIndex(), x.getValue()});
        c.lapic = blob_of(r.getLapic());
        c.events = blob_of(r.getEvents());
        c.mp_state = static_cast<hv::MpState>(r.getMpState());
        c.debugregs = blob_of(r.getDebugregs());
        for (auto m : r.getMsrs()) c.msrs.push_back({m.getIndex(), m.getValue()});
        c.tsc_valid = r.getTscValid();
        return ok_status();
      });
}

std::vector<uint8_t> encode_kvmclock_state(const devices::Kvmclock::State& state) {
  return encode<s::KvmclockState>([&](s::KvmclockState::Builder b) {
    b.setClockNs(state.clock_ns);
    b.setReliable(state.reliable);
    b.setHasRealtime(state.has_realtime);
    b.setRealtimeNs(state.realtime_ns);
  });
}

Result<devices::Kvmclock::State> decode_kvmclock_state(std::span<const uint8_t> bytes) {
  return decode<s::KvmclockState, devices::Kvmclock::State>(
      bytes, "kvmclock state", [](s::KvmclockState::Reader r, devices::Kvmclock::State& k) {
        k = {r.getClockNs(), r.getReliable(), r.getHasRealtime(), r.getRealtimeNs()};
        return ok_status();
      });
}

std::vector<uint8_t> encode_irqchip_state(const IrqchipBlobs& state) {
  return encode<s::IrqchipState>([&](s::IrqchipState::Builder b) {
    b.setPicMaster(data_of(state.pic_master));
    b.setPicSlave(data_of(state.pic_slave));
    b.setIoapic(data_of(state.ioapic));
  });
}

Result<IrqchipBlobs> decode_irqchip_state(std::span<const uint8_t> bytes) {
  return decode<s::IrqchipState, IrqchipBlobs>(
      bytes, "irqchip state", [](s::IrqchipState::Reader r, IrqchipBlobs& i) {
        i = {blob_of(r.getPicMaster()), blob_of(r.getPicSlave()), blob_of(r.getIoapic())};
        return ok_status();
      });
}

std::vector<uint8_t> encode_pit_state(const hv::Blob& state) {
  return encode<s::PitState>([&](s::PitState::Builder b) { b.setPit(data_of(state)); });
}

Result<hv::Blob> decode_pit_state(std::span<const uint8_t> bytes) {
  return decode<s::PitState, hv::Blob>(bytes, "pit state", [](s::PitState::Reader r, hv::Blob& p) {
    p = blob_of(r.getPit());
    return ok_status();
  });
}

std::vector<uint8_t> encode_serial_state(const devices::Serial::State& st) {
  return encode<s::SerialState>([&](s::SerialState::Builder b) {
    b.setIer(st.ier);
    b.setLcr(st.lcr);
    b.setMcr(st.mcr);
    b.setLsr(st.lsr);
    b.setMsr(st.msr);
    b.setScr(st.scr);
    b.setDll(st.dll);
    b.setDlm(st.dlm);
    b.setFcr(st.fcr);
    b.setThrInterruptPending(st.thr_interrupt_pending);
    b.setRxFifo(Data::Reader(st.rx_fifo.data(), st.rx_fifo.size()));
  });
}

Result<devices::Serial::State> decode_serial_state(std::span<const uint8_t> bytes) {
  return decode<s::SerialState, devices::Serial::State>(
      bytes, "serial state", [](s::SerialState::Reader r, devices::Serial::State& st) {
        st.ier = r.getIer();
        st.lcr = r.getLcr();
        st.mcr = r.getMcr();
        st.lsr = r.getLsr();
        st.msr = r.getMsr();
        st.scr = r.getScr();
        st.dll = r.getDll();
        st.dlm = r.getDlm();
        st.fcr = r.getFcr();
        st.thr_interrupt_pending = r.getThrInterruptPending();
        st.rx_fifo = blob_of(r.getRxFifo());
        return ok_status();
      });
}

std::vector<uint8_t> encode_virtio_state(const VirtioSection& state) {
  const auto& t = state.transport;
  return encode<s::VirtioState>([&](s::VirtioState::Builder b) {
    b.setDeviceId(t.device_id);
    b.setStatus(t.status);
    b.setDeviceFeaturesSel(t.device_features_sel);
    b.setDriverFeaturesSel(t.driver_features_sel);
    b.setDriverFeatures(t.driver_features);
    b.setQueueSel(t.queue_sel);
    b.setInterruptStatus(t.interrupt_status);
    b.setConfigGeneration(t.config_generation);
    auto queues = b.initQueues(t.queues.size());
    for (size_t i = 0; i < t.queues.size(); ++i) {
      const auto& q = t.queues[i];
      queues[i].setSize(q.size);
      queues[i].setReady(q.ready);
      queues[i].setDescAddr(q.desc_addr);
      queues[i].setDriverAddr(q.driver_addr);
      queues[i].setDeviceAddr(q.device_addr);
      queues[i].setNextAvail(q.next_avail);
      queues[i].setUsedIdx(q.used_idx);
    }
    if (state.blk) {
      auto d = b.initBlk().initDisk();
      d.setCapacitySectors(state.blk->capacity_sectors);
      d.setReadOnly(state.blk->read_only);
      d.setSerial(state.blk->serial);
    } else {
      b.initBlk().setNone();
    }
  });
}

Result<VirtioSection> decode_virtio_state(std::span<const uint8_t> bytes) {
  // A transport has a handful of queues; anything larger is not a virtio-mmio device of ours.
  constexpr size_t MAX_QUEUES = 64;
  return decode<s::VirtioState, VirtioSection>(
      bytes, "virtio state", [](s::VirtioState::Reader r, VirtioSection& v) -> Status {
        if (r.getQueues().size() > MAX_QUEUES) return make_error("too many queues");
        auto& t = v.transport;
        t.device_id = r.getDeviceId();
        t.status = r.getStatus();
        t.device_features_sel = r.getDeviceFeaturesSel();
        t.driver_features_sel = r.getDriverFeaturesSel();
        t.driver_features = r.getDriverFeatures();
        t.queue_sel = r.getQueueSel();
        t.interrupt_status = r.getInterruptStatus();
        t.config_generation = r.getConfigGeneration();
        for (auto q : r.getQueues()) {
          t.queues.push_back({q.getSize(), q.getReady(), q.getDescAddr(), q.getDriverAddr(),
                              q.getDeviceAddr(), q.getNextAvail(), q.getUsedIdx()});
        }
        if (r.getBlk().isDisk()) {
          auto d = r.getBlk().getDisk();
          v.blk = virtio::BlkState{d.getCapacitySectors(), d.getReadOnly(), d.getSerial()};
        }
        return ok_status();
      });
}

}  // namespace rrvm::machine
