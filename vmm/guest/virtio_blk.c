/*
 * virtio-blk driver (§5.2): discovery, initialisation and one request at a time (virtio_blk.h),
 * and the `virtio-blk` scenario step: write a known pattern to sectors 0..BLK_WRITE_SECTORS-1,
 * FLUSH, read it back and compare, then read sector 8 (which the host test pre-fills) and print its
 * first bytes and a checksum.
 */
#include "virtio_blk.h"

#include "console.h"
#include "guest.h"
#include "lib.h"

#define BLK_WRITE_SECTORS 4
#define BLK_HOST_SECTOR 8

struct blk_req_header {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

/* Device-visible request framing; one request is in flight at a time, so one of each. */
static struct blk_req_header blk_header;
static uint8_t blk_status;

static struct blk_dev blk_step_dev;
static uint8_t blk_out[BLK_WRITE_SECTORS * BLK_SECTOR_SIZE]
    __attribute__((aligned(BLK_SECTOR_SIZE)));
static uint8_t blk_in[BLK_WRITE_SECTORS * BLK_SECTOR_SIZE]
    __attribute__((aligned(BLK_SECTOR_SIZE)));

static uint64_t read_capacity(const struct virtio_mmio_dev* d) {
  uint32_t gen, lo, hi;
  do { /* §4.2.2.2: re-read when the config generation changed under us */
    gen = virtio_mmio_read32(d, VIRTIO_MMIO_CONFIG_GENERATION);
    lo = virtio_mmio_read32(d, VIRTIO_MMIO_CONFIG);
    hi = virtio_mmio_read32(d, VIRTIO_MMIO_CONFIG + 4);
  } while (gen != virtio_mmio_read32(d, VIRTIO_MMIO_CONFIG_GENERATION));
  return (uint64_t)hi << 32 | lo;
}

void blk_open(struct blk_dev* b, const char* who) {
  b->mmio = virtio_mmio_find(VIRTIO_ID_BLOCK);
  if (b->mmio == 0) guest_fail(RRVM_EXIT_FAIL, "%s: no virtio-mmio block device", who);
  b->features = virtio_mmio_init(b->mmio, &b->queue, VIRTIO_BLK_F_FLUSH, who);
  b->capacity = read_capacity(b->mmio);
}

void blk_request(struct blk_dev* b, uint32_t type, uint64_t sector, void* data, uint32_t len,
                 const char* who) {
  blk_header = (struct blk_req_header){.type = type, .sector = sector};
  blk_status = 0xff;
  struct virtq_buf bufs[3];
  uint32_t n = 0;
  bufs[n++] = (struct virtq_buf){&blk_header, sizeof(blk_header), false};
  if (len != 0) bufs[n++] = (struct virtq_buf){data, len, type == VIRTIO_BLK_T_IN};
  bufs[n++] = (struct virtq_buf){&blk_status, 1, true};
  virtq_request(&b->queue, b->mmio, bufs, n, who);
  asm volatile("" ::: "memory"); /* the device wrote blk_status behind the compiler's back */
  if (blk_status != VIRTIO_BLK_S_OK)
    guest_fail(RRVM_EXIT_FAIL, "%s: request type %u sector %lu: status %u", who, type, sector,
               blk_status);
}

void blk_close(struct blk_dev* b) { virtio_mmio_reset(b->mmio); }

/* Byte j of sector s: "rrvm-sector-<s>" then (s * 0x35 + j * 7 + 1) mod 256 (tests/guest_virtio).
 */
static void fill_pattern(void) {
  for (uint32_t s = 0; s < BLK_WRITE_SECTORS; s++) {
    uint8_t* p = blk_out + s * BLK_SECTOR_SIZE;
    for (uint32_t j = 0; j < BLK_SECTOR_SIZE; j++) p[j] = (uint8_t)(s * 0x35 + j * 7 + 1);
    memcpy(p, "rrvm-sector-", 12);
    p[12] = (uint8_t)('0' + s);
  }
}

static uint32_t fnv1a(const uint8_t* p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

void virtio_blk_step(void) {
  struct blk_dev* b = &blk_step_dev;
  const char* who = "virtio-blk";
  blk_open(b, who);
  bool flush = (b->features & VIRTIO_BLK_F_FLUSH) != 0;
  if (b->capacity <= BLK_HOST_SECTOR)
    guest_fail(RRVM_EXIT_FAIL, "virtio-blk: capacity %lu sectors, need more than %u", b->capacity,
               BLK_HOST_SECTOR);
  fill_pattern();
  blk_request(b, VIRTIO_BLK_T_OUT, 0, blk_out, sizeof(blk_out), who);
  if (flush) blk_request(b, VIRTIO_BLK_T_FLUSH, 0, 0, 0, who);
  memset(blk_in, 0, sizeof(blk_in));
  blk_request(b, VIRTIO_BLK_T_IN, 0, blk_in, sizeof(blk_in), who);
  if (memcmp(blk_in, blk_out, sizeof(blk_out)) != 0)
    guest_fail(RRVM_EXIT_FAIL, "virtio-blk: sectors 0..%u read back differ from what was written",
               BLK_WRITE_SECTORS - 1);
  blk_request(b, VIRTIO_BLK_T_IN, BLK_HOST_SECTOR, blk_in, BLK_SECTOR_SIZE, who);
  console_printf(
      "rrvm-guest: virtio-blk ok capacity=%lu flush=%s wrote=%u read-back=ok host-sector8=",
      b->capacity, flush ? "yes" : "no", BLK_WRITE_SECTORS);
  virtio_print_hex(blk_in, 16);
  console_printf(" host-sector8-fnv=%08x\n", fnv1a(blk_in, BLK_SECTOR_SIZE));
  blk_close(b); /* leave the device reset, as a driver unload does */
}
