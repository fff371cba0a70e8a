/*
 * virtio-blk driver side (§5.2), shared by the `virtio-blk` step (virtio_blk.c) and the
 * `blk-bench` step (blk_bench.c): device discovery and initialisation, the capacity, and one
 * request at a time on queue 0.
 */
#ifndef RRVM_GUEST_VIRTIO_BLK_H
#define RRVM_GUEST_VIRTIO_BLK_H

#include <stdint.h>

#include "virtio_mmio.h"

#define BLK_SECTOR_SIZE 512

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_F_FLUSH (1ull << 9)

struct blk_dev {
  struct virtio_mmio_dev* mmio;
  struct virtq queue;
  uint64_t features; /* accepted, VIRTIO_F_VERSION_1 included */
  uint64_t capacity; /* in 512-byte sectors */
};

/* Finds the first virtio-blk device, initialises it (asking for FLUSH) and reads its capacity.
 * Fails the guest (naming `who`) when there is none or initialisation fails. */
void blk_open(struct blk_dev* b, const char* who);

/* One request: header, `len` bytes at `data` (none when len is 0; device-writable for IN), status
 * byte. Fails the guest (naming `who`) unless the device answers VIRTIO_BLK_S_OK. */
void blk_request(struct blk_dev* b, uint32_t type, uint64_t sector, void* data, uint32_t len,
                 const char* who);

/* Resets the device (status 0), as a driver does when it lets go of it. */
void blk_close(struct blk_dev* b);

#endif
