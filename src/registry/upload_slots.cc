#include "registry/upload_slots.h"

namespace kura::registry {

UploadSlots::Slot::~Slot() {
  if (slots_) slots_->Give(instance_);
}

std::optional<UploadSlots::Slot> UploadSlots::Take(const std::string& instance, std::string* why) {
  std::lock_guard lock(mu_);
  if (overall_ >= limits_.overall) {
    *why = "too many uploads in progress on this server (" + std::to_string(limits_.overall) +
           "); retry later";
    return std::nullopt;
  }
  size_t& mine = by_instance_[instance];
  if (mine >= limits_.per_instance) {
    *why = "too many uploads in progress for this registry instance (" +
           std::to_string(limits_.per_instance) + "); retry later";
    return std::nullopt;
  }
  ++mine;
  ++overall_;
  return Slot(this, instance);
}

size_t UploadSlots::in_use() const {
  std::lock_guard lock(mu_);
  return overall_;
}

void UploadSlots::Give(const std::string& instance) {
  std::lock_guard lock(mu_);
  --overall_;
  auto it = by_instance_.find(instance);
  if (it != by_instance_.end() && --it->second == 0) by_instance_.erase(it);
}

}  // namespace kura::registry
