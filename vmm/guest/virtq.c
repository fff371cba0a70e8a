/*
 * Split virtqueue, driver side. Ordering (x86 is TSO, so compiler barriers suffice): descriptors
 * and the avail ring entry are written before avail.idx is published, and avail.idx before the
 * QueueNotify write; used.idx is read before the used element it covers.
 */
#include "virtq.h"

#include "console.h"
#include "guest.h"
#include "lib.h"
#include "virtio_mmio.h"

#define VIRTQ_DEFAULT_TIMEOUT_NS 1000000000ull
/* used.idx polls between two kvmclock reads: a poll is a few instructions, a clock read ~30
 * (each ~2 us under KVM's emulator), so reading the clock every time would make the driver
 * notice a completion up to ~60 us late. */
#define VIRTQ_POLLS_PER_CLOCK_READ 64

#define barrier() asm volatile("" ::: "memory")

void virtq_reset(struct virtq* q) { memset(q, 0, sizeof(*q)); }

static uint16_t wait_used(struct virtq* q, const char* who) {
  volatile uint16_t* used_idx = &q->used.idx;
  uint64_t timeout = q->timeout_ns != 0 ? q->timeout_ns : VIRTQ_DEFAULT_TIMEOUT_NS;
  uint64_t deadline = clock_now_checked(0) + timeout;
  for (;;) {
    for (int i = 0; i < VIRTQ_POLLS_PER_CLOCK_READ; i++) {
      uint16_t idx = *used_idx;
      if (idx != q->last_used) return idx;
    }
    if (clock_now_checked(0) > deadline)
      guest_fail(RRVM_EXIT_FAIL, "%s: no used buffer within %lu ms", who, timeout / 1000000);
  }
}

void virtq_suppress_interrupts(struct virtq* q) {
  ((volatile struct virtq_avail*)&q->avail)->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
  q->interrupts_off = true;
}

uint32_t virtq_request(struct virtq* q, const struct virtio_mmio_dev* d,
                       const struct virtq_buf* bufs, uint32_t n, const char* who) {
  if (n == 0 || n > VIRTQ_SIZE) guest_fail(RRVM_EXIT_FAIL, "%s: request of %u buffers", who, n);
  volatile struct virtq_desc* desc = q->desc;
  for (uint32_t i = 0; i < n; i++) {
    desc[i].addr = (uint64_t)(uintptr_t)bufs[i].addr;
    desc[i].len = bufs[i].len;
    desc[i].flags = (uint16_t)((bufs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
                               (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
    desc[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
  }
  volatile struct virtq_avail* avail = &q->avail;
  uint16_t aidx = avail->idx;
  avail->ring[aidx % VIRTQ_SIZE] = 0; /* head of the chain */
  barrier();                          /* chain and ring entry before the index */
  avail->idx = (uint16_t)(aidx + 1);
  barrier(); /* index before the notify */
  virtio_mmio_write32(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);

  uint16_t uidx = wait_used(q, who);
  barrier(); /* used.idx before the element it covers */
  volatile struct virtq_used_elem* e = &q->used.ring[q->last_used % VIRTQ_SIZE];
  uint32_t id = e->id, len = e->len;
  q->last_used = (uint16_t)(q->last_used + 1);
  if (uidx != q->last_used) guest_fail(RRVM_EXIT_FAIL, "%s: used.idx jumped to %u", who, uidx);
  if (id != 0) guest_fail(RRVM_EXIT_FAIL, "%s: used element names descriptor %u, not 0", who, id);
  if (q->interrupts_off) return len;
  /* Polling driver: acknowledge whatever the device raised so the line does not stay asserted. */
  uint32_t isr = virtio_mmio_read32(d, VIRTIO_MMIO_INTERRUPT_STATUS);
  if (isr != 0) virtio_mmio_write32(d, VIRTIO_MMIO_INTERRUPT_ACK, isr);
  return len;
}
