#include "vmm/migration/channel.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace rrvm::migration {

namespace {

Result<uint16_t> parse_port(const std::string& text, const std::string& uri) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 65535) {
    return make_error("migration URI '" + uri + "': bad port '" + text + "'");
  }
  return static_cast<uint16_t>(value);
}

Result<ChannelUri> parse_tcp(const std::string& rest, const std::string& uri) {
  ChannelUri out;
  out.kind = ChannelUri::Kind::Tcp;
  std::string port;
  if (!rest.empty() && rest[0] == '[') {  // [IPv6]:port
    size_t close = rest.find(']');
    if (close == std::string::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return make_error("migration URI '" + uri + "': expected tcp:[ADDRESS]:PORT");
    }
    out.host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return make_error("migration URI '" + uri + "': expected tcp:HOST:PORT");
    }
    out.host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  RRVM_ASSIGN_OR_RETURN(out.port, parse_port(port, uri));
  return out;
}

}  // namespace

Result<ChannelUri> parse_channel_uri(const std::string& uri) {
  size_t colon = uri.find(':');
  if (colon == std::string::npos) {
    return make_error("migration URI '" + uri +
                      "': expected file:PATH, unix:PATH or tcp:HOST:PORT");
  }
  std::string scheme = uri.substr(0, colon);
  std::string rest = uri.substr(colon + 1);
  if (scheme == "tcp") return parse_tcp(rest, uri);
  if (scheme != "file" && scheme != "unix") {
    return make_error("migration URI '" + uri + "': unknown transport '" + scheme +
                      "' (expected file, unix or tcp)");
  }
  if (rest.empty()) return make_error("migration URI '" + uri + "': empty path");
  if (rest.find('\0') != std::string::npos) return make_error("migration URI: path contains NUL");
  ChannelUri out;
  out.kind = scheme == "file" ? ChannelUri::Kind::File : ChannelUri::Kind::Unix;
  out.path = rest;
  return out;
}

Error Channel::cancelled_error(const std::string& op) const {
  return make_error("migration channel " + name_ + ": " + op + ": cancelled");
}

Status MemoryChannel::write_all(std::span<const uint8_t> data) {
  if (cancelled()) return cancelled_error("write");
  output_.insert(output_.end(), data.begin(), data.end());
  return ok_status();
}

Result<size_t> MemoryChannel::read_some(std::span<uint8_t> data) {
  if (cancelled()) return cancelled_error("read");
  size_t n = std::min(data.size(), input_.size() - read_pos_);
  std::memcpy(data.data(), input_.data() + read_pos_, n);
  read_pos_ += n;
  return n;
}

Status MemoryChannel::read_exact(std::span<uint8_t> data) {
  RRVM_ASSIGN_OR_RETURN(size_t n, read_some(data));
  if (n != data.size()) {
    return make_error("migration channel memory: read: stream ended after " +
                      std::to_string(read_pos_) + " bytes");
  }
  return ok_status();
}

Status MemoryChannel::commit() {
  if (cancelled()) return cancelled_error("commit");
  committed_ = true;
  return ok_status();
}

}  // namespace rrvm::migration

#include "vmm/migration/channel_impl.h"

namespace rrvm::migration {

Result<std::unique_ptr<Channel>> open_outgoing_channel(const std::string& uri) {
  RRVM_ASSIGN_OR_RETURN(ChannelUri parsed, parse_channel_uri(uri));
  if (parsed.kind == ChannelUri::Kind::File) return detail::open_file_for_writing(parsed.path);
  return detail::connect_socket(parsed, uri);
}

Result<std::unique_ptr<Listener>> listen_incoming_channel(const std::string& uri) {
  RRVM_ASSIGN_OR_RETURN(ChannelUri parsed, parse_channel_uri(uri));
  if (parsed.kind == ChannelUri::Kind::File) return detail::file_listener(parsed.path);
  return detail::listen_socket(parsed, uri);
}

}  // namespace rrvm::migration
