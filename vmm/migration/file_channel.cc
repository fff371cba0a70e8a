// file:PATH. Writing goes to a temporary in PATH's directory that becomes PATH only in commit(),
// after its data is on disk: a crash or failed migration never leaves a half snapshot under the
// final name.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "trace/span.h"
#include "vmm/migration/channel_impl.h"

namespace rrvm::migration::detail {

namespace {

class FileChannel : public Channel {
 public:
  FileChannel(Fd fd, std::string final_path, std::string temp_path)
      : Channel("file:" + final_path),
        fd_(std::move(fd)),
        final_path_(std::move(final_path)),
        temp_path_(std::move(temp_path)) {}

  ~FileChannel() override {
    // An uncommitted write leaves nothing behind.
    if (!temp_path_.empty() && !committed_) ::unlink(temp_path_.c_str());
  }

  Status write_all(std::span<const uint8_t> data) override {
    if (cancelled()) return cancelled_error("write");
    return rrvm::write_all(fd_.get(), data.data(), data.size(),
                           "migration channel " + name() + ": write " + temp_path_);
  }

  Result<size_t> read_some(std::span<uint8_t> data) override {
    if (cancelled()) return cancelled_error("read");
    while (true) {
      ssize_t n = ::read(fd_.get(), data.data(), data.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return errno_error("migration channel " + name() + ": read");
    }
  }

  Status read_exact(std::span<uint8_t> data) override {
    if (cancelled()) return cancelled_error("read");
    return rrvm::read_exact(fd_.get(), data.data(), data.size(),
                            "migration channel " + name() + ": read");
  }

  Status sync_data() override {
    if (cancelled()) return cancelled_error("sync");
    if (temp_path_.empty()) return ok_status();
    trace::Span span("file_channel_sync_data");
    if (::fdatasync(fd_.get()) != 0) {
      return errno_error("migration channel " + name() + ": fdatasync " + temp_path_);
    }
    return ok_status();
  }
  Status commit() override;
  void cancel() override { cancelled_.store(true, std::memory_order_release); }
  bool live() const override { return false; }

 private:
  Fd fd_;
  std::string final_path_;
  std::string temp_path_;  // empty when reading
  bool committed_ = false;
};

Status FileChannel::commit() {
  if (cancelled()) return cancelled_error("commit");
  if (temp_path_.empty()) return ok_status();
  trace::Span span("file_channel_commit");
  const std::string what = "migration channel " + name() + ": ";
  // Data first, then the name, then the directory entry: after commit() returns, PATH holds the
  // complete snapshot even across a power loss. After sync_data() the fsync has little left.
  if (::fsync(fd_.get()) != 0) return errno_error(what + "fsync " + temp_path_);
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    return errno_error(what + "rename " + temp_path_ + " to " + final_path_);
  }
  committed_ = true;
  std::string dir = std::filesystem::path(final_path_).parent_path().string();
  if (dir.empty()) dir = ".";
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return errno_error(what + "open directory " + dir);
  if (::fsync(dir_fd.get()) != 0) return errno_error(what + "fsync directory " + dir);
  return ok_status();
}

class FileListener : public Listener {
 public:
  explicit FileListener(std::string path) : path_(std::move(path)) {}
  Result<std::unique_ptr<Channel>> accept() override {
    if (cancelled_.load())
      return make_error("migration channel file:" + path_ + ": open: cancelled");
    Fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return errno_error("migration channel file:" + path_ + ": open");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0)
      return errno_error("migration channel file:" + path_ + ": stat");
    if (!S_ISREG(st.st_mode))
      return make_error("migration channel file:" + path_ + ": not a regular file");
    return std::unique_ptr<Channel>(new FileChannel(std::move(fd), path_, ""));
  }
  void cancel() override { cancelled_.store(true); }
  std::string uri() const override { return "file:" + path_; }

 private:
  std::string path_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

Result<std::unique_ptr<Channel>> open_file_for_writing(const std::string& path) {
  static std::atomic<uint64_t> counter{0};
  std::filesystem::path final_path(path);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return make_error("migration channel file:" + path + ": is a directory");
  }
  std::filesystem::path temp =
      final_path.parent_path() / ("." + final_path.filename().string() + ".rrvm-tmp." +
                                  std::to_string(::getpid()) + "." + std::to_string(counter++));
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid())
    return errno_error("migration channel file:" + path + ": create " + temp.string());
  return std::unique_ptr<Channel>(new FileChannel(std::move(fd), path, temp.string()));
}

Result<std::unique_ptr<Listener>> file_listener(const std::string& path) {
  return std::unique_ptr<Listener>(new FileListener(path));
}

}  // namespace rrvm::migration::detail
