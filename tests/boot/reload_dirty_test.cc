// A system reset writes the kernel and its boot data into RAM again (Machine::reset_devices), and a
// live migration may be running then: KVM's dirty log does not see those writes, so every page a
// loader changes must be marked in GuestMemory's dirty tracking, or the target keeps the old one.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/boot/fake_bzimage.h"
#include "tests/boot/guest_elf.h"
#include "vmm/boot/kernel_loader.h"

namespace rrvm::boot {
namespace {

using namespace rrvm::boot::testing;

constexpr uint64_t RAM_BYTES = 128ull << 20;
constexpr uint8_t FILL = 0xa5;

// Loads `kernel` into RAM filled with FILL, with dirty tracking on, and returns the pages whose
// contents changed but that were not marked. `changed` counts the pages that changed.
std::vector<uint64_t> unmarked_changed_pages(const std::vector<uint8_t>& kernel,
                                             const std::string& cmdline, size_t& changed) {
  GuestMemory mem = std::move(GuestMemory::allocate(RAM_BYTES)).value();
  RRVM_CHECK(mem.regions().size() == 1);
  std::span<uint8_t> ram = mem.slice(0, RAM_BYTES).value();
  std::memset(ram.data(), FILL, ram.size());
  mem.set_dirty_tracking(true);
  auto plan =
      load_kernel_image(mem, kernel, {}, KernelSpec{"kernel", "", cmdline, 2, BootProtocol::Auto});
  EXPECT_TRUE(plan.ok()) << plan.error().describe();
  std::vector<uint64_t> marked = mem.take_dirty(0);
  std::vector<uint64_t> unmarked;
  changed = 0;
  const std::vector<uint8_t> untouched(GuestMemory::PAGE_SIZE, FILL);
  for (uint64_t page = 0; page < RAM_BYTES / GuestMemory::PAGE_SIZE; ++page) {
    const uint8_t* at = ram.data() + page * GuestMemory::PAGE_SIZE;
    if (std::memcmp(at, untouched.data(), untouched.size()) == 0) continue;
    ++changed;
    if (!(marked[page / 64] >> (page % 64) & 1)) unmarked.push_back(page * GuestMemory::PAGE_SIZE);
  }
  return unmarked;
}

// The rrvm guest: ELF segments (with bss), page tables, GDT, start info, command line, memory map.
TEST(ReloadDirty, RrvmGuestLoadMarksEveryPageItWrites) {
  size_t changed = 0;
  EXPECT_EQ(unmarked_changed_pages(guest_elf_bytes(), "rrvm.cpus=2", changed),
            std::vector<uint64_t>{});
  EXPECT_GT(changed, 3u);
}

// A Linux bzImage: the kernel, zero page, command line, page tables and ACPI tables.
TEST(ReloadDirty, BzImageLoadMarksEveryPageItWrites) {
  size_t changed = 0;
  EXPECT_EQ(unmarked_changed_pages(FakeBzImage().build(), "console=ttyS0", changed),
            std::vector<uint64_t>{});
  EXPECT_GT(changed, 3u);
}

}  // namespace
}  // namespace rrvm::boot
