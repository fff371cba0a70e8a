#include "vmm/migration/checksum.h"

#include <xxhash.h>

#include "vmm/base/check.h"

namespace rrvm::migration {

struct StreamChecksum::State {
  XXH3_state_t* xxh = XXH3_createState();
  ~State() { XXH3_freeState(xxh); }
};

uint64_t checksum64(std::span<const uint8_t> data) { return XXH3_64bits(data.data(), data.size()); }

StreamChecksum::StreamChecksum() : state_(std::make_unique<State>()) {
  RRVM_CHECK(state_->xxh != nullptr);
  RRVM_CHECK(XXH3_64bits_reset(state_->xxh) == XXH_OK);
}

StreamChecksum::~StreamChecksum() = default;

void StreamChecksum::update(std::span<const uint8_t> data) {
  RRVM_CHECK(XXH3_64bits_update(state_->xxh, data.data(), data.size()) == XXH_OK);
}

uint64_t StreamChecksum::value() const { return XXH3_64bits_digest(state_->xxh); }

}  // namespace rrvm::migration
