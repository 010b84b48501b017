#include "registry/upload_session_state.h"

namespace kura::registry {

namespace {
constexpr std::string_view kCommitting = "commit ";
}  // namespace

// Lines: ["commit <digest>"], the hash state, then the store's state (the rest of the text).
std::string EncodeUploadSessionState(const UploadSessionState& state) {
  std::string out;
  if (!state.committing.empty()) out += std::string(kCommitting) + state.committing + "\n";
  out += state.hash;
  out += '\n';
  out += state.store;
  return out;
}

UploadSessionState DecodeUploadSessionState(const std::string& text) {
  UploadSessionState state;
  std::string_view rest = text;
  if (rest.starts_with(kCommitting)) {
    size_t newline = rest.find('\n');
    if (newline == std::string_view::npos) return {};
    state.committing = std::string(rest.substr(kCommitting.size(), newline - kCommitting.size()));
    rest.remove_prefix(newline + 1);
  }
  size_t newline = rest.find('\n');
  if (newline == std::string_view::npos) return {};
  state.hash = std::string(rest.substr(0, newline));
  state.store = std::string(rest.substr(newline + 1));
  return state;
}

}  // namespace kura::registry
