// Helpers shared by the migration tests: temporary directories, fake VMs, running a migration to
// its end, and walking the records of a stream.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "vmm/migration/format.h"
#include "vmm/migration/manager.h"
#include "vmm/migration/testing/fake_migratable.h"

namespace rrvm::migration::test {

using testing::FakeMigratable;

// A fresh directory under the test temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Names of the entries in the directory.
  std::vector<std::string> entries() const;

 private:
  std::filesystem::path path_;
};

std::unique_ptr<FakeMigratable> make_vm(FakeMigratable::Options options);
// A target for `source`: same RAM layout, vCPUs and sections, in Prelaunch.
std::unique_ptr<FakeMigratable> make_target_for(const FakeMigratable::Options& source);

// Runs an outgoing migration to `uri` to its end.
MigrationStats migrate_out(FakeMigratable& vm, const std::string& uri,
                           MigrationParameters params = {});
// Loads a snapshot file into vm to its end.
MigrationStats restore_from(FakeMigratable& vm, const std::string& path);

std::vector<uint8_t> read_bytes(const std::string& path);
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);

struct RecordSpan {
  RecordKind kind;
  uint64_t offset;  // of the frame
  uint64_t payload_offset;
  uint64_t end;      // one past the last byte
  std::string name;  // section name for sections
};
// The records of a well-formed stream, in order.
std::vector<RecordSpan> list_records(const std::vector<uint8_t>& stream);

// True when `calls` contains `expected` as a subsequence (in order, gaps allowed).
bool in_order(const std::vector<std::string>& calls, const std::vector<std::string>& expected);
bool contains(const std::vector<std::string>& calls, const std::string& call);

}  // namespace rrvm::migration::test
