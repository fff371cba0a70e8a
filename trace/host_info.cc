// fill_host_info(): what the trace header says about the recording machine.
#include <sys/utsname.h>

#include <fstream>
#include <string>

#include "trace/clock.h"
#include "trace/recorder.h"

namespace rrvm::trace {
namespace {

// The value of the first "key : value" line of /proc/cpuinfo with this key.
std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with(key)) continue;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? std::string() : line.substr(start);
  }
  return {};
}

}  // namespace

void fill_host_info(Header& header) {
  utsname u{};
  if (uname(&u) == 0) header.host_kernel = u.release;
  header.cpu_vendor = cpuinfo_field("vendor_id");
  header.cpu_model = cpuinfo_field("model name");
  header.wall_clock_start_ns = internal::realtime_ns();
}

}  // namespace rrvm::trace
