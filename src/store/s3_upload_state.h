// The state an S3 upload records with its session (blob_store.h: opaque to everyone but the
// store): the size of its parts and its multipart upload.
//   ""                                no multipart upload yet: the bytes are a tail alone, and
//                                     the parts will be of S3BlobStore::kPartBytes
//   "part-bytes=<n> <multipart id>"   parts of n bytes
//   "<multipart id>"                  parts of S3BlobStore::kLegacyPartBytes (what kura wrote
//                                     before the size was recorded: an upload begun then goes
//                                     on as it began)
// The size is the upload's for its whole life, so that nodes of two versions never cut one
// upload two ways. S3 upload ids hold no space.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/s3_blob_store.h"

namespace kura::store {

struct S3UploadState {
  uint64_t part_bytes = S3BlobStore::kPartBytes;
  std::string multipart;  // empty: none yet

  friend bool operator==(const S3UploadState&, const S3UploadState&) = default;
};

// "" when there is no multipart upload yet (the part size is then kPartBytes's, implied).
std::string EncodeS3UploadState(const S3UploadState& state);

// The state `text` describes, or nullopt when it is none of the three forms (a size that is
// not a decimal number of kMinPartBytes to kMaxPartBytes, or no multipart id after it).
std::optional<S3UploadState> ParseS3UploadState(std::string_view text);

}  // namespace kura::store
