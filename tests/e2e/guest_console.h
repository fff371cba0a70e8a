// The rrvm guest's console lines (vmm/guest/tick.c, main.c) as the tests read them from the
// serial output file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rrvm::e2e {

// `tick <n> kvmclock_ns=<ns> wall_ns=<ns> tsc=<tsc>`
struct Tick {
  uint64_t n = 0;
  uint64_t kvmclock_ns = 0;
  uint64_t wall_ns = 0;
  uint64_t tsc = 0;
};

// Complete tick lines (ending in a newline) in order; partial or malformed lines are skipped.
std::vector<Tick> parse_ticks(const std::string& console);
// How many complete lines contain `text`.
size_t count_lines(const std::string& console, const std::string& text);
// True when the console's last line is a tick line whose newline has not been written yet.
bool ends_in_partial_tick(const std::string& console);

inline constexpr const char* READY_MARKER = "rrvm-guest: ready cpus=";

}  // namespace rrvm::e2e
