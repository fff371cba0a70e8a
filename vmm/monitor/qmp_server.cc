#include "vmm/monitor/qmp_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "trace/recorder.h"
#include "vmm/base/log.h"
#include "vmm/base/unix_socket.h"

namespace rrvm::monitor {

struct QmpServer::Client {
  Client(Fd f, const CommandTable& table, Dispatcher dispatch)
      : fd(std::move(f)), session(table, std::move(dispatch)) {}
  Fd fd;
  JsonSplitter splitter;
  QmpSession session;
  std::string out;          // guarded by QmpServer::mu_
  bool negotiated = false;  // guarded by QmpServer::mu_: events go only to negotiated clients
};

namespace {

// An existing path is only ever replaced when it is a socket nobody listens on (left behind by a
// process that died); anything else is refused.
Status clear_stale_socket(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return ok_status();
    return errno_error("QMP socket: stat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return make_error("QMP socket: refusing to replace " + path +
                      ": it exists and is not a socket");
  }
  Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return errno_error("QMP socket: socket");
  if (connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    return make_error("QMP socket: " + path + " is in use by another process");
  }
  if (unlink(path.c_str()) != 0) return errno_error("QMP socket: unlink stale " + path);
  return ok_status();
}

Result<Fd> listen_on(const std::string& path) {
  auto address = unix_socket_address(path);
  if (!address.ok()) return address.error().context("QMP socket");
  const sockaddr_un addr = address.value();
  RRVM_TRY(clear_stale_socket(path, addr));
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return errno_error("QMP socket: socket");
  if (bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return errno_error("QMP socket: bind " + path);
  }
  // chmod before listen(): until listen() nobody can connect, so there is no window in which the
  // socket is reachable with the umask's permissions.
  if (chmod(path.c_str(), 0600) != 0) {
    int e = errno;
    unlink(path.c_str());
    return errno_error("QMP socket: chmod 0600 " + path, e);
  }
  if (listen(fd.get(), 8) != 0) {
    int e = errno;
    unlink(path.c_str());
    return errno_error("QMP socket: listen " + path, e);
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<QmpServer>> QmpServer::start(QmpServerOptions options,
                                                    const CommandTable& table,
                                                    Dispatcher dispatch) {
  RRVM_ASSIGN_OR_RETURN(Fd listen_fd, listen_on(options.path));
  Fd wake_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd.valid()) return errno_error("QMP server: eventfd");
  std::unique_ptr<QmpServer> server(new QmpServer(std::move(options), table, std::move(dispatch),
                                                  std::move(listen_fd), std::move(wake_fd)));
  struct stat st {};
  if (stat(server->options_.path.c_str(), &st) == 0) {
    server->socket_dev_ = st.st_dev;
    server->socket_ino_ = st.st_ino;
  }
  server->thread_ = std::thread([s = server.get()] { s->thread_main(); });
  spdlog::info("QMP: listening on {}", server->options_.path);
  return server;
}

QmpServer::QmpServer(QmpServerOptions options, const CommandTable& table, Dispatcher dispatch,
                     Fd listen, Fd wake)
    : options_(std::move(options)),
      table_(table),
      dispatch_(std::move(dispatch)),
      listen_(std::move(listen)),
      wake_(std::move(wake)) {}

QmpServer::~QmpServer() { close(); }

size_t QmpServer::client_count() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

void QmpServer::wake() {
  uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the thread will wake anyway.
  [[maybe_unused]] ssize_t n = write(wake_.get(), &one, sizeof one);
}

void QmpServer::queue_locked(Client& c, const Json& message) {
  c.out += message.dump();
  c.out += "\r\n";  // QEMU ends every message with CRLF
}

void QmpServer::emit_event(std::string_view name, const Json& data) {
  Json ev = make_event(name, data);
  std::string text = ev.dump();
  trace::emit(trace::MonitorReply{text});
  {
    std::lock_guard lock(mu_);
    for (auto& c : clients_) {
      if (c->negotiated) queue_locked(*c, ev);
    }
  }
  wake();
}

void QmpServer::close() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  wake();
  thread_.join();
  // Remove the socket file only if it is still ours (not replaced by someone else meanwhile).
  struct stat st {};
  if (stat(options_.path.c_str(), &st) == 0 && st.st_dev == socket_dev_ &&
      st.st_ino == socket_ino_) {
    unlink(options_.path.c_str());
  }
}

void QmpServer::accept_client() {
  Fd fd(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd.valid()) {
    if (errno != EAGAIN && errno != EINTR) spdlog::warn("QMP: accept: {}", std::strerror(errno));
    return;
  }
  std::lock_guard lock(mu_);
  if (clients_.size() >= options_.max_clients) {
    spdlog::warn("QMP: refusing a client: {} clients connected already", clients_.size());
    return;
  }
  auto c = std::make_unique<Client>(std::move(fd), table_, dispatch_);
  queue_locked(*c, make_greeting(options_.version));
  clients_.push_back(std::move(c));
}

bool QmpServer::read_client(Client& c) {
  char buf[4096];
  ssize_t n = read(c.fd.get(), buf, sizeof buf);
  if (n == 0) return false;
  if (n < 0) return errno == EAGAIN || errno == EINTR;
  std::vector<JsonSplitter::Item> items;
  c.splitter.feed(std::string_view(buf, static_cast<size_t>(n)), items);
  for (const auto& item : items) {
    // No lock while the command runs: it may emit events, which take mu_. The reply is queued
    // from the thread that ran the command, before the main loop moves on (see QmpSession).
    c.session.handle(item, [&](const Json& reply) {
      std::lock_guard lock(mu_);
      queue_locked(c, reply);
    });
    std::lock_guard lock(mu_);
    c.negotiated = c.session.negotiated();
  }
  return true;
}

bool QmpServer::flush_client(Client& c) {
  std::lock_guard lock(mu_);
  while (!c.out.empty()) {
    ssize_t n = send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return false;
    }
    c.out.erase(0, static_cast<size_t>(n));
  }
  if (c.out.size() > options_.max_output_bytes) {
    spdlog::warn("QMP: dropping a client that does not read its output ({} bytes queued)",
                 c.out.size());
    return false;
  }
  return true;
}

