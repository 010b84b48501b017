// Caps on the uploads one node receives at once, overall and per instance. Each upload being
// received holds up to store::UploadWriter's buffers (4 MiB) and a share of the writer threads:
// without a cap, one tenant opening hundreds of slow uploads would hold the memory and the disk
// bandwidth every other tenant's pushes need. A request over a cap is refused before its body is
// read (429 TOOMANYREQUESTS, with the cap that was reached).
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace kura::registry {

struct UploadLimits {
  size_t overall = 128;      // uploads received at once by this node
  size_t per_instance = 32;  // of them, for one instance
};

class UploadSlots {
 public:
  explicit UploadSlots(UploadLimits limits) : limits_(limits) {}
  UploadSlots(const UploadSlots&) = delete;
  UploadSlots& operator=(const UploadSlots&) = delete;

  // One upload's place; given back when destroyed.
  class Slot {
   public:
    Slot(Slot&& o) noexcept : slots_(o.slots_), instance_(std::move(o.instance_)) {
      o.slots_ = nullptr;
    }
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    friend class UploadSlots;
    Slot(UploadSlots* slots, std::string instance)
        : slots_(slots), instance_(std::move(instance)) {}
    UploadSlots* slots_;
    std::string instance_;
  };

  // A slot for an upload to `instance`, or nullopt with *why naming the cap that was reached.
  std::optional<Slot> Take(const std::string& instance, std::string* why);

  size_t in_use() const;

 private:
  void Give(const std::string& instance);

  const UploadLimits limits_;
  mutable std::mutex mu_;
  size_t overall_ = 0;                         // guarded by mu_
  std::map<std::string, size_t> by_instance_;  // guarded by mu_; instances with uploads only
};

}  // namespace kura::registry
