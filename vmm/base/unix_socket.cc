#include "vmm/base/unix_socket.h"

#include <sys/socket.h>

#include <cstring>

namespace rrvm {

Result<sockaddr_un> unix_socket_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return make_error("unix socket path '" + path + "' is " + std::to_string(path.size()) +
                      " bytes; at most " + std::to_string(sizeof addr.sun_path - 1) +
                      " fit (and at least 1)");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

}  // namespace rrvm
