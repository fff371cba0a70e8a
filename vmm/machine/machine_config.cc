#include "vmm/machine/machine_config.h"

#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>

namespace rrvm::machine {

std::optional<uint64_t> parse_size(const std::string& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return std::nullopt;
  size_t end = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &end, 10);
  } catch (...) {
    return std::nullopt;
  }
  std::string suffix = text.substr(end);
  int shift = 0;
  if (suffix.empty() || suffix == "B") {
    shift = 0;
  } else if (suffix == "K" || suffix == "k" || suffix == "KiB") {
    shift = 10;
  } else if (suffix == "M" || suffix == "m" || suffix == "MiB") {
    shift = 20;
  } else if (suffix == "G" || suffix == "g" || suffix == "GiB") {
    shift = 30;
  } else {
    return std::nullopt;
  }
  if (value > (ULLONG_MAX >> shift)) return std::nullopt;
  return static_cast<uint64_t>(value) << shift;
}

std::string rrvm_guest_path() {
  if (const char* env = std::getenv("RRVM_GUEST"); env && *env) return env;
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return "rrvm-guest.elf";
  std::string dir(exe, static_cast<size_t>(n));
  dir = dir.substr(0, dir.find_last_of('/'));
  return dir + "/rrvm-guest.elf";
}

}  // namespace rrvm::machine
