#include "registry/upload_lease.h"

#include <openssl/rand.h>

#include <stdexcept>

namespace kura::registry {

namespace {

std::string NewHolder() {
  unsigned char b[12];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("no randomness");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace

UploadLease::UploadLease(store::MetaStore& meta) : meta_(meta), holder_(NewHolder()) {}

UploadLease::~UploadLease() {
  if (!held_) return;
  try {
    meta_.ReleaseUploadLease(session_.id, holder_);
  } catch (const std::exception&) {
    // It runs out by itself within kSeconds.
  }
}

std::optional<core::RegistryError> UploadLease::Take(const std::string& id,
                                                     const store::RepoKey& repo) {
  switch (meta_.LeaseUpload(id, repo, holder_, kSeconds, &session_)) {
    case store::LeaseOutcome::kLeased:
      held_ = true;
      renewed_ = std::chrono::steady_clock::now();
      return std::nullopt;
    case store::LeaseOutcome::kBusy:
      return core::RegistryError(core::ErrorCode::kBlobUploadInvalid,
                                 "upload is busy: another request is writing it", {}, 416);
    case store::LeaseOutcome::kUnknown:
      break;
  }
  return core::RegistryError(core::ErrorCode::kBlobUploadUnknown, "blob upload unknown");
}

bool UploadLease::Keep() {
  if (!held_) return false;
  auto now = std::chrono::steady_clock::now();
  if (now - renewed_ < std::chrono::seconds(kSeconds / 3)) return true;
  if (!meta_.RenewUploadLease(session_.id, session_.repo, holder_, kSeconds)) {
    held_ = false;
    return false;
  }
  renewed_ = now;
  return true;
}

bool UploadLease::SetOffset(uint64_t offset) {
  if (!held_ ||
      !meta_.SetUploadOffset(session_.id, session_.repo, holder_, offset, session_.state)) {
    held_ = false;
    return false;
  }
  session_.offset = offset;
  return true;
}

core::RegistryError UploadLease::Lost() {
  return core::RegistryError(core::ErrorCode::kBlobUploadInvalid,
                             "upload lease lost: the request was too slow and another took the "
                             "session over; nothing of this request was kept",
                             {}, 416);
}

}  // namespace kura::registry
