#include "vmm/boot/kernel_loader.h"

#include "vmm/base/fd.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/elf_image.h"
#include "vmm/boot/linux_boot.h"
#include "vmm/boot/pvh_boot.h"

namespace rrvm::boot {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The command line of a kernel that finds its virtio devices there (no ACPI tables).
std::string cmdline_with_devices(const KernelSpec& spec) {
  const std::string words = virtio::virtio_mmio_cmdline(spec.virtio_mmio);
  if (words.empty()) return spec.cmdline;
  return spec.cmdline.empty() ? words : spec.cmdline + " " + words;
}

LinuxBootOptions linux_options(const KernelSpec& spec, std::span<const uint8_t> initrd) {
  return LinuxBootOptions{spec.kernel_path, spec.cmdline, initrd, spec.vcpus, spec.virtio_mmio};
}

Result<BootPlan> load_elf_kernel(const GuestMemory& mem, std::span<const uint8_t> kernel,
                                 std::span<const uint8_t> initrd, const KernelSpec& spec) {
  RRVM_ASSIGN_OR_RETURN(const ElfImage image, parse_elf(kernel, spec.kernel_path));
  if (image.rrvm_entry || spec.protocol == BootProtocol::Pvh) {
    PvhBootOptions o{spec.kernel_path, cmdline_with_devices(spec), initrd, spec.vcpus,
                     spec.protocol == BootProtocol::Pvh ? EntryMode::Pvh32 : EntryMode::Rrvm64};
    return load_pvh_elf(mem, kernel, image, o);
  }
  return load_vmlinux(mem, kernel, image, linux_options(spec, initrd));
}

Error not_a_kernel(const KernelSpec& spec) {
  return Error{spec.kernel_path +
               ": not a kernel rrvm can boot (neither an ELF executable nor a bzImage with "
               "\"HdrS\" at 0x202)"};
}

struct KernelFiles {
  std::string kernel;
  std::string initrd;
};

// The kernel's and the initrd's first `read_bytes` bytes; each file must fit in `ram` bytes.
Result<KernelFiles> read_kernel_files(const KernelSpec& spec, uint64_t ram, size_t read_bytes) {
  if (spec.kernel_path.empty()) return make_error("boot: no kernel given");
  KernelFiles files;
  auto kernel = read_file(spec.kernel_path, ram, read_bytes);
  if (!kernel.ok()) return kernel.error().context("kernel");
  files.kernel = std::move(kernel).value();
  if (!spec.initrd_path.empty()) {
    auto r = read_file(spec.initrd_path, ram, read_bytes);
    if (!r.ok()) {
      return r.error().context("initrd (guest memory is " + std::to_string(ram >> 20) + " MiB)");
    }
    files.initrd = std::move(r).value();
  }
  return files;
}

}  // namespace

Result<BootPlan> load_kernel_image(const GuestMemory& mem, std::span<const uint8_t> kernel,
                                   std::span<const uint8_t> initrd, const KernelSpec& spec) {
  if (spec.vcpus == 0) return make_error("boot: a VM needs at least one vCPU");
  if (is_elf(kernel)) return load_elf_kernel(mem, kernel, initrd, spec);
  if (is_bzimage(kernel)) {
    if (spec.protocol == BootProtocol::Pvh) {
      return make_error(spec.kernel_path +
                        ": a bzImage has no PVH entry; boot its vmlinux ELF for PVH");
    }
    RRVM_ASSIGN_OR_RETURN(const BzImage bz, parse_bzimage(kernel, spec.kernel_path));
    return load_bzimage(mem, kernel, bz, linux_options(spec, initrd));
  }
  return not_a_kernel(spec);
}

Result<BootPlan> load_kernel(const GuestMemory& mem, const KernelSpec& spec) {
  RRVM_ASSIGN_OR_RETURN(KernelFiles files, read_kernel_files(spec, mem.total_size(), SIZE_MAX));
  return load_kernel_image(mem, bytes(files.kernel), bytes(files.initrd), spec);
}

Status check_kernel_files(const KernelSpec& spec, uint64_t ram_bytes) {
  // The ELF header and a bzImage's setup header ("HdrS" at 0x202) are in the first page.
  RRVM_ASSIGN_OR_RETURN(KernelFiles files, read_kernel_files(spec, ram_bytes, 4096));
  if (!is_elf(bytes(files.kernel)) && !is_bzimage(bytes(files.kernel))) return not_a_kernel(spec);
  return ok_status();
}

}  // namespace rrvm::boot
