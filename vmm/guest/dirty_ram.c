/*
 * dirty_mib=N: a working set of N MiB at RRVM_GUEST_DIRTY_GPA that every tick dirties, one
 * 64-bit word at the start of each 4 KiB page (rrvm_dirty_word(tick, page)), so every page of it
 * changes every tick and a precopy migration has to send it again and again. After the guest
 * notices PVCLOCK_GUEST_STOPPED (a stop, snapshot restore or migration happened) it checks that
 * every page still holds the last complete tick's word: a page the VMM failed to re-send after
 * its last write fails the guest. Checking every tick would double the cost (each instruction
 * takes ~2 us under KVM's emulator: one page costs about two).
 */
#include "console.h"
#include "guest.h"

#define PAGE_WORDS (4096 / sizeof(uint64_t))

static uint64_t written_tick; /* the last tick whose words reached every page; 0 = none yet */

static uint64_t dirty_pages(void) { return (uint64_t)guest_cfg.dirty_mib * 256; }

static bool inside(uint64_t lo, uint64_t hi, uint64_t addr, uint64_t size) {
  return addr <= lo && hi <= addr + size && addr + size >= addr;
}

bool dirty_ram_validate(const struct hvm_start_info* si) {
  if (guest_cfg.dirty_mib == 0) return true;
  uint64_t lo = RRVM_GUEST_DIRTY_GPA, hi = lo + dirty_pages() * 4096;
  bool ram = false;
  const struct hvm_memmap_table_entry* map =
      (const struct hvm_memmap_table_entry*)(uintptr_t)si->memmap_paddr;
  for (uint32_t i = 0; si->version >= 1 && map != 0 && i < si->memmap_entries; i++) {
    if (map[i].type == XEN_HVM_MEMMAP_TYPE_RAM && inside(lo, hi, map[i].addr, map[i].size))
      ram = true;
  }
  if (!ram) {
    console_printf("rrvm-guest: dirty_mib=%u: [0x%lx, 0x%lx) is not RAM in the memory map\n",
                   guest_cfg.dirty_mib, lo, hi);
    return false;
  }
  const struct hvm_modlist_entry* mods =
      (const struct hvm_modlist_entry*)(uintptr_t)si->modlist_paddr;
  for (uint32_t i = 0; mods != 0 && i < si->nr_modules; i++) {
    if (mods[i].paddr < hi && lo < mods[i].paddr + mods[i].size) {
      console_printf("rrvm-guest: dirty_mib=%u: [0x%lx, 0x%lx) overlaps module %u at 0x%lx\n",
                     guest_cfg.dirty_mib, lo, hi, i, mods[i].paddr);
      return false;
    }
  }
  return true;
}

uint64_t dirty_ram_write(uint64_t tick) {
  volatile uint64_t* p = (volatile uint64_t*)(uintptr_t)RRVM_GUEST_DIRTY_GPA;
  uint64_t pages = dirty_pages();
  uint64_t word = rrvm_dirty_word(tick, 0);
#pragma GCC unroll 8
  for (uint64_t i = 0; i < pages; i++) p[i * PAGE_WORDS] = word + i;
  written_tick = tick;
  return pages;
}

void dirty_ram_verify(void) {
  if (written_tick == 0) return;
  volatile uint64_t* p = (volatile uint64_t*)(uintptr_t)RRVM_GUEST_DIRTY_GPA;
  uint64_t pages = dirty_pages();
  uint64_t word = rrvm_dirty_word(written_tick, 0);
  uint64_t diff = 0; /* no branch per page: find the culprit only when something differs */
#pragma GCC unroll 8
  for (uint64_t i = 0; i < pages; i++) diff |= p[i * PAGE_WORDS] ^ (word + i);
  for (uint64_t i = 0; diff != 0 && i < pages; i++) {
    uint64_t got = p[i * PAGE_WORDS];
    if (got != word + i)
      guest_fail(RRVM_EXIT_RAM_MISMATCH,
                 "dirty-ram: page at 0x%lx holds 0x%lx, tick %lu wrote 0x%lx",
                 (uint64_t)(uintptr_t)&p[i * PAGE_WORDS], got, written_tick, word + i);
  }
  console_printf("rrvm-guest: dirty-ram verified pages=%lu tick=%lu\n", pages, written_tick);
}
