#include "tests/e2e/guest_console.h"

#include <cinttypes>
#include <cstdio>
#include <sstream>

namespace rrvm::e2e {

std::vector<Tick> parse_ticks(const std::string& console) {
  std::vector<Tick> out;
  size_t start = 0;
  for (size_t nl; (nl = console.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = console.substr(start, nl - start);
    Tick t;
    int used = 0;
    if (std::sscanf(line.c_str(), "tick %" SCNu64 " kvmclock_ns=%" SCNu64 " wall_ns=%" SCNu64
                                  " tsc=%" SCNu64 "%n",
                    &t.n, &t.kvmclock_ns, &t.wall_ns, &t.tsc, &used) == 4 &&
        static_cast<size_t>(used) == line.size()) {
      out.push_back(t);
    }
  }
  return out;
}

size_t count_lines(const std::string& console, const std::string& text) {
  size_t count = 0;
  size_t start = 0;
  for (size_t nl; (nl = console.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (console.substr(start, nl - start).find(text) != std::string::npos) ++count;
  }
  return count;
}

bool ends_in_partial_tick(const std::string& console) {
  size_t last = console.rfind('\n');
  std::string tail = last == std::string::npos ? console : console.substr(last + 1);
  const std::string prefix = "tick ";
  return !tail.empty() && (tail.rfind(prefix, 0) == 0 || prefix.rfind(tail, 0) == 0);
}

}  // namespace rrvm::e2e
