// The address of a unix socket path, checked against sockaddr_un's fixed-size sun_path (the QMP
// monitor, its client and the unix: migration channel all take user-given paths).
#pragma once

#include <sys/un.h>

#include <string>

#include "vmm/base/result.h"

namespace rrvm {

// An error naming the path when it is empty or too long for sun_path.
Result<sockaddr_un> unix_socket_address(const std::string& path);

}  // namespace rrvm
