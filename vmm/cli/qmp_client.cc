#include "vmm/cli/qmp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace rrvm::cli {
namespace {

using Clock = std::chrono::steady_clock;
using monitor::Json;

// Enough of a message to recognise it in an error, not a screenful.
std::string excerpt(const std::string& text) {
  constexpr size_t MAX = 80;
  std::string s = text.size() > MAX ? text.substr(0, MAX) + "..." : text;
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

std::string seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

}  // namespace

Result<QmpClient> QmpClient::connect(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return make_error("QMP socket path '" + path + "' is empty or longer than " +
                      std::to_string(sizeof(addr.sun_path) - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("socket(AF_UNIX)");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    // ECONNREFUSED covers both a socket file nobody listens on and a path that is no socket.
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
      return make_error(path + " is not a unix socket (expected rrvm run's --qmp socket)");
    }
    if (err == ECONNREFUSED) {
      return errno_error("connecting to the QMP socket " + path + " (has that rrvm ended?)", err);
    }
    return errno_error("connecting to the QMP socket " + path, err);
  }
  QmpClient client(path, std::move(fd), timeout);
  RRVM_TRY(client.read_greeting());
  RRVM_TRY(client.execute("qmp_capabilities"));
  return client;
}

Status QmpClient::read_greeting() {
  auto greeting = read_message();
  if (!greeting.ok()) {
    return greeting.error().context(path_ + " is not an rrvm QMP monitor (no QMP greeting)");
  }
  const Json& g = *greeting;
  const Json* version = nullptr;
  if (g.is_object() && g.contains("QMP") && g["QMP"].is_object() && g["QMP"].contains("version")) {
    version = &g["QMP"]["version"];
  }
  if (version == nullptr || !version->is_object()) {
    return make_error(path_ + " is not a QMP monitor: its first message is " + excerpt(g.dump()));
  }
  auto package = version->find("package");
  package_ = package != version->end() && package->is_string() ? package->get<std::string>() : "";
  // The snapshot file is rrvm's format, and only rrvm's `migrate` takes file: URIs the way
  // `rrvm restore` reads them, so another VMM's monitor is refused up front.
  if (package_.rfind("rrvm", 0) != 0) {
    return make_error(path_ + " is a QMP monitor but not rrvm's (version " +
                      excerpt(version->dump()) + ")");
  }
  return ok_status();
}

Status QmpClient::send_line(const std::string& text) {
  std::string line = text + "\n";
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::send(fd_.get(), line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("send");
    }
    done += static_cast<size_t>(n);
  }
  return ok_status();
}

Result<Json> QmpClient::read_message() {
  const auto deadline = Clock::now() + timeout_;
  while (pending_.empty()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return make_error("no answer within " + seconds(timeout_));
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) return errno_error("poll");
    if (r <= 0) continue;
    char chunk[4096];
    ssize_t n = ::read(fd_.get(), chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("read");
    }
    if (n == 0) return make_error("the connection was closed");
    std::vector<monitor::JsonSplitter::Item> items;
    splitter_.feed(std::string_view(chunk, static_cast<size_t>(n)), items);
    for (auto& item : items) pending_.push_back(std::move(item));
  }
  monitor::JsonSplitter::Item item = std::move(pending_.front());
  pending_.pop_front();
  if (!item.error.empty()) return make_error("a message was refused: " + item.error);
  Json message = Json::parse(item.text, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    return make_error("received something that is not JSON: " + excerpt(item.text));
  }
  return message;
}

Result<Json> QmpClient::execute(const std::string& command, const Json& arguments) {
  Json request = {{"execute", command}};
  if (!arguments.empty()) request["arguments"] = arguments;
  const std::string what = "QMP '" + command + "' on " + path_;
  if (Status sent = send_line(request.dump()); !sent.ok()) return sent.error().context(what);
  for (;;) {
    auto read = read_message();
    if (!read.ok()) return read.error().context(what);
    const Json& reply = *read;
    if (!reply.is_object() || reply.contains("event")) continue;
    if (auto ret = reply.find("return"); ret != reply.end()) return *ret;
    if (auto err = reply.find("error"); err != reply.end() && err->is_object()) {
      auto desc = err->find("desc");
      return make_error(desc != err->end() && desc->is_string() ? desc->get<std::string>()
                                                                : err->dump());
    }
    return make_error(what + ": unexpected reply " + excerpt(reply.dump()));
  }
}

}  // namespace rrvm::cli
