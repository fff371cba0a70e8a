# The machine's snapshot sections: one root struct per section kind. Each section of a snapshot or
# migration stream (vmm/migration/schema/snapshot.capnp frames them) holds one message whose root
# is the struct named here:
#   "cpu/N"        CpuState            "kvmclock"      KvmclockState
#   "irqchip"      IrqchipState        "pit"           PitState
#   "serial"       SerialState         "virtio-*"      VirtioState
# Restore code validates every field (Persist pattern); these structs only carry bytes.
# Changing a field incompatibly means a new section version (see machine_migration.cc).
@0xec64c7914f4f0a46;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("rrvm::machine::schema");

struct Segment {
  base @0 :UInt64;
  limit @1 :UInt32;
  selector @2 :UInt16;
  type @3 :UInt8;
  present @4 :UInt8;
  dpl @5 :UInt8;
  db @6 :UInt8;
  s @7 :UInt8;
  l @8 :UInt8;
  g @9 :UInt8;
  avl @10 :UInt8;
  unusable @11 :UInt8;
}

struct DescriptorTable {
  base @0 :UInt64;
  limit @1 :UInt16;
}

struct Msr {
  index @0 :UInt32;
  value @1 :UInt64;
}

struct Fpu {
  fpr @0 :Data;        # 128 bytes
  fcw @1 :UInt16;
  fsw @2 :UInt16;
  ftwx @3 :UInt8;
  lastOpcode @4 :UInt16;
  lastIp @5 :UInt64;
  lastDp @6 :UInt64;
  xmm @7 :Data;        # 256 bytes
  mxcsr @8 :UInt32;
}

struct CpuState {
  # rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags: 18 values.
  regs @0 :List(UInt64);
  segments @1 :List(Segment);          # cs ds es fs gs ss tr ldt: 8 values
  gdt @2 :DescriptorTable;
  idt @3 :DescriptorTable;
  controlRegs @4 :List(UInt64);        # cr0 cr2 cr3 cr4 cr8 efer apic_base: 7 values
  interruptBitmap @5 :List(UInt64);    # 4 values
  xsave @6 :Data;                      # KVM's XSAVE area, when the host has KVM_CAP_XSAVE
  fpu @7 :Fpu;                         # otherwise
  xcrs @8 :List(Msr);                  # index -> value, same shape as an MSR
  lapic @9 :Data;
  events @10 :Data;
  mpState @11 :UInt32;
  debugregs @12 :Data;
  msrs @13 :List(Msr);
  tscValid @14 :Bool;
}

struct KvmclockState {
  clockNs @0 :UInt64;
  reliable @1 :Bool;
  hasRealtime @2 :Bool;
  realtimeNs @3 :UInt64;
}

struct IrqchipState {
  picMaster @0 :Data;
  picSlave @1 :Data;
  ioapic @2 :Data;
}

struct PitState {
  pit @0 :Data;
}

struct SerialState {
  ier @0 :UInt8;
  lcr @1 :UInt8;
  mcr @2 :UInt8;
  lsr @3 :UInt8;
  msr @4 :UInt8;
  scr @5 :UInt8;
  dll @6 :UInt8;
  dlm @7 :UInt8;
  fcr @8 :UInt8;
  thrInterruptPending @9 :Bool;
  rxFifo @10 :Data;
}

struct VirtqueueState {
  size @0 :UInt16;
  ready @1 :Bool;
  descAddr @2 :UInt64;
  driverAddr @3 :UInt64;
  deviceAddr @4 :UInt64;
  nextAvail @5 :UInt16;
  usedIdx @6 :UInt16;
}

struct VirtioState {
  deviceId @0 :UInt32;
  status @1 :UInt32;
  deviceFeaturesSel @2 :UInt32;
  driverFeaturesSel @3 :UInt32;
  driverFeatures @4 :UInt64;
  queueSel @5 :UInt32;
  interruptStatus @6 :UInt32;
  configGeneration @7 :UInt32;
  queues @8 :List(VirtqueueState);
  blk :union {
    none @9 :Void;
    disk @10 :BlkState;
  }
}

struct BlkState {
  capacitySectors @0 :UInt64;
  readOnly @1 :Bool;
  serial @2 :Text;
}
