#include "vmm/migration/stream_header.h"

#include <chrono>
#include <set>

#include "vmm/migration/capnp_bytes.h"
#include "vmm/migration/control_records.h"
#include "vmm/migration/format.h"

namespace rrvm::migration {

namespace {

constexpr size_t MAX_RAM_REGIONS = 64;
constexpr size_t MAX_VERSION_TEXT = 64;

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > MAX_SECTION_NAME) return false;
  for (char c : name) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

// Printable form of an untrusted name for error messages.
std::string quoted(std::string_view name) {
  std::string out = "'";
  for (char c : name.substr(0, MAX_SECTION_NAME)) out += (c >= 0x20 && c <= 0x7e) ? c : '?';
  return out + (name.size() > MAX_SECTION_NAME ? "...'" : "'");
}

const SectionInfo* find_section(const VmDescription& vm, std::string_view name) {
  for (const SectionInfo& s : vm.sections) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

Status check_config(schema::VmConfig::Reader config, const VmDescription& target,
                    const GuestMemory& memory) {
  if (config.getMemoryBytes() != target.memory_bytes ||
      config.getMemoryBytes() != memory.total_size()) {
    return make_error("the stream's VM has " + std::to_string(config.getMemoryBytes()) +
                      " bytes of RAM, this VM has " + std::to_string(memory.total_size()));
  }
  if (config.getVcpus() != target.vcpus) {
    return make_error("the stream's VM has " + std::to_string(config.getVcpus()) +
                      " vCPUs, this VM has " + std::to_string(target.vcpus));
  }
  auto regions = config.getRamRegions();
  if (regions.size() > MAX_RAM_REGIONS || regions.size() != memory.regions().size()) {
    return make_error("the stream's VM has " + std::to_string(regions.size()) +
                      " RAM regions, this VM has " + std::to_string(memory.regions().size()));
  }
  for (uint32_t i = 0; i < regions.size(); ++i) {
    const RamRegion& mine = memory.regions()[i];
    if (regions[i].getGpa() != mine.gpa || regions[i].getSize() != mine.size) {
      return make_error("RAM region " + std::to_string(i) + " differs: the stream's is at gpa " +
                        std::to_string(regions[i].getGpa()) + " size " +
                        std::to_string(regions[i].getSize()) + ", this VM's at gpa " +
                        std::to_string(mine.gpa) + " size " + std::to_string(mine.size));
    }
  }
  return ok_status();
}

Result<std::vector<StreamSection>> check_sections(capnp::List<schema::SectionInfo>::Reader list,
                                                  const VmDescription& target) {
  if (list.size() > MAX_SECTIONS + 1) {
    return make_error("the stream lists " + std::to_string(list.size()) + " sections, at most " +
                      std::to_string(MAX_SECTIONS + 1) + " allowed");
  }
  std::vector<StreamSection> out;
  std::set<std::string, std::less<>> seen;
  for (auto s : list) {
    std::string_view name(s.getName().cStr(), s.getName().size());
    if (!valid_name(name)) return make_error("bad section name " + quoted(name));
    if (!seen.insert(std::string(name)).second)
      return make_error("section " + quoted(name) + " is listed twice");
    if (name == GLOBAL_STATE_SECTION) {
      if (s.getVersion() != GLOBAL_STATE_VERSION) {
        return make_error("section 'globalstate' has version " + std::to_string(s.getVersion()) +
                          ", this rrvm loads version " + std::to_string(GLOBAL_STATE_VERSION));
      }
    } else {
      const SectionInfo* mine = find_section(target, name);
      if (mine == nullptr)
        return make_error("unknown section " + quoted(name) + ": this VM has no such component");
      if (s.getVersion() < mine->min_version || s.getVersion() > mine->version) {
        return make_error("section " + quoted(name) + " has version " +
                          std::to_string(s.getVersion()) + ", this rrvm loads versions " +
                          std::to_string(mine->min_version) + ".." + std::to_string(mine->version));
      }
    }
    out.push_back(StreamSection{std::string(name), s.getVersion()});
  }
  if (!seen.count(GLOBAL_STATE_SECTION))
    return make_error("the stream has no 'globalstate' section");
  for (const SectionInfo& mine : target.sections) {
    if (!seen.count(mine.name))
      return make_error("the stream has no section '" + mine.name + "', which this VM needs");
  }
  return out;
}

}  // namespace

Status validate_section_list(const std::vector<SectionInfo>& sections) {
  if (sections.size() > MAX_SECTIONS)
    return make_error(std::to_string(sections.size()) + " sections is too many");
  std::set<std::string, std::less<>> seen;
  for (const SectionInfo& s : sections) {
    if (!valid_name(s.name)) return make_error("bad section name " + quoted(s.name));
    if (s.name == GLOBAL_STATE_SECTION)
      return make_error("'globalstate' belongs to the migration layer");
    if (!seen.insert(s.name).second) return make_error("section '" + s.name + "' is listed twice");
    if (s.version == 0 || s.min_version == 0 || s.min_version > s.version) {
      return make_error("section '" + s.name +
                        "': versions must satisfy 1 <= min_version <= version");
    }
  }
  return ok_status();
}

void fill_header(schema::StreamHeader::Builder header, const VmDescription& vm,
                 const GuestMemory& memory, bool live) {
  header.setFormatVersion(FORMAT_VERSION);
  header.setRrvmVersion(RRVM_VERSION_STRING);
  header.setCpuVendor(vm.cpu_vendor);
  header.setPageSize(PAGE_SIZE);
  header.setLive(live);
  header.setCreatedRealtimeNs(
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count()));
  header.setBulkSkipsZeroPages(true);
  auto config = header.initConfig();
  config.setMemoryBytes(memory.total_size());
  config.setVcpus(vm.vcpus);
  auto regions = config.initRamRegions(static_cast<unsigned>(memory.regions().size()));
  for (size_t i = 0; i < memory.regions().size(); ++i) {
    regions[i].setGpa(memory.regions()[i].gpa);
    regions[i].setSize(memory.regions()[i].size);
  }
  auto sections = config.initSections(static_cast<unsigned>(vm.sections.size() + 1));
  sections[0].setName(GLOBAL_STATE_SECTION);
  sections[0].setVersion(GLOBAL_STATE_VERSION);
  for (size_t i = 0; i < vm.sections.size(); ++i) {
    sections[i + 1].setName(vm.sections[i].name);
    sections[i + 1].setVersion(vm.sections[i].version);
  }
}

