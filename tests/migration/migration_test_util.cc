#include "tests/migration/migration_test_util.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "vmm/migration/capnp_bytes.h"
#include "vmm/migration/schema/snapshot.capnp.h"
#include "vmm/migration/stream_reader.h"

namespace rrvm::migration::test {

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "rrvm-migration-XXXXXX").string();
  char* made = ::mkdtemp(templ.data());
  RRVM_CHECK(made != nullptr);
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(path_))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<FakeMigratable> make_vm(FakeMigratable::Options options) {
  auto vm = FakeMigratable::create(options);
  RRVM_CHECK_MSG(vm.ok(), vm.ok() ? "" : vm.error().describe());
  return std::move(vm).value();
}

std::unique_ptr<FakeMigratable> make_target_for(const FakeMigratable::Options& source) {
  FakeMigratable::Options options = source;
  options.initial_state = trace::RunState::Prelaunch;
  options.disks_active = false;  // as `rrvm run --incoming` opens its disk images
  auto vm = make_vm(options);
  // A target's sections start empty: whatever they hold after loading came from the stream.
  for (const SectionInfo& s : options.sections) vm->set_section_data(s.name, {});
  return vm;
}

MigrationStats migrate_out(FakeMigratable& vm, const std::string& uri, MigrationParameters params) {
  MigrationManager manager(vm);
  EXPECT_TRUE(manager.set_parameters(params).ok());
  Status started = manager.start(uri);
  EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.error().describe());
  return manager.wait();
}

MigrationStats restore_from(FakeMigratable& vm, const std::string& path) {
  MigrationManager manager(vm);
  Status started = manager.start_incoming("file:" + path);
  EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.error().describe());
  return manager.wait();
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::vector<RecordSpan> list_records(const std::vector<uint8_t>& stream) {
  MemoryChannel channel(stream);
  StreamReader reader(channel, "test stream");
  std::vector<RecordSpan> out;
  RRVM_CHECK(reader.read_preamble().ok());
  while (true) {
    auto record = reader.next();
    RRVM_CHECK_MSG(record.ok(), record.ok() ? "" : record.error().describe());
    RecordSpan span{record->kind, record->offset, reader.offset() - record->payload.size(),
                    reader.offset(), ""};
    if (record->kind == RecordKind::Section) {
      RRVM_CHECK(read_message<schema::SectionHeader>(record->descriptor, MAX_DESCRIPTOR_BYTES,
                                                     [&](schema::SectionHeader::Reader r) {
                                                       span.name = r.getName().cStr();
                                                       return ok_status();
                                                     })
                     .ok());
    }
    out.push_back(span);
    if (record->kind == RecordKind::End) return out;
  }
}

bool in_order(const std::vector<std::string>& calls, const std::vector<std::string>& expected) {
  size_t at = 0;
  for (const std::string& c : calls) {
    if (at < expected.size() && c == expected[at]) ++at;
  }
  return at == expected.size();
}

bool contains(const std::vector<std::string>& calls, const std::string& call) {
  return std::find(calls.begin(), calls.end(), call) != calls.end();
}

}  // namespace rrvm::migration::test