void QmpServer::thread_main() {
  trace::set_thread_name("qmp");
  std::vector<pollfd> fds;
  std::vector<Client*> polled;
  while (!stopping_) {
    fds.clear();
    polled.clear();
    fds.push_back({wake_.get(), POLLIN, 0});
    fds.push_back({listen_.get(), POLLIN, 0});
    {
      std::lock_guard lock(mu_);
      for (auto& c : clients_) {
        fds.push_back(
            {c->fd.get(), static_cast<short>(POLLIN | (c->out.empty() ? 0 : POLLOUT)), 0});
        polled.push_back(c.get());
      }
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("QMP: poll: {}", std::strerror(errno));
      break;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      [[maybe_unused]] ssize_t n = read(wake_.get(), &count, sizeof count);
    }
    if (fds[1].revents & POLLIN) accept_client();
    for (size_t i = 0; i < polled.size(); ++i) {
      Client* c = polled[i];
      short rev = fds[i + 2].revents;
      bool keep = true;
      if (rev & (POLLIN | POLLHUP | POLLERR)) keep = read_client(*c);
      if (keep) {
        keep = flush_client(*c);
      } else {
        // A client that half-closed after its last command (socat at end of input) still gets the
        // replies to what it sent.
        flush_client(*c);
      }
      if (!keep) {
        std::lock_guard lock(mu_);
        clients_.remove_if([c](const auto& p) { return p.get() == c; });
      }
    }
  }
  // Best effort: deliver what is queued (the SHUTDOWN event, the reply to `quit`).
  std::lock_guard lock(mu_);
  for (auto& c : clients_) {
    while (!c->out.empty()) {
      ssize_t n = send(c->fd.get(), c->out.data(), c->out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n <= 0) break;
      c->out.erase(0, static_cast<size_t>(n));
    }
  }
  clients_.clear();
}

}  // namespace rrvm::monitor
