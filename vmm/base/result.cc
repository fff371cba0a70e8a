#include "vmm/base/result.h"

#include <cstdio>
#include <cstdlib>

namespace rrvm {

std::string Error::describe() const {
  if (err == 0) return message;
  return message + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")";
}

Error Error::context(const std::string& what) const { return Error{what + ": " + message, err}; }

void check_failed(const char* file, int line, const char* expr, const std::string& msg) {
  std::fprintf(stderr, "rrvm: internal error (bug) at %s:%d: check '%s' failed%s%s\n", file, line,
               expr, msg.empty() ? "" : ": ", msg.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace rrvm
