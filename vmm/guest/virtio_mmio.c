/*
 * virtio-mmio transport, driver side: the device list parsed from the command line and the
 * initialisation sequence of virtio 1.x §3.1.1.
 */
#include "virtio_mmio.h"

#include "console.h"
#include "guest.h"
#include "lib.h"

/* The guest maps [0, 4 GiB) only (entry.S); the top GiB uncached for MMIO. */
#define MMIO_LIMIT 0x100000000ull
#define VIRTIO_MMIO_MIN_SIZE 0x200 /* registers and a little config space */

static struct virtio_mmio_dev devices[VIRTIO_MMIO_MAX_DEVICES];
static uint32_t device_count;

/* Parses a number in [s, s + len): decimal, or hex with 0x. */
static bool parse_num(const char* s, size_t len, uint64_t* out) {
  if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    uint64_t v = 0;
    for (size_t i = 2; i < len; i++) {
      char c = s[i];
      uint64_t digit;
      if (c >= '0' && c <= '9')
        digit = (uint64_t)(c - '0');
      else if (c >= 'a' && c <= 'f')
        digit = (uint64_t)(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        digit = (uint64_t)(c - 'A' + 10);
      else
        return false;
      if (v >> 60) return false;
      v = v << 4 | digit;
    }
    *out = v;
    return len - 2 <= 16;
  }
  return parse_u64(s, len, out);
}

static size_t find_char(const char* s, size_t len, size_t from, char c) {
  while (from < len && s[from] != c) from++;
  return from;
}

/* SIZE with an optional K/M/G suffix, like Linux's memparse. */
static bool parse_size(const char* s, size_t len, uint64_t* out) {
  unsigned shift = 0;
  if (len > 0) {
    char c = s[len - 1];
    if (c == 'k' || c == 'K')
      shift = 10;
    else if (c == 'm' || c == 'M')
      shift = 20;
    else if (c == 'g' || c == 'G')
      shift = 30;
    if (shift != 0) len--;
  }
  uint64_t v;
  if (!parse_num(s, len, &v) || v == 0 || v > (MMIO_LIMIT >> shift)) return false;
  *out = v << shift;
  return true;
}

bool virtio_mmio_parse_entry(const char* v, size_t len) {
  size_t at = find_char(v, len, 0, '@');
  size_t colon = find_char(v, len, at, ':');
  size_t colon2 = find_char(v, len, colon + 1 < len ? colon + 1 : len, ':'); /* optional :ID */
  uint64_t size, base, irq;
  if (at == len || colon == len || !parse_size(v, at, &size) ||
      !parse_num(v + at + 1, colon - at - 1, &base) ||
      !parse_u64(v + colon + 1, colon2 - colon - 1, &irq) || irq > 255) {
    console_printf("rrvm-guest: bad virtio_mmio.device=%.*s: expected SIZE@ADDR:IRQ\n", (int)len,
                   v);
    return false;
  }
  if (size < VIRTIO_MMIO_MIN_SIZE || base >= MMIO_LIMIT || size > MMIO_LIMIT - base ||
      (base & 3) != 0) {
    console_printf(
        "rrvm-guest: virtio_mmio.device=%.*s: window outside the guest's 4 GiB map or too small\n",
        (int)len, v);
    return false;
  }
  if (device_count == VIRTIO_MMIO_MAX_DEVICES) {
    console_printf("rrvm-guest: more than %u virtio_mmio.device= entries\n",
                   VIRTIO_MMIO_MAX_DEVICES);
    return false;
  }
  devices[device_count++] =
      (struct virtio_mmio_dev){.base = base, .size = size, .irq = (uint32_t)irq};
  return true;
}

uint32_t virtio_mmio_read32(const struct virtio_mmio_dev* d, uint32_t off) {
  return *(volatile uint32_t*)(uintptr_t)(d->base + off);
}

void virtio_mmio_write32(const struct virtio_mmio_dev* d, uint32_t off, uint32_t v) {
  *(volatile uint32_t*)(uintptr_t)(d->base + off) = v;
}

/* QEMU microvm does not put virtio_mmio.device= words on a PVH kernel's command line (only
 * Linux boots get them): list its transports as if it had. */
static void add_microvm_windows(void) {
  console_printf(
      "rrvm-guest: no virtio_mmio.device= entries: probing QEMU microvm's %u transports at 0x%lx\n",
      MICROVM_VIRTIO_MMIO_COUNT, MICROVM_VIRTIO_MMIO_BASE);
  for (uint32_t i = 0; i < MICROVM_VIRTIO_MMIO_COUNT; i++) {
    devices[device_count++] =
        (struct virtio_mmio_dev){.base = MICROVM_VIRTIO_MMIO_BASE + i * MICROVM_VIRTIO_MMIO_SIZE,
                                 .size = MICROVM_VIRTIO_MMIO_SIZE,
                                 .irq = MICROVM_VIRTIO_MMIO_GSI_BASE + i,
                                 .probed = true};
  }
}

