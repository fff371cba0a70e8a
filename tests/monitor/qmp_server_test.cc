#include "vmm/monitor/qmp_server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "tests/core/test_vm.h"
#include "tests/core/trace_capture.h"
#include "vmm/monitor/vm_commands.h"

namespace rrvm::monitor {
namespace {

using core::RunState;
using core::testing::TestVm;

// A minimal QMP client: one JSON message per CRLF-terminated line.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { close(fd_); }
  bool connected() const { return connected_; }

  void send(const std::string& text) {
    ASSERT_EQ(::send(fd_, text.data(), text.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(text.size()));
  }
  // The next message, or null after 5 s.
  Json read() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      auto pos = buf_.find("\r\n");
      if (pos != std::string::npos) {
        std::string line = buf_.substr(0, pos);
        buf_.erase(0, pos + 2);
        return Json::parse(line);
      }
      pollfd p{fd_, POLLIN, 0};
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (left <= 0 || poll(&p, 1, left) <= 0) return Json();
      char tmp[4096];
      ssize_t n = ::read(fd_, tmp, sizeof tmp);
      if (n <= 0) return Json();
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  // Sends a command and returns its reply; events that arrive first are kept in `events`.
  Json command(const std::string& text) {
    send(text + "\n");
    for (;;) {
      Json m = read();
      if (m.is_null() || !m.contains("event")) return m;
      events.push_back(m);
    }
  }
  Json negotiate() { return command(R"({"execute":"qmp_capabilities"})"); }

  std::vector<Json> events;

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

class QmpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rrvm-qmp-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/qmp.sock";
    ASSERT_TRUE(register_vm_commands(table_, vm_.control).ok());
    vm_.boot();
    auto server = QmpServer::start({.path = path_, .version = {0, 1, 0, "rrvm test"}}, table_,
                                   main_loop_dispatcher(vm_.loop));
    ASSERT_TRUE(server.ok()) << server.error().describe();
    server_ = std::move(server).value();
    vm_.on_event = [this](std::string_view name, std::optional<core::ShutdownCause> cause) {
      emit_vm_event(*server_, name, cause);
    };
    vm_.start_loop();
  }
  void TearDown() override {
    if (!vm_.loop.finished()) vm_.stop_loop();
    if (server_) server_->close();
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  Json status(Client& c) { return c.command(R"({"execute":"query-status"})").at("return"); }

  core::testing::TraceCapture capture_;  // installed before any thread starts
  std::string dir_, path_;
  TestVm vm_;
  CommandTable table_;
  std::unique_ptr<QmpServer> server_;
};

TEST_F(QmpServerTest, GreetingNegotiationAndQueryStatus) {
  Client c(path_);
  ASSERT_TRUE(c.connected());
  Json greeting = c.read();
  ASSERT_TRUE(greeting.contains("QMP")) << greeting.dump();
  EXPECT_EQ(greeting["QMP"]["version"]["package"], "rrvm test");
  Json early = c.command(R"({"execute":"query-status"})");
  EXPECT_EQ(early["error"]["class"], "CommandNotFound");
  EXPECT_TRUE(c.negotiate().contains("return"));
  EXPECT_EQ(status(c), Json::parse(R"({"status":"prelaunch","singlestep":false,"running":false})"));
}

TEST_F(QmpServerTest, ContAndStopSendTheirEventBeforeTheReply) {
  Client c(path_);
  c.read();
  c.negotiate();
  Json r = c.command(R"({"execute":"cont","id":1})");
  EXPECT_EQ(r, Json::parse(R"({"return":{},"id":1})"));
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0]["event"], "RESUME");
  EXPECT_TRUE(c.events[0]["timestamp"]["seconds"].is_number_integer());
  EXPECT_EQ(status(c)["status"], "running");
  EXPECT_TRUE(vm_.fake(0).wait_runs(1));
  c.events.clear();
  EXPECT_TRUE(c.command(R"({"execute":"stop"})").contains("return"));
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0]["event"], "STOP");
  EXPECT_EQ(status(c), Json::parse(R"({"status":"paused","singlestep":false,"running":false})"));
  EXPECT_TRUE(vm_.vcpus.all_stopped());
}

