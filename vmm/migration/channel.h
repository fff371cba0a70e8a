// Channels carry the migration stream: `file:PATH`, `unix:PATH`, `tcp:HOST:PORT`, and memory
// (tests and the fuzz target).
//
// The source opens an outgoing channel (file: a temporary beside PATH; unix/tcp: connect); the
// target listens (unix/tcp) or opens the file, then accepts one connection. Every error names the
// channel and the errno, e.g. "migration channel unix:/tmp/m.sock: write: Broken pipe (errno 32)",
// so "the target went away" reads as such.
//
// Threading: one thread uses a channel; cancel() may come from any other thread and makes the
// blocked and every later read or write fail promptly with a "cancelled" error.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vmm/base/fd.h"
#include "vmm/base/result.h"

namespace rrvm::migration {

struct ChannelUri {
  enum class Kind { File, Unix, Tcp };
  Kind kind = Kind::File;
  std::string path;   // file, unix
  std::string host;   // tcp; an IPv6 literal without its brackets
  uint16_t port = 0;  // tcp; 0 on a listener picks a free port
};

// "file:/a/b.snap", "unix:/run/m.sock", "tcp:127.0.0.1:4444", "tcp:[::1]:4444".
Result<ChannelUri> parse_channel_uri(const std::string& uri);

class Channel {
 public:
  virtual ~Channel() = default;

  virtual Status write_all(std::span<const uint8_t> data) = 0;
  // Reads exactly data.size() bytes; an error if the stream ends first.
  virtual Status read_exact(std::span<uint8_t> data) = 0;
  // Reads at most data.size() bytes; 0 means the stream ended.
  virtual Result<size_t> read_some(std::span<uint8_t> data) = 0;

  // Source, while the VM still runs: puts what was written so far on stable storage, so that
  // commit(), which runs with the VM stopped, has only the last pass's bytes left to flush. A
  // file is fdatasynced; other channels need nothing.
  virtual Status sync_data() { return ok_status(); }
  // Source, after the last byte: a file is fsynced, renamed to its final name and its directory
  // fsynced; a socket needs nothing. A channel that is destroyed uncommitted leaves no file behind.
  virtual Status commit() = 0;
  virtual void cancel() = 0;
  // Later reads give up after `timeout` with an error (0: wait forever, the default). Only live
  // channels wait for a peer; files and memory ignore it.
  virtual void set_read_timeout(std::chrono::milliseconds timeout) { (void)timeout; }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  // True for unix/tcp: a peer is there to acknowledge the stream (schema Ack record).
  virtual bool live() const = 0;
  // "file:/x.snap", "unix:/run/m.sock", "tcp:127.0.0.1:4444", "memory".
  const std::string& name() const { return name_; }

 protected:
  explicit Channel(std::string name) : name_(std::move(name)) {}
  Error cancelled_error(const std::string& op) const;
  std::atomic<bool> cancelled_{false};

 private:
  std::string name_;
};

// Source side: the file's temporary, or a connection to a listening target.
Result<std::unique_ptr<Channel>> open_outgoing_channel(const std::string& uri);

// Target side. For unix and tcp, listen() binds at once (so a source can connect as soon as it
// returns) and accept() waits for the one connection; for file, accept() opens the file.
class Listener {
 public:
  virtual ~Listener() = default;
  virtual Result<std::unique_ptr<Channel>> accept() = 0;
  // Wakes a blocked accept(), which then fails with "cancelled".
  virtual void cancel() = 0;
  // The URI a source should use: for "tcp:127.0.0.1:0" the port actually bound.
  virtual std::string uri() const = 0;
};

Result<std::unique_ptr<Listener>> listen_incoming_channel(const std::string& uri);

// An in-memory stream: what is written can be read back (tests, the fuzz target). Reads serve
// `input`; writes append to output().
class MemoryChannel : public Channel {
 public:
  explicit MemoryChannel(std::vector<uint8_t> input = {}, bool live = false)
      : Channel("memory"), input_(std::move(input)), live_(live) {}

  Status write_all(std::span<const uint8_t> data) override;
  Status read_exact(std::span<uint8_t> data) override;
  Result<size_t> read_some(std::span<uint8_t> data) override;
  Status commit() override;
  void cancel() override { cancelled_.store(true, std::memory_order_release); }
  bool live() const override { return live_; }

  const std::vector<uint8_t>& output() const { return output_; }
  bool committed() const { return committed_; }

 private:
  std::vector<uint8_t> input_;
  size_t read_pos_ = 0;
  std::vector<uint8_t> output_;
  bool live_;
  bool committed_ = false;
};

// Hands out one channel given up front: runs the incoming side on a stream already in memory (the
// fuzz target, tests).
class MemoryListener : public Listener {
 public:
  explicit MemoryListener(std::unique_ptr<Channel> channel) : channel_(std::move(channel)) {}
  Result<std::unique_ptr<Channel>> accept() override {
    if (!channel_) return make_error("migration channel memory: accept: already accepted");
    return std::move(channel_);
  }
  void cancel() override {}
  std::string uri() const override { return "memory"; }

 private:
  std::unique_ptr<Channel> channel_;
};

}  // namespace rrvm::migration
