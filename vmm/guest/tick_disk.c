/*
 * tick_disk=N: every tick writes its record (rrvm_boot_abi.h) to sector n % N of the first
 * virtio-blk device, FLUSHes (when offered), reads the sector back and compares all 512 bytes.
 * The device stays live (DRIVER_OK) while a tick loop runs, so a VM stop or migration finds it
 * active with its backend running; it is reset when a `ticks:N` step ends, or by guest_exit.
 */
#include "console.h"
#include "guest.h"
#include "lib.h"
#include "virtio_blk.h"

/* Linux's default block request timeout. A VM stopped mid-request and restored with
 * --clock-advance sees the whole stopped time pass at once; the driver's 1 s would fail it. */
#define TICK_DISK_TIMEOUT_NS 30000000000ull
#define WHO "tick-disk"

static struct blk_dev tick_dev;
static bool tick_dev_open;
static uint64_t record_out[RRVM_TICK_RECORD_WORDS] __attribute__((aligned(BLK_SECTOR_SIZE)));
static uint64_t record_in[RRVM_TICK_RECORD_WORDS] __attribute__((aligned(BLK_SECTOR_SIZE)));

void tick_disk_begin(void) {
  if (guest_cfg.tick_disk == 0 || tick_dev_open) return;
  blk_open(&tick_dev, WHO);
  tick_dev.queue.timeout_ns = TICK_DISK_TIMEOUT_NS;
  if (tick_dev.capacity < guest_cfg.tick_disk)
    guest_fail(RRVM_EXIT_FAIL, WHO ": capacity %lu sectors, tick_disk=%u needs that many",
               tick_dev.capacity, guest_cfg.tick_disk);
  tick_dev_open = true;
}

void tick_disk_end(void) {
  if (!tick_dev_open) return;
  tick_dev_open = false;
  blk_close(&tick_dev);
}

static void fill_record(uint64_t tick, uint64_t now_ns, uint64_t stopped_count) {
  volatile uint64_t* w = record_out;
  w[0] = RRVM_TICK_RECORD_MAGIC;
  w[1] = tick;
  w[2] = now_ns;
  w[3] = stopped_count;
  for (uint64_t i = RRVM_TICK_RECORD_FIRST_FILL; i < RRVM_TICK_RECORD_SUM_WORD; i++)
    w[i] = rrvm_tick_record_fill(tick, i);
  w[RRVM_TICK_RECORD_SUM_WORD] = rrvm_tick_record_sum(w);
}

uint64_t tick_disk_write(uint64_t tick, uint64_t now_ns, uint64_t stopped_count) {
  uint64_t sector = tick % guest_cfg.tick_disk;
  fill_record(tick, now_ns, stopped_count);
  blk_request(&tick_dev, VIRTIO_BLK_T_OUT, sector, record_out, BLK_SECTOR_SIZE, WHO);
  if (tick_dev.features & VIRTIO_BLK_F_FLUSH)
    blk_request(&tick_dev, VIRTIO_BLK_T_FLUSH, 0, 0, 0, WHO);
  volatile uint64_t* in = record_in;
  for (uint32_t i = 0; i < RRVM_TICK_RECORD_WORDS; i++) in[i] = ~record_out[i]; /* poison */
  blk_request(&tick_dev, VIRTIO_BLK_T_IN, sector, record_in, BLK_SECTOR_SIZE, WHO);
  for (uint32_t i = 0; i < RRVM_TICK_RECORD_WORDS; i++) {
    if (in[i] != record_out[i])
      guest_fail(RRVM_EXIT_DISK_MISMATCH,
                 WHO ": tick %lu sector %lu read back word %u as 0x%lx, wrote 0x%lx", tick, sector,
                 i, in[i], record_out[i]);
  }
  return sector;
}
