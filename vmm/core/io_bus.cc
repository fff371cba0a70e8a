#include "vmm/core/io_bus.h"

#include <cstdio>
#include <cstring>

namespace rrvm {

Status IoBus::insert(uint64_t base, uint64_t size, std::shared_ptr<BusDevice> device) {
  if (size == 0 || base + size < base) return make_error(name_ + ": invalid range for " + device->name());
  std::unique_lock lock(mu_);
  auto next = ranges_.lower_bound(base);
  bool overlaps_next = next != ranges_.end() && next->first < base + size;
  bool overlaps_prev = next != ranges_.begin() && std::prev(next)->first + std::prev(next)->second.size > base;
  if (overlaps_next || overlaps_prev) {
    const auto& other = overlaps_next ? next->second : std::prev(next)->second;
    char buf[64];
    std::snprintf(buf, sizeof buf, " at 0x%llx", static_cast<unsigned long long>(base));
    return make_error(name_ + ": " + device->name() + buf + " overlaps " +
                      (other.device ? other.device->name() : std::string("a reserved range")));
  }
  ranges_.emplace(base, Range{size, std::move(device)});
  return ok_status();
}

Status IoBus::replace(uint64_t base, std::shared_ptr<BusDevice> device) {
  std::unique_lock lock(mu_);
  auto it = ranges_.find(base);
  if (it == ranges_.end()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, ": no device at 0x%llx to replace", static_cast<unsigned long long>(base));
    return make_error(name_ + buf);
  }
  it->second.device = std::move(device);
  return ok_status();
}

std::shared_ptr<BusDevice> IoBus::find(uint64_t addr, uint64_t* base) const {
  std::shared_lock lock(mu_);
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return nullptr;
  --it;
  if (addr - it->first >= it->second.size) return nullptr;
  if (base) *base = it->first;
  return it->second.device;
}

bool IoBus::read(uint64_t addr, std::span<uint8_t> data) const {
  uint64_t base = 0;
  auto dev = find(addr, &base);
  if (!dev) {
    std::memset(data.data(), 0xff, data.size());
    return false;
  }
  dev->read(addr - base, data);
  return true;
}

bool IoBus::write(uint64_t addr, std::span<const uint8_t> data) const {
  uint64_t base = 0;
  auto dev = find(addr, &base);
  if (!dev) return false;
  dev->write(addr - base, data);
  return true;
}

}  // namespace rrvm
