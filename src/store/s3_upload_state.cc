#include "store/s3_upload_state.h"

#include <charconv>

namespace kura::store {

namespace {
constexpr std::string_view kPartBytesField = "part-bytes=";
}  // namespace

std::string EncodeS3UploadState(const S3UploadState& state) {
  if (state.multipart.empty()) return {};
  return std::string(kPartBytesField) + std::to_string(state.part_bytes) + " " + state.multipart;
}

std::optional<S3UploadState> ParseS3UploadState(std::string_view text) {
  S3UploadState state;
  if (text.empty()) return state;
  if (!text.starts_with(kPartBytesField)) {
    state.part_bytes = S3BlobStore::kLegacyPartBytes;
    state.multipart = std::string(text);
    return state;
  }
  text.remove_prefix(kPartBytesField.size());
  const size_t space = text.find(' ');
  if (space == std::string_view::npos || space + 1 == text.size()) return std::nullopt;
  const std::string_view number = text.substr(0, space);
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), state.part_bytes);
  if (ec != std::errc() || end != number.data() + number.size() ||
      state.part_bytes < S3BlobStore::kMinPartBytes ||
      state.part_bytes > S3BlobStore::kMaxPartBytes) {
    return std::nullopt;
  }
  state.multipart = std::string(text.substr(space + 1));
  return state;
}

}  // namespace kura::store
