/*
 * Scripted scenarios: scenario=STEP[,STEP...], each STEP `name` or `name:N`. All steps are
 * checked before the ready marker (an unknown step or bad number fails the boot with
 * RRVM_EXIT_BAD_CMDLINE); they then run in order on the BSP, and the guest exits with
 * RRVM_EXIT_PASS after the last one. Without scenario= the guest ticks forever.
 *
 * New scenarios are one table row each (the virtio steps live in virtio_blk.c, blk_bench.c and
 * virtio_rng.c).
 */
#include "console.h"
#include "guest.h"
#include "lib.h"
#include "virtio_mmio.h"
#include "x86.h"

enum arg_kind { ARG_NONE, ARG_OPTIONAL, ARG_REQUIRED };

struct scenario_step {
  const char* name;
  enum arg_kind arg;
  uint64_t arg_min; /* bounds of N when given */
  uint64_t arg_max;
  void (*run)(bool has_arg, uint64_t arg);
};

void guest_bad_insn(void);     /* bad_insn.S */
void guest_triple_fault(void); /* bad_insn.S */

#define RESET_WAIT_NS 100000000ull /* give each reset method 100 ms to take effect */

static void step_ticks(bool has_arg, uint64_t n) { ticks_run(has_arg ? n : 0); }

static void step_exit(bool has_arg, uint64_t code) {
  (void)has_arg;
  guest_exit((uint32_t)code);
}

static void step_msr_check(bool has_arg, uint64_t unused) {
  (void)has_arg, (void)unused;
  if (!msrs_check_known(0))
    guest_fail(RRVM_EXIT_MSR_MISMATCH, "msr-check: known MSR values differ");
  console_printf("rrvm-guest: msr-check ok cpu=0 sysenter_esp=0x%lx kernel_gs_base=0x%lx\n",
                 rdmsr(MSR_IA32_SYSENTER_ESP), rdmsr(MSR_KERNEL_GS_BASE));
}

static void step_triple_fault(bool has_arg, uint64_t unused) {
  (void)has_arg, (void)unused;
  console_printf("rrvm-guest: triple-fault: empty IDT, then divide by zero\n");
  guest_triple_fault();
  guest_fail(RRVM_EXIT_FAIL, "triple-fault: still running after the fault");
}

static void step_reset(bool has_arg, uint64_t unused) {
  (void)has_arg, (void)unused;
  virtio_mmio_reset_live(); /* as an OS does before it reboots */
  console_printf("rrvm-guest: reset: writing 0x06 to port 0x%x\n", RRVM_RESET_PORT);
  outb(RRVM_RESET_PORT, 0x02);
  outb(RRVM_RESET_PORT, 0x06);
  wait_until_ns(clock_now_checked(0) + RESET_WAIT_NS);
  console_printf("rrvm-guest: reset: still running; writing 0xfe to port 0x%x\n",
                 RRVM_KBD_CMD_PORT);
  outb(RRVM_KBD_CMD_PORT, 0xfe);
  wait_until_ns(clock_now_checked(0) + RESET_WAIT_NS);
  guest_fail(RRVM_EXIT_RESET_FAILED, "reset: neither port 0x%x nor 0x%x reset the VM",
             RRVM_RESET_PORT, RRVM_KBD_CMD_PORT);
}

static void step_bad_insn(bool has_arg, uint64_t unused) {
  (void)has_arg, (void)unused;
  console_printf("rrvm-guest: bad-insn: executing cmpxchg16b\n");
  guest_bad_insn();
  console_printf("rrvm-guest: bad-insn: cmpxchg16b completed (the CPU ran it natively)\n");
}

static void step_virtio_blk(bool has_arg, uint64_t unused) {
  (void)has_arg, (void)unused;
  virtio_blk_step();
}

static void step_virtio_rng(bool has_arg, uint64_t unused) {
  (void)has_arg, (void)unused;
  virtio_rng_step();
}

static void step_virtio_bad_status(bool has_arg, uint64_t unused) {
  (void)has_arg, (void)unused;
  virtio_bad_status_step();
}

static void step_blk_bench(bool has_arg, uint64_t mib) {
  (void)has_arg;
  blk_bench_step(mib);
}

static const struct scenario_step STEPS[] = {
    {"ticks", ARG_OPTIONAL, 1, 0xffffffffull, step_ticks},
    {"exit", ARG_REQUIRED, 0, RRVM_EXIT_MAX_USER_CODE, step_exit},
    {"msr-check", ARG_NONE, 0, 0, step_msr_check},
    {"triple-fault", ARG_NONE, 0, 0, step_triple_fault},
    {"reset", ARG_NONE, 0, 0, step_reset},
    {"bad-insn", ARG_NONE, 0, 0, step_bad_insn},
    {"virtio-blk", ARG_NONE, 0, 0, step_virtio_blk},
    {"virtio-rng", ARG_NONE, 0, 0, step_virtio_rng},
    {"virtio-bad-status", ARG_NONE, 0, 0, step_virtio_bad_status},
    {"blk-bench", ARG_REQUIRED, 1, BLK_BENCH_MAX_MIB, step_blk_bench},
};
#define STEP_COUNT (sizeof(STEPS) / sizeof(STEPS[0]))

struct parsed_step {
  const struct scenario_step* step;
  bool has_arg;
  uint64_t arg;
};

/* Parses one STEP word [w, w + len); prints why and returns false when it is not valid. */
static bool parse_step(const char* w, size_t len, struct parsed_step* out) {
  size_t colon = 0;
  while (colon < len && w[colon] != ':') colon++;
  out->step = 0;
  for (size_t i = 0; i < STEP_COUNT; i++) {
    if (str_equal(w, colon, STEPS[i].name)) out->step = &STEPS[i];
  }
  if (out->step == 0) {
    console_printf("rrvm-guest: unknown scenario step '%.*s'\n", (int)colon, w);
    return false;
  }
  out->has_arg = colon < len;
  if (!out->has_arg) {
    if (out->step->arg != ARG_REQUIRED) return true;
    console_printf("rrvm-guest: scenario step %s needs a number (%s:N)\n", out->step->name,
                   out->step->name);
    return false;
  }
  if (out->step->arg == ARG_NONE || !parse_u64(w + colon + 1, len - colon - 1, &out->arg) ||
      out->arg < out->step->arg_min || out->arg > out->step->arg_max) {
    console_printf("rrvm-guest: bad argument in scenario step '%s'\n", out->step->name);
    return false;
  }
  return true;
}

/* Parses every step in order and, when `run`, runs it; stops at the first invalid one. */
static bool for_each_step(bool run) {
  const char* s = guest_cfg.scenario;
  size_t len = guest_cfg.scenario_len;
  size_t start = 0;
  while (start <= len) {
    size_t end = start;
    while (end < len && s[end] != ',') end++;
    struct parsed_step p;
    if (!parse_step(s + start, end - start, &p)) return false;
    if (run) {
      console_printf("rrvm-guest: scenario step %s\n", p.step->name);
      p.step->run(p.has_arg, p.arg);
    }
    start = end + 1;
  }
  return true;
}

bool scenario_validate(void) { return guest_cfg.scenario == 0 || for_each_step(false); }

void scenario_run(void) {
  if (guest_cfg.scenario == 0) {
    ticks_run(0);
  } else {
    for_each_step(true);
    console_printf("rrvm-guest: scenario complete\n");
  }
  guest_exit(RRVM_EXIT_PASS);
}
