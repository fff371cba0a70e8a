/*
 * A split virtqueue (virtio 1.x §2.7) of VIRTQ_SIZE entries in static guest memory. The guest is
 * identity-mapped, so a buffer's address is its guest-physical address. One request is in
 * flight at a time: submit, then poll the used ring.
 */
#ifndef RRVM_GUEST_VIRTQ_H
#define RRVM_GUEST_VIRTQ_H

#include <stdbool.h>
#include <stdint.h>

#define VIRTQ_SIZE 8

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

struct virtq_avail {
  uint16_t flags;
  uint16_t idx;
  uint16_t ring[VIRTQ_SIZE];
  uint16_t used_event;
};

struct virtq_used_elem {
  uint32_t id;
  uint32_t len;
};

struct virtq_used {
  uint16_t flags;
  uint16_t idx;
  struct virtq_used_elem ring[VIRTQ_SIZE];
  uint16_t avail_event;
};

/* Alignments are the spec's minimums (16/2/4); each ring gets its own 64-byte line anyway. */
struct virtq {
  struct virtq_desc desc[VIRTQ_SIZE] __attribute__((aligned(64)));
  struct virtq_avail avail __attribute__((aligned(64)));
  struct virtq_used used __attribute__((aligned(64)));
  uint16_t last_used;  /* driver-private: used.idx already consumed */
  bool interrupts_off; /* driver-private: VIRTQ_AVAIL_F_NO_INTERRUPT set, no InterruptStatus ack */
  uint64_t timeout_ns; /* driver-private: how long to poll for a used buffer; 0 means 1 s */
};

/* One buffer of a request: device-readable unless `device_writes`. */
struct virtq_buf {
  void* addr;
  uint32_t len;
  bool device_writes;
};

struct virtio_mmio_dev;

/* Clears the rings (before the queue is handed to the device). */
void virtq_reset(struct virtq* q);

/* Asks the device not to interrupt for used buffers (avail flag VIRTQ_AVAIL_F_NO_INTERRUPT,
 * §2.7.7) and stops virtq_request from reading and acknowledging InterruptStatus: one MMIO exit
 * less per request for a driver that polls anyway. */
void virtq_suppress_interrupts(struct virtq* q);

/* Puts `n` (1..VIRTQ_SIZE) buffers in one descriptor chain, makes it available, notifies queue 0
 * and polls the used ring for up to timeout_ns (default one second). Fails the guest on timeout or
 * on a used element that is not this chain; returns the used length. */
uint32_t virtq_request(struct virtq* q, const struct virtio_mmio_dev* d,
                       const struct virtq_buf* bufs, uint32_t n, const char* who);

#endif
