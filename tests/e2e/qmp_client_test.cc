// monitor::QmpClient against scripted servers: framing (split and merged messages, CRLF), replies
// and error replies, events queued while waiting and their bound, and every way a peer can fail
// (no socket, not a socket, not QMP, silence, hang-up), each named in the error. No KVM needed.
#include "vmm/monitor/qmp_client.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <thread>

#include "tests/e2e/fake_qmp_server.h"
#include "tests/e2e/rrvm_process.h"

namespace rrvm::monitor {
namespace {

using namespace std::chrono_literals;
using e2e::TempDir;
using FakeServer = e2e::FakeQmpServer;
using Peer = e2e::FakeQmpPeer;
constexpr const char* GREETING = e2e::RRVM_QMP_GREETING;

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(E2eQmpClient, RepliesEventsAndFraming) {
  TempDir dir;
  std::string path = dir.file("qmp.sock");
  FakeServer server(path, [](Peer& peer) {
    // The greeting in two pieces, cut inside a string.
    std::string greeting = GREETING;
    peer.send(greeting.substr(0, 30));
    std::this_thread::sleep_for(20ms);
    peer.send(greeting.substr(30));
    EXPECT_TRUE(contains(peer.read_line(), "qmp_capabilities"));
    peer.send("{\"return\": {}}\r\n");
    // An event and the reply in one write, LF only.
    EXPECT_EQ(peer.read_line(), R"({"execute":"query-status"})");
    peer.send("{\"event\": \"STOP\", \"timestamp\": {}}\n{\"return\": {\"status\": \"paused\"}}\n");
    EXPECT_EQ(peer.read_line(), R"({"execute":"migrate","arguments":{"uri":"file:/x"}})");
    peer.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"no space\"}}\r\n");
    EXPECT_EQ(peer.read_line(), R"({"execute":"stop"})");
    peer.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"already\"}}\r\n");
    EXPECT_EQ(peer.read_line(), "not json");
    peer.send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error\"}}\r\n");
    peer.send("{\"event\": \"RESUME\"}\r\n");
    peer.read_line();  // until the client hangs up
  });
  auto qmp = QmpClient::connect(path, 5s);
  ASSERT_TRUE(qmp.ok()) << qmp.error().describe();
  EXPECT_EQ(qmp->package(), "rrvm 0.1.0");

  auto status = qmp->execute("query-status");
  ASSERT_TRUE(status.ok()) << status.error().describe();
  EXPECT_EQ((*status)["status"], "paused");

  auto failed = qmp->execute("migrate", {{"uri", "file:/x"}});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "no space");
  auto reply = qmp->request("stop");
  ASSERT_TRUE(reply.ok()) << reply.error().describe();
  EXPECT_EQ((*reply)["error"]["desc"], "already");
  auto raw = qmp->send_raw("not json");
  ASSERT_TRUE(raw.ok()) << raw.error().describe();
  EXPECT_TRUE(raw->contains("error"));

  // STOP came before a reply and was kept; RESUME is read while waiting.
  auto stop = qmp->wait_event("STOP", 1s);
  ASSERT_TRUE(stop.ok()) << stop.error().describe();
  EXPECT_EQ((*stop)["event"], "STOP");
  auto resume = qmp->wait_event("RESUME", 5s);
  ASSERT_TRUE(resume.ok()) << resume.error().describe();
  auto again = qmp->wait_event("STOP", 100ms);
  ASSERT_FALSE(again.ok()) << "an event is handed out once";
  EXPECT_TRUE(contains(again.error().describe(),
                       "waiting for QMP event STOP on " + path + ": not received within 0.1 s"))
      << again.error().describe();
}

// A client that never asks for events keeps only the newest MAX_QUEUED_EVENTS.
TEST(E2eQmpClient, QueuedEventsAreBounded) {
  TempDir dir;
  std::string path = dir.file("qmp.sock");
  const size_t total = QmpClient::MAX_QUEUED_EVENTS + 10;
  FakeServer server(path, [&](Peer& peer) {
    peer.handshake();
    peer.read_line();
    std::string events;
    for (size_t i = 0; i < total; ++i) events += "{\"event\": \"E" + std::to_string(i) + "\"}\r\n";
    peer.send(events + "{\"return\": {}}\r\n");
    peer.read_line();
  });
  auto qmp = QmpClient::connect(path, 5s);
  ASSERT_TRUE(qmp.ok()) << qmp.error().describe();
  ASSERT_TRUE(qmp->execute("query-status").ok());
  EXPECT_FALSE(qmp->wait_event("E9", 50ms).ok()) << "the oldest events were dropped";
  EXPECT_TRUE(qmp->wait_event("E10", 50ms).ok());
  EXPECT_TRUE(qmp->wait_event("E" + std::to_string(total - 1), 50ms).ok());
}

TEST(E2eQmpClient, PeersThatAreNotQmpAreNamed) {
  TempDir dir;
  std::string missing = dir.file("missing.sock");
  auto r = QmpClient::connect(missing, 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().err, ENOENT);
  EXPECT_TRUE(contains(r.error().describe(), "QMP socket " + missing)) << r.error().describe();

  std::string plain = dir.file("plain");
  std::ofstream(plain) << "a file\n";
  r = QmpClient::connect(plain, 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().describe(), plain + " is not a unix socket"))
      << r.error().describe();

  std::string ssh = dir.file("ssh.sock");
  {
    FakeServer server(ssh, [](Peer& peer) {
      peer.send("SSH-2.0-OpenSSH_9.2\r\n");
      peer.read_line();
    });
    r = QmpClient::connect(ssh, 5s);
  }
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().describe(), ssh + " is not a QMP monitor (no QMP greeting)"))
      << r.error().describe();
  EXPECT_TRUE(contains(r.error().describe(), "SSH-2.0")) << r.error().describe();

  std::string other = dir.file("other.sock");
  {
    FakeServer server(other, [](Peer& peer) {
      peer.send("{\"hello\": \"world\"}\n");
      peer.read_line();
    });
    r = QmpClient::connect(other, 5s);
  }
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.error().describe(), other + " is not a QMP monitor: its first message is"))
      << r.error().describe();
}

TEST(E2eQmpClient, SilenceAndHangUpNameTheCommand) {
  TempDir dir;
  std::string path = dir.file("qmp.sock");
  FakeServer server(path, [](Peer& peer) {
    peer.handshake();
    peer.read_line();  // query-status: no answer
    peer.read_line();  // query-migrate: hang up
  });
  auto qmp = QmpClient::connect(path, 200ms);
  ASSERT_TRUE(qmp.ok()) << qmp.error().describe();
  auto silent = qmp->execute("query-status");
  ASSERT_FALSE(silent.ok());
  EXPECT_TRUE(contains(silent.error().describe(),
                       "QMP 'query-status' on " + path + ": nothing received within 0.2 s"))
      << silent.error().describe();
  auto gone = qmp->execute("query-migrate");
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(contains(gone.error().describe(),
                       "QMP 'query-migrate' on " + path + ": the server closed the connection"))
      << gone.error().describe();
}

}  // namespace
}  // namespace rrvm::monitor
