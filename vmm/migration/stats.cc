#include "vmm/migration/stats.h"

namespace rrvm::migration {

std::string_view status_name(MigrationStatus status) {
  switch (status) {
    case MigrationStatus::None:
      return "none";
    case MigrationStatus::Setup:
      return "setup";
    case MigrationStatus::Active:
      return "active";
    case MigrationStatus::Cancelling:
      return "cancelling";
    case MigrationStatus::Cancelled:
      return "cancelled";
    case MigrationStatus::Completed:
      return "completed";
    case MigrationStatus::Failed:
      return "failed";
  }
  return "unknown";
}

bool is_final(MigrationStatus status) {
  return status == MigrationStatus::Completed || status == MigrationStatus::Failed ||
         status == MigrationStatus::Cancelled;
}

}  // namespace rrvm::migration
