// Constructors of the concrete channels; only channel.cc's dispatch uses them.
#pragma once

#include <memory>
#include <string>

#include "vmm/migration/channel.h"

namespace rrvm::migration::detail {

Result<std::unique_ptr<Channel>> open_file_for_writing(const std::string& path);
Result<std::unique_ptr<Listener>> file_listener(const std::string& path);
Result<std::unique_ptr<Channel>> connect_socket(const ChannelUri& uri, const std::string& text);
Result<std::unique_ptr<Listener>> listen_socket(const ChannelUri& uri, const std::string& text);

}  // namespace rrvm::migration::detail
