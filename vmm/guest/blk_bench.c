/*
 * The `blk-bench:MIB` step: guest-visible virtio-blk throughput. It writes MIB MiB from sector 0
 * in 1 MiB requests, FLUSHes (when offered), then reads the same MiB back, one request in flight
 * at a time, timing each pass with kvmclock. The driver polls, with used-buffer interrupts
 * suppressed, so a request costs one MMIO exit (QueueNotify) plus the guest's own instructions.
 *
 * Data: every 512-byte sector of the request buffer starts with a tag {magic, sector index in the
 * request}; sector 0's tag also carries the request number, stamped before each write. Reading
 * back checks sector 0's stamp and the last sector's tag after each request (a few instructions,
 * inside the timed loop), so a device that skipped or misplaced a request fails the step. The rest
 * of each sector is zero. Host tests check the image with the same layout (docs/guest.md).
 */
#include "console.h"
#include "guest.h"
#include "virtio_blk.h"

#define BENCH_REQUEST_BYTES (1u << 20)
#define BENCH_SECTORS_PER_REQUEST (BENCH_REQUEST_BYTES / BLK_SECTOR_SIZE)
#define BENCH_TAG_MAGIC 0x68636e626d767272ull /* "rrvmbnch" as little-endian bytes */
#define BENCH_NO_REQUEST 0xffffffffffffffffull
/* A FLUSH of hundreds of MiB written to the host's page cache waits for the disk: far longer
 * than the driver's default 1 s. */
#define BENCH_REQUEST_TIMEOUT_NS 60000000000ull

struct bench_tag {
  uint64_t magic;   /* BENCH_TAG_MAGIC */
  uint64_t sector;  /* index of the sector inside its request, 0..BENCH_SECTORS_PER_REQUEST-1 */
  uint64_t request; /* sector 0: the request number (its MiB on the disk); other sectors: 0 */
};

static struct blk_dev bench_dev;
static uint8_t bench_buf[BENCH_REQUEST_BYTES] __attribute__((aligned(4096)));

static volatile struct bench_tag* tag(uint32_t sector) {
  return (volatile struct bench_tag*)(bench_buf + (uint64_t)sector * BLK_SECTOR_SIZE);
}

/* Untimed: about five instructions per sector (~20 ms under KVM's emulator). */
static void tag_buffer(void) {
  for (uint32_t s = 0; s < BENCH_SECTORS_PER_REQUEST; s++) {
    tag(s)->magic = BENCH_TAG_MAGIC;
    tag(s)->sector = s;
  }
}

static void check_read(uint64_t request) {
  volatile struct bench_tag* first = tag(0);
  volatile struct bench_tag* last = tag(BENCH_SECTORS_PER_REQUEST - 1);
  if (first->magic != BENCH_TAG_MAGIC || first->sector != 0 || first->request != request ||
      last->magic != BENCH_TAG_MAGIC || last->sector != BENCH_SECTORS_PER_REQUEST - 1) {
    guest_fail(RRVM_EXIT_FAIL,
               "blk-bench: MiB %lu read back with request stamp %lu, last sector tag %lu", request,
               first->request, last->sector);
  }
}

/* One timed pass over `requests` MiB from sector 0; returns its kvmclock duration in ns. */
static uint64_t bench_pass(struct blk_dev* b, uint32_t type, uint64_t requests) {
  uint64_t start = clock_now_checked(0);
  for (uint64_t k = 0; k < requests; k++) {
    if (type == VIRTIO_BLK_T_OUT) {
      tag(0)->request = k;
    } else { /* poison what the device must overwrite */
      tag(0)->request = BENCH_NO_REQUEST;
      tag(BENCH_SECTORS_PER_REQUEST - 1)->sector = BENCH_NO_REQUEST;
    }
    blk_request(b, type, k * BENCH_SECTORS_PER_REQUEST, bench_buf, BENCH_REQUEST_BYTES,
                "blk-bench");
    if (type == VIRTIO_BLK_T_IN) check_read(k);
  }
  return clock_now_checked(0) - start;
}

static void report(const char* what, uint64_t requests, uint64_t ns) {
  uint64_t bytes = requests * BENCH_REQUEST_BYTES;
  uint64_t tenths = ns != 0 ? bytes * 10000 / ns : 0; /* MB/s (10^6 bytes), one decimal */
  console_printf(
      "rrvm-guest: blk-bench %s bytes=%lu requests=%lu request_bytes=%u ns=%lu mb_per_s=%lu.%lu\n",
      what, bytes, requests, BENCH_REQUEST_BYTES, ns, tenths / 10, tenths % 10);
}

void blk_bench_step(uint64_t mib) {
  struct blk_dev* b = &bench_dev;
  blk_open(b, "blk-bench");
  virtq_suppress_interrupts(&b->queue);
  b->queue.timeout_ns = BENCH_REQUEST_TIMEOUT_NS;
  uint64_t need = mib * BENCH_SECTORS_PER_REQUEST;
  if (b->capacity < need)
    guest_fail(RRVM_EXIT_FAIL, "blk-bench: capacity %lu sectors, %lu MiB need %lu", b->capacity,
               mib, need);
  tag_buffer();
  report("write", mib, bench_pass(b, VIRTIO_BLK_T_OUT, mib));
  if (b->features & VIRTIO_BLK_F_FLUSH) {
    uint64_t start = clock_now_checked(0);
    blk_request(b, VIRTIO_BLK_T_FLUSH, 0, 0, 0, "blk-bench");
    console_printf("rrvm-guest: blk-bench flush ns=%lu\n", clock_now_checked(0) - start);
  }
  report("read", mib, bench_pass(b, VIRTIO_BLK_T_IN, mib));
  blk_close(b);
}
