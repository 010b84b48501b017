// libFuzzer target: the S3 upload state parser (store/s3_upload_state.h) must never crash, must
// hand out only part sizes S3 takes, and must read back whatever the encoder writes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "store/s3_upload_state.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kura::store::S3BlobStore;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::optional<kura::store::S3UploadState> state = kura::store::ParseS3UploadState(text);
  if (!state) return 0;
  Check(state->part_bytes >= S3BlobStore::kMinPartBytes);
  Check(state->part_bytes <= S3BlobStore::kMaxPartBytes);
  Check(state->multipart.empty() == text.empty());
  Check(kura::store::ParseS3UploadState(kura::store::EncodeS3UploadState(*state)) == state);
  return 0;
}
