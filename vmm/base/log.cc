#include "vmm/base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace rrvm {

void init_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("rrvm");
  logger->set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace rrvm
