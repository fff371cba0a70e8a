// Channels: atomic file snapshots, unix and tcp transport, named errors when the peer goes away,
// and cancellation of blocked operations.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "tests/migration/migration_test_util.h"
#include "vmm/migration/channel.h"

namespace rrvm::migration {
namespace {

using test::TempDir;

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 31 + (i >> 12));
  return v;
}

TEST(FileChannel, AppearsUnderItsNameOnlyWhenCommitted) {
  TempDir dir;
  auto ch = open_outgoing_channel("file:" + dir.file("vm.snap"));
  ASSERT_TRUE(ch.ok()) << ch.error().describe();
  std::vector<uint8_t> data = pattern(3 << 20);
  ASSERT_TRUE((*ch)->write_all(data).ok());
  // Data synced early (while the VM runs) is still only under the temporary name.
  ASSERT_TRUE((*ch)->sync_data().ok());
  std::vector<std::string> during = dir.entries();
  ASSERT_EQ(during.size(), 1u);
  EXPECT_NE(during[0], "vm.snap");
  EXPECT_EQ(during[0][0], '.');
  ASSERT_TRUE((*ch)->commit().ok());
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"vm.snap"});
  EXPECT_EQ(test::read_bytes(dir.file("vm.snap")), data);
  ch->reset();
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"vm.snap"});
}

TEST(FileChannel, UncommittedLeavesNothingAndKeepsAnOldSnapshot) {
  TempDir dir;
  test::write_bytes(dir.file("vm.snap"), {1, 2, 3});
  {
    auto ch = open_outgoing_channel("file:" + dir.file("vm.snap"));
    ASSERT_TRUE(ch.ok());
    ASSERT_TRUE((*ch)->write_all(pattern(1000)).ok());
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"vm.snap"});
  EXPECT_EQ(test::read_bytes(dir.file("vm.snap")), (std::vector<uint8_t>{1, 2, 3}));
}

TEST(FileChannel, CancelledChannelRefusesSyncAndCommit) {
  TempDir dir;
  auto ch = open_outgoing_channel("file:" + dir.file("vm.snap"));
  ASSERT_TRUE(ch.ok());
  ASSERT_TRUE((*ch)->write_all(pattern(1000)).ok());
  (*ch)->cancel();
  Status sync = (*ch)->sync_data();
  ASSERT_FALSE(sync.ok());
  EXPECT_NE(sync.error().message.find("sync: cancelled"), std::string::npos)
      << sync.error().message;
  EXPECT_FALSE((*ch)->commit().ok());
  ch->reset();
  EXPECT_TRUE(dir.entries().empty());
}

TEST(FileChannel, ErrorsNameThePath) {
  TempDir dir;
  auto d = open_outgoing_channel("file:" + dir.path().string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().message.find("is a directory"), std::string::npos);
  auto missing = open_outgoing_channel("file:" + dir.file("no/such/dir.snap"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().describe().find("No such file"), std::string::npos)
      << missing.error().describe();
  auto listener = listen_incoming_channel("file:" + dir.file("absent.snap"));
  ASSERT_TRUE(listener.ok());
  auto in = (*listener)->accept();
  ASSERT_FALSE(in.ok());
  EXPECT_NE(in.error().describe().find("absent.snap"), std::string::npos);
}

// Connects a source to a fresh listener on `uri` and returns both ends.
std::pair<std::unique_ptr<Channel>, std::unique_ptr<Channel>> connect_pair(const std::string& uri) {
  auto listener = listen_incoming_channel(uri);
  RRVM_CHECK_MSG(listener.ok(), listener.ok() ? "" : listener.error().describe());
  auto accepted = std::async(std::launch::async, [&] { return (*listener)->accept(); });
  auto out = open_outgoing_channel((*listener)->uri());
  RRVM_CHECK_MSG(out.ok(), out.ok() ? "" : out.error().describe());
  auto in = accepted.get();
  RRVM_CHECK(in.ok());
  return {std::move(out).value(), std::move(in).value()};
}

void round_trip(const std::string& uri) {
  auto [out, in] = connect_pair(uri);
  EXPECT_TRUE(out->live());
  std::vector<uint8_t> data = pattern(8 << 20);
  auto writer = std::async(std::launch::async, [&, &out = out] { return out->write_all(data); });
  std::vector<uint8_t> got(data.size());
  ASSERT_TRUE(in->read_exact(got).ok());
  ASSERT_TRUE(writer.get().ok());
  EXPECT_EQ(got, data);
  out.reset();
  uint8_t b = 0;
  auto n = in->read_some(std::span<uint8_t>(&b, 1));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);
  Status exact = in->read_exact(std::span<uint8_t>(&b, 1));
  ASSERT_FALSE(exact.ok());
  EXPECT_NE(exact.error().message.find("peer closed the connection"), std::string::npos)
      << exact.error().message;
}