TEST_F(QmpServerTest, EveryNegotiatedClientGetsEvents) {
  Client a(path_), b(path_), quiet(path_);
  a.read();
  b.read();
  quiet.read();
  a.negotiate();
  b.negotiate();
  a.command(R"({"execute":"cont"})");
  Json ev = b.read();
  EXPECT_EQ(ev["event"], "RESUME");
  // `quiet` never negotiated: its next message is the reply to its own command, no event.
  Json r = quiet.command(R"({"execute":"qmp_capabilities"})");
  EXPECT_TRUE(r.contains("return"));
  EXPECT_TRUE(quiet.events.empty());
  EXPECT_EQ(server_->client_count(), 3u);
}

TEST_F(QmpServerTest, BadLinesAndUnknownCommandsLeaveTheVmUnharmed) {
  Client c(path_);
  c.read();
  c.negotiate();
  c.command(R"({"execute":"cont"})");
  ASSERT_TRUE(vm_.fake(1).wait_runs(1));
  Json r = c.command("this is not json");
  EXPECT_EQ(r["error"]["class"], "GenericError");
  EXPECT_EQ(r["error"]["desc"].get<std::string>().rfind("JSON parse error", 0), 0u);
  r = c.command(R"({"execute": stop})");
  EXPECT_EQ(r["error"]["class"], "GenericError");
  r = c.command(R"({"execute":"migrate-to-mars"})");
  EXPECT_EQ(r["error"]["class"], "CommandNotFound");
  r = c.command(R"({"execute":"stop","arguments":{"now":true}})");
  EXPECT_EQ(r["error"]["desc"], "Parameter 'now' is unexpected");
  EXPECT_EQ(status(c)["status"], "running");
  size_t runs = vm_.fake(0).runs();
  vm_.vcpus.thread(0).run_on_cpu("probe", [] {});
  EXPECT_TRUE(vm_.fake(0).wait_runs(runs + 1));  // still running the guest
}

