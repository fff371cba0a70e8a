// The stream header: what the source writes about its VM, and the target's check that the stream
// can load into the VM it has (same RAM layout, vCPU count, CPU vendor, loadable sections) before
// any RAM is transferred.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/core/guest_memory.h"
#include "vmm/migration/migratable.h"
#include "vmm/migration/schema/snapshot.capnp.h"

namespace rrvm::migration {

// Names 1..MAX_SECTION_NAME printable ASCII characters, unique, not "globalstate", versions
// min_version <= version, at most MAX_SECTIONS.
Status validate_section_list(const std::vector<SectionInfo>& sections);

void fill_header(schema::StreamHeader::Builder header, const VmDescription& vm,
                 const GuestMemory& memory, bool live);

struct StreamSection {
  std::string name;
  uint32_t version = 0;
};

struct HeaderInfo {
  bool live = false;
  std::string rrvm_version;
  uint64_t created_realtime_ns = 0;
  // In stream order, "globalstate" included; every other name is one of the target's sections.
  std::vector<StreamSection> sections;
};

// Decodes the header descriptor and checks it against the target VM. The error says what differs
// ("the stream's VM has 2 vCPUs, this VM has 1"); the caller adds the stream name and offset.
Result<HeaderInfo> check_header(std::span<const uint8_t> descriptor, const VmDescription& target,
                                const GuestMemory& memory);

}  // namespace rrvm::migration