TEST(SocketChannel, UnixRoundTrip) {
  TempDir dir;
  round_trip("unix:" + dir.file("m.sock"));
  EXPECT_TRUE(dir.entries().empty()) << "the socket file is removed once accepted";
}

TEST(SocketChannel, TcpLoopbackRoundTripOnAPickedPort) {
  auto listener = listen_incoming_channel("tcp:127.0.0.1:0");
  ASSERT_TRUE(listener.ok());
  EXPECT_NE((*listener)->uri(), "tcp:127.0.0.1:0");
  EXPECT_EQ((*listener)->uri().rfind("tcp:127.0.0.1:", 0), 0u);
  round_trip("tcp:127.0.0.1:0");
}

TEST(SocketChannel, WritingToAVanishedPeerNamesTheErrno) {
  TempDir dir;
  auto [out, in] = connect_pair("unix:" + dir.file("m.sock"));
  in.reset();
  std::vector<uint8_t> chunk = pattern(1 << 20);
  Status s;
  for (int i = 0; i < 64 && s.ok(); ++i) s = out->write_all(chunk);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.error().err == EPIPE || s.error().err == ECONNRESET) << s.error().describe();
  EXPECT_NE(s.error().describe().find("migration channel unix:"), std::string::npos)
      << s.error().describe();
}

TEST(SocketChannel, CancelWakesABlockedRead) {
  auto [out, in] = connect_pair("tcp:127.0.0.1:0");
  auto reader = std::async(std::launch::async, [&, &in = in] {
    uint8_t b[16];
    return in->read_exact(b);
  });
  EXPECT_EQ(reader.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  in->cancel();
  ASSERT_EQ(reader.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  Status s = reader.get();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("cancelled"), std::string::npos) << s.error().message;
}

TEST(SocketChannel, CancelWakesABlockedAccept) {
  TempDir dir;
  auto listener = listen_incoming_channel("unix:" + dir.file("m.sock"));
  ASSERT_TRUE(listener.ok());
  auto accepted = std::async(std::launch::async, [&] { return (*listener)->accept(); });
  EXPECT_EQ(accepted.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  (*listener)->cancel();
  ASSERT_EQ(accepted.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = accepted.get();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cancelled"), std::string::npos) << r.error().message;
}

TEST(SocketChannel, ConnectAndListenErrors) {
  TempDir dir;
  auto refused = open_outgoing_channel("unix:" + dir.file("nobody.sock"));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().describe().find("connect"), std::string::npos);
  auto too_long = listen_incoming_channel("unix:/" + std::string(200, 'x'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.error().message.find("at most"), std::string::npos);
  test::write_bytes(dir.file("plain"), {1});
  auto not_socket = listen_incoming_channel("unix:" + dir.file("plain"));
  ASSERT_FALSE(not_socket.ok());
  EXPECT_NE(not_socket.error().message.find("not a socket"), std::string::npos);
}

}  // namespace
}  // namespace rrvm::migration