Result<HeaderInfo> check_header(std::span<const uint8_t> descriptor, const VmDescription& target,
                                const GuestMemory& memory) {
  HeaderInfo info;
  RRVM_TRY(read_message<schema::StreamHeader>(
      descriptor, MAX_DESCRIPTOR_BYTES, [&](schema::StreamHeader::Reader h) -> Status {
        if (h.getFormatVersion() != FORMAT_VERSION) {
          return make_error("format version " + std::to_string(h.getFormatVersion()) +
                            ", this rrvm reads " + std::to_string(FORMAT_VERSION));
        }
        if (h.getPageSize() != PAGE_SIZE)
          return make_error("page size " + std::to_string(h.getPageSize()));
        std::string_view vendor(h.getCpuVendor().cStr(), h.getCpuVendor().size());
        if (!vendor.empty() && !target.cpu_vendor.empty() && vendor != target.cpu_vendor) {
          return make_error("the stream comes from a " + quoted(vendor) + " host, this host is '" +
                            target.cpu_vendor + "'");
        }
        RRVM_TRY(check_config(h.getConfig(), target, memory));
        RRVM_ASSIGN_OR_RETURN(info.sections, check_sections(h.getConfig().getSections(), target));
        info.live = h.getLive();
        info.rrvm_version = std::string(h.getRrvmVersion().cStr()).substr(0, MAX_VERSION_TEXT);
        info.created_realtime_ns = h.getCreatedRealtimeNs();
        return ok_status();
      }));
  return info;
}

}  // namespace rrvm::migration
