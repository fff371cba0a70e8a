// The QMP server: QEMU's monitor protocol on a unix socket, for several clients at once.
//
// One server thread accepts clients, reads their input, runs each command through its
// QmpSession (which hands VM commands to the main loop through the Dispatcher) and writes replies
// and events. Events can be emitted from any thread: they are queued to every negotiated client
// and written by the server thread, so an event emitted while a command runs (STOP during `stop`)
// reaches the client before that command's reply, as with QEMU.
//
// The socket is created with mode 0600 (bound, chmod-ed, then listened on, so no client can connect
// in between). An existing socket file with nobody listening is replaced; any other existing path
// is refused, never clobbered.
//
// Shutdown order: close() joins the server thread, which may be waiting for the main loop to run
// a command. Call it after the main loop has finished (its pending calls are then refused), or
// from a thread other than the main loop's while the loop still runs.
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"
#include "vmm/monitor/qmp_session.h"

namespace rrvm::monitor {

struct QmpServerOptions {
  std::string path;
  QmpVersion version;
  size_t max_clients = 16;
  size_t max_output_bytes = 4 << 20;  // a client that stops reading is dropped beyond this
};

class QmpServer {
 public:
  static Result<std::unique_ptr<QmpServer>> start(QmpServerOptions options,
                                                  const CommandTable& table, Dispatcher dispatch);
  ~QmpServer();
  QmpServer(const QmpServer&) = delete;
  QmpServer& operator=(const QmpServer&) = delete;

  // Sends {"timestamp", "event", "data"} to every negotiated client (any thread). The event is
  // recorded in the trace as a MonitorReply, once, whether or not a client is connected.
  void emit_event(std::string_view name, const Json& data = Json());
  // Stops the server thread, disconnects clients and removes the socket file. Idempotent.
  void close();

  const std::string& path() const { return options_.path; }
  size_t client_count() const;

 private:
  struct Client;
  QmpServer(QmpServerOptions options, const CommandTable& table, Dispatcher dispatch, Fd listen,
            Fd wake);
  void thread_main();
  void accept_client();
  bool read_client(Client& c);   // false: drop the client
  bool flush_client(Client& c);  // false: drop the client
  void queue_locked(Client& c, const Json& message);
  void wake();

  QmpServerOptions options_;
  const CommandTable& table_;
  Dispatcher dispatch_;
  Fd listen_;
  Fd wake_;  // eventfd: events queued, or close() requested
  dev_t socket_dev_ = 0;
  ino_t socket_ino_ = 0;

  mutable std::mutex mu_;  // clients_ list membership, every Client::out and Client::negotiated
  std::list<std::unique_ptr<Client>> clients_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace rrvm::monitor