struct virtio_mmio_dev* virtio_mmio_find(uint32_t device_id) {
  if (device_count == 0) add_microvm_windows();
  for (uint32_t i = 0; i < device_count; i++) {
    struct virtio_mmio_dev* d = &devices[i];
    uint32_t magic = virtio_mmio_read32(d, VIRTIO_MMIO_MAGIC);
    uint32_t version = virtio_mmio_read32(d, VIRTIO_MMIO_VERSION);
    d->device_id = virtio_mmio_read32(d, VIRTIO_MMIO_DEVICE_ID);
    /* Silently skipped: an empty transport (DeviceID 0, QEMU has them in either version), and a
     * guessed window with nothing behind it (rrvm: all ones; acpi=off microvm: 8 transports). */
    bool present = magic == VIRTIO_MMIO_MAGIC_VALUE;
    if ((present && d->device_id == 0) || (!present && d->probed)) continue;
    if (!present || version != 2) {
      console_printf(
          "rrvm-guest: virtio-mmio at 0x%lx: magic 0x%x version %u (want 0x%x, 2); skipped\n",
          d->base, magic, version, VIRTIO_MMIO_MAGIC_VALUE);
      continue;
    }
    if (d->device_id == device_id) return d;
  }
  return 0;
}

static void set_status(const struct virtio_mmio_dev* d, uint32_t status) {
  virtio_mmio_write32(d, VIRTIO_MMIO_STATUS, status);
}

static uint64_t negotiate(const struct virtio_mmio_dev* d, uint64_t wanted, const char* who) {
  virtio_mmio_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  uint64_t offered = virtio_mmio_read32(d, VIRTIO_MMIO_DEVICE_FEATURES);
  virtio_mmio_write32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  offered |= (uint64_t)virtio_mmio_read32(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
  if ((offered & VIRTIO_F_VERSION_1) == 0) {
    set_status(d, VIRTIO_STATUS_FAILED);
    guest_fail(RRVM_EXIT_FAIL, "%s: device does not offer VIRTIO_F_VERSION_1 (features 0x%lx)", who,
               offered);
  }
  uint64_t accepted = offered & (wanted | VIRTIO_F_VERSION_1);
  virtio_mmio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
  virtio_mmio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)accepted);
  virtio_mmio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
  virtio_mmio_write32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(accepted >> 32));
  return accepted;
}

static void setup_queue(const struct virtio_mmio_dev* d, struct virtq* q, const char* who) {
  virtio_mmio_write32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
  if (virtio_mmio_read32(d, VIRTIO_MMIO_QUEUE_READY) != 0)
    guest_fail(RRVM_EXIT_FAIL, "%s: queue 0 ready right after reset", who);
  uint32_t max = virtio_mmio_read32(d, VIRTIO_MMIO_QUEUE_NUM_MAX);
  if (max < VIRTQ_SIZE) guest_fail(RRVM_EXIT_FAIL, "%s: QueueNumMax %u < %u", who, max, VIRTQ_SIZE);
  virtq_reset(q);
  uint64_t desc = (uintptr_t)q->desc, avail = (uintptr_t)&q->avail, used = (uintptr_t)&q->used;
  virtio_mmio_write32(d, VIRTIO_MMIO_QUEUE_NUM, VIRTQ_SIZE);
  virtio_mmio_write32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
  virtio_mmio_write32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
  virtio_mmio_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
  virtio_mmio_write32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
  virtio_mmio_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
  virtio_mmio_write32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
  virtio_mmio_write32(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

uint64_t virtio_mmio_init(struct virtio_mmio_dev* d, struct virtq* q, uint64_t wanted,
                          const char* who) {
  d->live = true;
  set_status(d, 0);
  if (virtio_mmio_read32(d, VIRTIO_MMIO_STATUS) != 0)
    guest_fail(RRVM_EXIT_FAIL, "%s: reset did not clear status", who);
  set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
  set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
  uint64_t accepted = negotiate(d, wanted, who);
  uint32_t features_ok =
      VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
  set_status(d, features_ok);
  uint32_t status = virtio_mmio_read32(d, VIRTIO_MMIO_STATUS);
  if ((status & VIRTIO_STATUS_FEATURES_OK) == 0) {
    set_status(d, features_ok | VIRTIO_STATUS_FAILED);
    guest_fail(RRVM_EXIT_FAIL, "%s: device refused features 0x%lx (status reads 0x%x)", who,
               accepted, status);
  }
  setup_queue(d, q, who);
  set_status(d, features_ok | VIRTIO_STATUS_DRIVER_OK);
  status = virtio_mmio_read32(d, VIRTIO_MMIO_STATUS);
  if (status != (features_ok | VIRTIO_STATUS_DRIVER_OK))
    guest_fail(RRVM_EXIT_FAIL, "%s: status reads 0x%x after DRIVER_OK", who, status);
  return accepted;
}

void virtio_mmio_reset(struct virtio_mmio_dev* d) {
  d->live = false; /* first: a fault in the write below must not bring guest_exit back here */
  set_status(d, 0);
}

void virtio_mmio_reset_live(void) {
  for (uint32_t i = 0; i < device_count; i++) {
    if (!devices[i].live) continue;
    console_printf("rrvm-guest: virtio-mmio at 0x%lx: resetting the device before exit\n",
                   devices[i].base);
    virtio_mmio_reset(&devices[i]);
  }
}

void virtio_print_hex(const uint8_t* p, size_t n) {
  static const char DIGITS[] = "0123456789abcdef";
  char line[2 * 64];
  size_t k = 0;
  for (size_t i = 0; i < n && k + 2 <= sizeof(line); i++) {
    line[k++] = DIGITS[p[i] >> 4];
    line[k++] = DIGITS[p[i] & 15];
  }
  console_write(line, k);
}
