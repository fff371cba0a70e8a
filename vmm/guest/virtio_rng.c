/*
 * virtio-rng driver (§5.4) for the `virtio-rng` step, and the hostile `virtio-bad-status` step:
 * a driver that clears DRIVER_OK without a reset, which virtio 1.x §2.1.2 forbids ("the driver
 * MUST NOT clear a device status bit"); rrvm refuses the write and keeps the old status.
 */
#include "console.h"
#include "guest.h"
#include "lib.h"
#include "virtio_mmio.h"

#define RNG_BYTES 16

static struct virtq rng_queue;
static uint8_t rng_buf[RNG_BYTES];

static struct virtio_mmio_dev* rng_device(const char* who) {
  struct virtio_mmio_dev* d = virtio_mmio_find(VIRTIO_ID_RNG);
  if (d == 0)
    guest_fail(RRVM_EXIT_FAIL, "%s: no virtio-mmio entropy device on the command line", who);
  return d;
}

void virtio_rng_step(void) {
  struct virtio_mmio_dev* d = rng_device("virtio-rng");
  virtio_mmio_init(d, &rng_queue, 0, "virtio-rng");
  memset(rng_buf, 0, sizeof(rng_buf));
  /* The device may return fewer bytes than asked: ask again for the rest. */
  uint32_t got = 0;
  for (int tries = 0; got < RNG_BYTES && tries < 8; tries++) {
    struct virtq_buf buf = {rng_buf + got, RNG_BYTES - got, true};
    uint32_t len = virtq_request(&rng_queue, d, &buf, 1, "virtio-rng");
    if (len > RNG_BYTES - got)
      guest_fail(RRVM_EXIT_FAIL, "virtio-rng: used length %u > %u", len, RNG_BYTES - got);
    got += len;
  }
  asm volatile("" ::: "memory"); /* the device wrote rng_buf */
  if (got < RNG_BYTES)
    guest_fail(RRVM_EXIT_FAIL, "virtio-rng: only %u of %u bytes after 8 requests", got, RNG_BYTES);
  uint8_t any = 0;
  for (uint32_t i = 0; i < RNG_BYTES; i++) any |= rng_buf[i];
  if (any == 0) guest_fail(RRVM_EXIT_FAIL, "virtio-rng: %u bytes, all zero", RNG_BYTES);
  console_printf("rrvm-guest: virtio-rng ok bytes=");
  virtio_print_hex(rng_buf, RNG_BYTES);
  console_printf("\n");
  virtio_mmio_reset(d);
}

void virtio_bad_status_step(void) {
  struct virtio_mmio_dev* d = rng_device("virtio-bad-status");
  virtio_mmio_init(d, &rng_queue, 0, "virtio-bad-status");
  uint32_t before = virtio_mmio_read32(d, VIRTIO_MMIO_STATUS);
  uint32_t bad = before & ~VIRTIO_STATUS_DRIVER_OK;
  virtio_mmio_write32(d, VIRTIO_MMIO_STATUS, bad);
  uint32_t after = virtio_mmio_read32(d, VIRTIO_MMIO_STATUS);
  console_printf("rrvm-guest: virtio-bad-status wrote=%u status-before=%u status-after=%u %s\n",
                 bad, before, after, after == before ? "refused" : "accepted");
  virtio_mmio_reset(d);
  if (virtio_mmio_read32(d, VIRTIO_MMIO_STATUS) != 0)
    guest_fail(RRVM_EXIT_FAIL, "virtio-bad-status: reset after the bad write did not clear status");
}
