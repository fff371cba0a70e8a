#include "vmm/hv/kvm/kvm_hypervisor.h"

#include <fcntl.h>
#include "vmm/hv/kvm/linux_kvm.h"
#include <sys/ioctl.h>

#include <spdlog/spdlog.h>

#include <cstring>

#include "vmm/hv/kvm/kvm.h"
#include "vmm/hv/kvm/kvm_convert.h"
#include "vmm/hv/kvm/kvm_vm.h"

namespace rrvm::hv {

Result<std::unique_ptr<Hypervisor>> open_kvm(const std::string& device) {
  RRVM_ASSIGN_OR_RETURN(auto hv, kvm::KvmHypervisor::open(device));
  return std::unique_ptr<Hypervisor>(std::move(hv));
}

namespace kvm {
namespace {

// KVM's own limit on KVM_GET_SUPPORTED_CPUID entries is 256; stop doubling well above it.
constexpr uint32_t MAX_CPUID_ENTRIES = 4096;
constexpr uint32_t MAX_MSR_INDICES = 16384;

std::string open_hint(int err) {
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
      return " (no KVM on this host: load kvm_intel or kvm_amd, or use a host with VMX/SVM)";
    case EACCES:
    case EPERM:
      return " (no permission: add the user to the kvm group or run as root)";
    default:
      return "";
  }
}

}  // namespace

KvmHypervisor::KvmHypervisor(Fd fd, int api_version, size_t run_area_size)
    : fd_(std::move(fd)), api_version_(api_version), run_area_size_(run_area_size) {}

Result<std::unique_ptr<KvmHypervisor>> KvmHypervisor::open(const std::string& device) {
  Fd fd(::open(device.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    return errno_error("open " + device + open_hint(err), err);
  }
  const int api = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
  if (api < 0) return errno_error("KVM_GET_API_VERSION on " + device);
  if (api != KVM_API_VERSION) {
    return make_error("KVM_GET_API_VERSION: " + device + " speaks KVM API " + std::to_string(api) +
                      ", rrvm needs " + std::to_string(KVM_API_VERSION));
  }
  // kick() relies on kvm_run.immediate_exit (Linux 4.11+).
  if (::ioctl(fd.get(), KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0) {
    return make_error(device + ": KVM lacks KVM_CAP_IMMEDIATE_EXIT (Linux 4.11 or newer needed)");
  }
  const int run_size = ::ioctl(fd.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < 0) return errno_error("KVM_GET_VCPU_MMAP_SIZE");
  if (static_cast<size_t>(run_size) < sizeof(kvm_run)) {
    return make_error("KVM_GET_VCPU_MMAP_SIZE: " + std::to_string(run_size) +
                      " bytes is smaller than struct kvm_run");
  }
  return std::unique_ptr<KvmHypervisor>(
      new KvmHypervisor(std::move(fd), api, static_cast<size_t>(run_size)));
}

Result<std::unique_ptr<Vm>> KvmHypervisor::create_vm() {
  int vm;
  do {
    vm = ::ioctl(fd_.get(), KVM_CREATE_VM, 0);  // QEMU retries EINTR here too
  } while (vm < 0 && errno == EINTR);
  if (vm < 0) return errno_error("KVM_CREATE_VM");
  const int64_t xsave2 = check_extension(KVM_CAP_XSAVE2);
  return std::unique_ptr<Vm>(
      new KvmVm(Fd(vm), run_area_size_, xsave2 > 0 ? static_cast<size_t>(xsave2) : 0));
}

int64_t KvmHypervisor::check_extension(uint32_t cap) const {
  const int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;  // an unknown capability is "not supported"
}

int KvmHypervisor::max_vcpus() const {
  // Documented fallbacks: KVM_CAP_MAX_VCPUS, else KVM_CAP_NR_VCPUS, else 4.
  if (const int64_t n = check_extension(KVM_CAP_MAX_VCPUS); n > 0) return static_cast<int>(n);
  if (const int64_t n = check_extension(KVM_CAP_NR_VCPUS); n > 0) return static_cast<int>(n);
  return 4;
}

Result<std::vector<CpuidEntry>> KvmHypervisor::supported_cpuid() const {
  // KVM answers E2BIG while the buffer is too small: grow it until the list fits.
  for (uint32_t n = 128; n <= MAX_CPUID_ENTRIES; n *= 2) {
    std::vector<uint8_t> buf(sizeof(kvm_cpuid2) + n * sizeof(kvm_cpuid_entry2));
    auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buf.data());
    cpuid->nent = n;
    if (::ioctl(fd_.get(), KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
      if (errno == E2BIG) continue;
      return errno_error("KVM_GET_SUPPORTED_CPUID");
    }
    std::vector<CpuidEntry> out;
    out.reserve(cpuid->nent);
    for (uint32_t i = 0; i < cpuid->nent; ++i) out.push_back(from_kvm(cpuid->entries[i]));
    return out;
  }
  return make_error("KVM_GET_SUPPORTED_CPUID: more than " + std::to_string(MAX_CPUID_ENTRIES) +
                    " entries");
}

Result<std::vector<uint32_t>> KvmHypervisor::msr_index_list() const {
  // First call with room for nothing: KVM fails with E2BIG and says how many there are.
  kvm_msr_list probe{};
  if (::ioctl(fd_.get(), KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG) {
    return errno_error("KVM_GET_MSR_INDEX_LIST");
  }
  if (probe.nmsrs > MAX_MSR_INDICES) {
    return make_error("KVM_GET_MSR_INDEX_LIST: " + std::to_string(probe.nmsrs) + " MSRs");
  }
  std::vector<uint8_t> buf(sizeof(kvm_msr_list) + probe.nmsrs * sizeof(uint32_t));
  auto* list = reinterpret_cast<kvm_msr_list*>(buf.data());
  list->nmsrs = probe.nmsrs;
  if (::ioctl(fd_.get(), KVM_GET_MSR_INDEX_LIST, list) < 0) {
    return errno_error("KVM_GET_MSR_INDEX_LIST");
  }
  return std::vector<uint32_t>(list->indices, list->indices + list->nmsrs);
}

uint32_t KvmHypervisor::host_tsc_khz() const {
  std::call_once(tsc_once_, [this] { tsc_khz_ = query_tsc_khz(); });
  return tsc_khz_;
}

uint32_t KvmHypervisor::query_tsc_khz() const {
  Fd vm(::ioctl(fd_.get(), KVM_CREATE_VM, 0));
  if (!vm.valid()) {
    spdlog::warn("host TSC frequency unknown: KVM_CREATE_VM: {}", std::strerror(errno));
    return 0;
  }
  // A VM-wide KVM_GET_TSC_KHZ exists with KVM_CAP_VM_TSC_CONTROL (Linux 6.0); before that only a
  // vCPU answers.
  if (check_extension(KVM_CAP_VM_TSC_CONTROL) > 0) {
    const int khz = ::ioctl(vm.get(), KVM_GET_TSC_KHZ, 0);
    if (khz > 0) return static_cast<uint32_t>(khz);
  }
  Fd vcpu(::ioctl(vm.get(), KVM_CREATE_VCPU, 0));
  const int khz = vcpu.valid() ? ::ioctl(vcpu.get(), KVM_GET_TSC_KHZ, 0) : -1;
  if (khz <= 0) {
    spdlog::warn("host TSC frequency unknown: KVM_GET_TSC_KHZ: {}", std::strerror(errno));
    return 0;
  }
  return static_cast<uint32_t>(khz);
}

}  // namespace kvm
}  // namespace rrvm::hv