TEST_F(QmpServerTest, ContOnAStoppedForGoodVmIsRefused) {
  Client c(path_);
  c.read();
  c.negotiate();
  c.command(R"({"execute":"cont"})");
  vm_.requests.request_vmstop(RunState::InternalError, "test");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (vm_.run_state.get() != RunState::InternalError &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  Json r = c.command(R"({"execute":"cont"})");
  EXPECT_EQ(r["error"]["desc"], "Resetting the Virtual Machine is required");
  EXPECT_TRUE(c.command(R"({"execute":"system_reset"})").contains("return"));
  Json reset = c.read();
  EXPECT_EQ(reset["event"], "RESET");
  EXPECT_EQ(reset["data"], Json::parse(R"({"guest":false,"reason":"host-qmp-system-reset"})"));
  EXPECT_EQ(status(c)["status"], "prelaunch");
  EXPECT_TRUE(c.command(R"({"execute":"cont"})").contains("return"));
}

TEST_F(QmpServerTest, TraceMarkAndQueryCommands) {
  Client c(path_);
  c.read();
  c.negotiate();
  EXPECT_TRUE(c.command(R"({"execute":"trace-mark","arguments":{"text":"before stop"}})")
                  .contains("return"));
  EXPECT_EQ(c.command(R"({"execute":"trace-mark"})")["error"]["desc"],
            "Parameter 'text' is missing");
  Json cmds = c.command(R"({"execute":"query-commands"})")["return"];
  std::vector<std::string> names;
  for (const auto& e : cmds) names.push_back(e["name"]);
  for (const char* want :
       {"qmp_capabilities", "query-status", "stop", "cont", "system_reset", "quit", "trace-mark"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

TEST_F(QmpServerTest, QuitEndsTheMainLoopAfterReplying) {
  Client c(path_);
  c.read();
  c.negotiate();
  c.command(R"({"execute":"cont"})");
  EXPECT_TRUE(c.command(R"({"execute":"quit"})").contains("return"));
  Json ev = c.read();
  EXPECT_EQ(ev["event"], "SHUTDOWN");
  EXPECT_EQ(ev["data"], Json::parse(R"({"guest":false,"reason":"host-qmp-quit"})"));
  EXPECT_EQ(vm_.stop_loop(), 0);
  ASSERT_TRUE(vm_.control.vm_shutdown().ok());
  EXPECT_EQ(vm_.run_state.get(), RunState::Shutdown);
  // After the loop ended, VM commands are refused instead of hanging.
  Json r = c.command(R"({"execute":"stop"})");
  EXPECT_EQ(r["error"]["desc"], "rrvm is shutting down, command not run");
}

TEST_F(QmpServerTest, CommandsRepliesAndEventsAreTracedWithTheirSpans) {
  using core::testing::backtrace_has;
  using core::testing::find_event;
  using core::testing::is;
  using trace::EventType;
  Client c(path_);
  c.read();
  c.negotiate();
  c.command(R"({"execute":"cont"})");
  c.command(R"({"execute":"stop","id":"s1"})");
  EXPECT_TRUE(c.command("{oops}").contains("error"));
  EXPECT_TRUE(c.command("}").contains("error"));
  EXPECT_EQ(vm_.stop_loop(), 0);
  server_->close();
  auto ev = capture_.finish();
  std::string all;
  for (const auto& e : ev) all += e.str() + "\n";
  SCOPED_TRACE(all);

  long cmd = find_event(ev, 0, is(EventType::MonitorCommand, R"("stop")"));
  ASSERT_GE(cmd, 0);
  EXPECT_EQ(ev[cmd].thread, "qmp");
  EXPECT_TRUE(backtrace_has(ev[cmd], {"qmp:stop"}));
  // The command runs on the main loop thread, under the monitor thread's span.
  long change = find_event(ev, cmd, is(EventType::RunStateChange, "running -> paused"));
  ASSERT_GE(change, 0);
  EXPECT_EQ(ev[change].thread, "main");
  EXPECT_TRUE(backtrace_has(ev[change], {"do_vm_stop", "vm_stop", "qmp_dispatch", "qmp:stop"}));
  long stop_event = find_event(ev, change, is(EventType::MonitorReply, R"("event":"STOP")"));
  long reply = find_event(ev, change, is(EventType::MonitorReply, R"({"return":{},"id":"s1"})"));
  ASSERT_GE(stop_event, 0);
  ASSERT_GE(reply, 0);
  EXPECT_LT(stop_event, reply);
  EXPECT_TRUE(backtrace_has(ev[reply], {"qmp_dispatch", "qmp:stop"}));
  // Broken input is recorded with its error reply.
  long bad = find_event(ev, reply, is(EventType::MonitorCommand, "{oops"));
  ASSERT_GE(bad, 0);
  EXPECT_TRUE(backtrace_has(ev[bad], {"qmp:invalid"}));
  EXPECT_GE(find_event(ev, bad, is(EventType::MonitorReply, "JSON parse error")), 0);
}

TEST_F(QmpServerTest, SocketIsPrivateAndNeverClobbersOtherFiles) {
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A second server on the same live socket is refused.
  CommandTable other;
  auto busy = QmpServer::start({.path = path_}, other, main_loop_dispatcher(vm_.loop));
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.error().describe().find("in use"), std::string::npos);

  // A regular file is never replaced.
  std::string file = dir_ + "/important.txt";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("keep me", f);
  std::fclose(f);
  auto refused = QmpServer::start({.path = file}, other, main_loop_dispatcher(vm_.loop));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().describe().find("not a socket"), std::string::npos);
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));

  // A stale socket (its server gone) is replaced; close() removes the file.
  server_->close();
  int stale = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
  ASSERT_EQ(bind(stale, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  close(stale);  // the file stays, nobody listens
  auto fresh = QmpServer::start({.path = path_}, other, main_loop_dispatcher(vm_.loop));
  ASSERT_TRUE(fresh.ok()) << fresh.error().describe();
  fresh.value()->close();
  EXPECT_NE(stat(path_.c_str(), &st), 0);
}

TEST_F(QmpServerTest, StockClientSocat) {
  if (std::system("command -v socat >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "socat is not installed";
  std::string cmd =
      "printf '%s\\n' '{\"execute\":\"qmp_capabilities\"}' '{\"execute\":\"cont\"}' "
      "'{\"execute\":\"query-status\"}' | socat -t 5 - UNIX-CONNECT:" +
      path_;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0);
  EXPECT_NE(out.find("\"QMP\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"event\":\"RESUME\""), std::string::npos) << out;
  EXPECT_NE(out.find(R"({"return":{"status":"running","singlestep":false,"running":true}})"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace rrvm::monitor
