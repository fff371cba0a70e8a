// Logging: spdlog, one logger for the whole process. Call init_logging() once from main().
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace rrvm {

// level: "trace", "debug", "info", "warn", "error", "off". Logs go to stderr so that stdout
// stays for command output (dump, the guest console).
void init_logging(const std::string& level);

}  // namespace rrvm
