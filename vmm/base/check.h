// Assertions that stay on in release builds (as in rr): a failed check is a bug in rrvm, never a
// user mistake. User mistakes and bad input return Result errors instead.
#pragma once

#include <string>

namespace rrvm {

[[noreturn]] void check_failed(const char* file, int line, const char* expr, const std::string& msg);

}  // namespace rrvm

#define RRVM_CHECK(cond)                                                  \
  do {                                                                    \
    if (__builtin_expect(!(cond), 0)) ::rrvm::check_failed(__FILE__, __LINE__, #cond, ""); \
  } while (0)

#define RRVM_CHECK_MSG(cond, msg)                                          \
  do {                                                                     \
    if (__builtin_expect(!(cond), 0)) ::rrvm::check_failed(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)

// A bug: code that must never be reached.
#define RRVM_FATAL(msg) ::rrvm::check_failed(__FILE__, __LINE__, "FATAL", (msg))
