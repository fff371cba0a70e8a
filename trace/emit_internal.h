// Links between the process-wide emit state (emit.cc) and the recorder.
#pragma once

namespace rrvm::trace::internal {

class RecorderImpl;

// A recorder being destroyed while installed uninstalls itself first.
void uninstall_if_installed(RecorderImpl* recorder);

}  // namespace rrvm::trace::internal
