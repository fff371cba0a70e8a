#include "vmm/monitor/qmp_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "vmm/base/unix_socket.h"

namespace rrvm::monitor {
namespace {

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
  RRVM_ASSIGN_OR_RETURN(QmpClient client, open(path, timeout));
  RRVM_TRY(client.negotiate());
  return client;
}

Status QmpClient::negotiate() {
  auto reply = execute("qmp_capabilities");
  if (!reply.ok()) return reply.error();
  return ok_status();
}

Result<QmpClient> QmpClient::open(const std::string& path, std::chrono::milliseconds timeout) {
  auto address = unix_socket_address(path);
  if (!address.ok()) return address.error().context("QMP socket");
  const sockaddr_un addr = address.value();
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return errno_error("socket(AF_UNIX)");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    // ECONNREFUSED covers both a socket file nobody listens on and a path that is no socket.
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
      return make_error(path + " is not a unix socket (expected a QMP monitor's socket)");
    }
    if (err == ECONNREFUSED) {
      return errno_error("connecting to the QMP socket " + path + " (nobody listens on it)", err);
    }
    return errno_error("connecting to the QMP socket " + path, err);
  }
  QmpClient client(path, std::move(fd), timeout);
  RRVM_TRY(client.read_greeting());
  return client;
}

Status QmpClient::read_greeting() {
  auto greeting = read_message(timeout_);
  if (!greeting.ok()) {
    return greeting.error().context(path_ + " is not a QMP monitor (no QMP greeting)");
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

Result<Json> QmpClient::read_message(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (pending_.empty()) {
    // Rounded up: a timeout is reported only once the deadline has passed.
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return make_error("nothing received within " + seconds(timeout));
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
    if (n == 0) return make_error("the server closed the connection");
    std::vector<JsonSplitter::Item> items;
    splitter_.feed(std::string_view(chunk, static_cast<size_t>(n)), items);
    for (auto& item : items) pending_.push_back(std::move(item));
  }
  JsonSplitter::Item item = std::move(pending_.front());
  pending_.pop_front();
  if (!item.error.empty()) return make_error("a message was refused: " + item.error);
  Json message = Json::parse(item.text, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    return make_error("received something that is not JSON: " + excerpt(item.text));
  }
  return message;
}

void QmpClient::queue_event(Json event) {
  if (events_.size() == MAX_QUEUED_EVENTS) events_.pop_front();
  events_.push_back(std::move(event));
}

Result<Json> QmpClient::read_reply(const std::string& what) {
  for (;;) {
    auto read = read_message(timeout_);
    if (!read.ok()) return read.error().context(what);
    Json& message = *read;
    if (message.is_object() && message.contains("event")) {
      queue_event(std::move(message));
      continue;
    }
    if (message.is_object() && (message.contains("return") || message.contains("error"))) {
      return std::move(message);
    }
    return make_error(what + ": unexpected reply " + excerpt(message.dump()));
  }
}

Result<Json> QmpClient::send_raw(const std::string& text) {
  const std::string what = "QMP input on " + path_;
  if (Status sent = send_line(text); !sent.ok()) return sent.error().context(what);
  return read_reply(what);
}

Result<Json> QmpClient::request(const std::string& command, const Json& arguments) {
  Json message = {{"execute", command}};
  if (!arguments.empty()) message["arguments"] = arguments;
  const std::string what = "QMP '" + command + "' on " + path_;
  if (Status sent = send_line(message.dump()); !sent.ok()) return sent.error().context(what);
  return read_reply(what);
}

Result<Json> QmpClient::execute(const std::string& command, const Json& arguments) {
  RRVM_ASSIGN_OR_RETURN(Json reply, request(command, arguments));
  if (auto ret = reply.find("return"); ret != reply.end()) return *ret;
  const Json& err = reply["error"];
  auto desc = err.is_object() ? err.find("desc") : err.end();
  if (err.is_object() && desc != err.end() && desc->is_string()) {
    return make_error(desc->get<std::string>());
  }
  return make_error("QMP '" + command + "' on " + path_ + ": error reply " + excerpt(err.dump()));
}

Result<Json> QmpClient::wait_event(const std::string& name, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  size_t checked = 0;  // events_ before this index do not match
  for (;;) {
    for (; checked < events_.size(); ++checked) {
      auto event = events_[checked].find("event");
      if (event != events_[checked].end() && *event == name) {
        Json found = std::move(events_[checked]);
        events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(checked));
        return found;
      }
    }
    const std::string what = "waiting for QMP event " + name + " on " + path_;
    // Rounded up, so that a read that times out ends at or after the deadline.
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return make_error(what + ": not received within " + seconds(timeout));
    auto read = read_message(left);
    if (!read.ok() && Clock::now() >= deadline) {
      return make_error(what + ": not received within " + seconds(timeout));
    }
    if (!read.ok()) return read.error().context(what);
    // A reply read here answers no request (every request waits for its own): drop it.
    if (!read->is_object() || !read->contains("event")) continue;
    if (events_.size() == MAX_QUEUED_EVENTS && checked > 0) --checked;  // the oldest goes
    queue_event(std::move(*read));
  }
}

}  // namespace rrvm::monitor
