// What an upload session records beside its offset (store::UploadSession::state), so that the
// next request of the session may arrive at any node: the running hash over the bytes received
// so far, the blob store's own state of the upload, and, once the closing PUT has checked the
// digest, the blob the bytes are becoming.
#pragma once

#include <optional>
#include <string>

namespace kura::registry {

struct UploadSessionState {
  std::string hash;        // core::Sha256::SaveState
  std::string store;       // what the last UploadAppender::Finish returned
  std::string committing;  // the digest the closing PUT is committing the bytes as, or empty
};

std::string EncodeUploadSessionState(const UploadSessionState& state);
// Empty fields for a session created before states existed (or for text that is not a state).
UploadSessionState DecodeUploadSessionState(const std::string& text);

}  // namespace kura::registry
