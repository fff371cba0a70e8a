/*
 * Command line: space-separated words. Keys the guest knows (docs/guest.md):
 *   cpus=N        vCPUs to bring up and wait for, 1..RRVM_GUEST_MAX_CPUS (default 1)
 *   tick_ms=N     period of tick lines in ms, 1..60000 (default 100)
 *   wait=MODE     auto (default) | hlt | pause: how the BSP sleeps between ticks
 *   tick_disk=N   every tick writes its record to disk sector n % N, 1..16777216 (tick_disk.c)
 *   dirty_mib=N   every tick dirties N MiB of RAM, 1..RRVM_GUEST_DIRTY_MAX_MIB (dirty_ram.c)
 *   scenario=S    comma-separated steps (scenario.c); default: tick forever
 *   virtio_mmio.device=SIZE@ADDR:IRQ   a virtio-mmio window (virtio_mmio.c), repeatable
 * Other words (console=, ...) are ignored here.
 */
#include "console.h"
#include "guest.h"
#include "lib.h"
#include "virtio_mmio.h"

#define DEFAULT_TICK_MS 100
#define MAX_TICK_MS 60000
#define MAX_TICK_DISK_SECTORS (1u << 24) /* 8 GiB of records */

struct guest_config guest_cfg;

static bool parse_bounded(const char* key, const char* v, size_t len, uint64_t lo, uint64_t hi,
                          uint32_t* out) {
  uint64_t n;
  if (!parse_u64(v, len, &n) || n < lo || n > hi) {
    console_printf("rrvm-guest: bad value for %s: expected a number in %lu..%lu\n", key, lo, hi);
    return false;
  }
  *out = (uint32_t)n;
  return true;
}

static bool parse_wait(const char* v, size_t len) {
  if (str_equal(v, len, "auto"))
    guest_cfg.wait = WAIT_AUTO;
  else if (str_equal(v, len, "hlt"))
    guest_cfg.wait = WAIT_HLT;
  else if (str_equal(v, len, "pause"))
    guest_cfg.wait = WAIT_PAUSE;
  else {
    console_printf("rrvm-guest: bad value for wait: expected auto, hlt or pause\n");
    return false;
  }
  return true;
}

static bool parse_word(const char* w, size_t len) {
  size_t eq = 0;
  while (eq < len && w[eq] != '=') eq++;
  if (eq == len) return true; /* a flag word: none is ours */
  const char* v = w + eq + 1;
  size_t vlen = len - eq - 1;
  if (str_equal(w, eq, "cpus"))
    return parse_bounded("cpus", v, vlen, 1, RRVM_GUEST_MAX_CPUS, &guest_cfg.cpus);
  if (str_equal(w, eq, "tick_ms"))
    return parse_bounded("tick_ms", v, vlen, 1, MAX_TICK_MS, &guest_cfg.tick_ms);
  if (str_equal(w, eq, "tick_disk"))
    return parse_bounded("tick_disk", v, vlen, 1, MAX_TICK_DISK_SECTORS, &guest_cfg.tick_disk);
  if (str_equal(w, eq, "dirty_mib"))
    return parse_bounded("dirty_mib", v, vlen, 1, RRVM_GUEST_DIRTY_MAX_MIB, &guest_cfg.dirty_mib);
  if (str_equal(w, eq, "wait")) return parse_wait(v, vlen);
  if (str_equal(w, eq, "virtio_mmio.device")) return virtio_mmio_parse_entry(v, vlen);
  if (str_equal(w, eq, "scenario")) {
    guest_cfg.scenario = v;
    guest_cfg.scenario_len = vlen;
  }
  return true;
}

bool cmdline_parse(const char* cmdline) {
  guest_cfg.cpus = 1;
  guest_cfg.tick_ms = DEFAULT_TICK_MS;
  guest_cfg.wait = WAIT_AUTO;
  size_t n = cmdline != 0 ? strlen(cmdline) : 0;
  if (n >= RRVM_GUEST_CMDLINE_MAX) {
    console_printf("rrvm-guest: command line is %lu bytes, the guest takes at most %u\n",
                   (uint64_t)n, RRVM_GUEST_CMDLINE_MAX - 1);
    return false;
  }
  memcpy(guest_cfg.cmdline, cmdline != 0 ? cmdline : "", n + 1);
  const char* p = guest_cfg.cmdline;
  while (*p != '\0') {
    while (*p == ' ') p++;
    const char* w = p;
    while (*p != ' ' && *p != '\0') p++;
    if (p > w && !parse_word(w, (size_t)(p - w))) return false;
  }
  return true;
}
