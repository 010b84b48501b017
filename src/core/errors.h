// The error codes of the OCI distribution-spec ("Error Codes") and the one place that turns them
// into an HTTP status and the JSON body {"errors":[{"code","message","detail"}]}.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace kura::core {

enum class ErrorCode {
  kBlobUnknown,
  kBlobUploadInvalid,
  kBlobUploadUnknown,
  kDigestInvalid,
  kManifestBlobUnknown,
  kManifestInvalid,
  kManifestUnknown,
  kNameInvalid,
  kNameUnknown,
  kPaginationNumberInvalid,
  kSizeInvalid,
  kUnauthorized,
  kDenied,
  kUnsupported,
  kTooManyRequests,
  kUnknown,  // the server failed (storage); distribution's UNKNOWN, 500
};

// The spec's name of the code, e.g. "BLOB_UNKNOWN".
std::string_view ErrorCodeName(ErrorCode code);

// The status the spec pairs with the code when nothing more specific applies.
int DefaultStatus(ErrorCode code);

// An error answered to a client. `status` is DefaultStatus(code) unless the situation calls for
// another one the spec names (416 for a bad range, 413 for an oversized manifest).
struct RegistryError {
  ErrorCode code;
  std::string message;
  std::string detail_json;  // a JSON value, or empty for none
  int status;

  RegistryError(ErrorCode c, std::string msg, std::string detail = {}, int st = 0)
      : code(c), message(std::move(msg)), detail_json(std::move(detail)),
        status(st ? st : DefaultStatus(c)) {}
};

// The JSON body for one error. Never throws: bytes of the message or detail that are not UTF-8
// (a client's "%ff" echoed back) become U+FFFD.
std::string ErrorBody(const RegistryError& error);

// A detail object of string fields, e.g. DetailJson({{"digest", d}}) gives {"digest":"..."}, with
// bytes that are not UTF-8 replaced by U+FFFD.
std::string DetailJson(std::initializer_list<std::pair<std::string_view, std::string_view>> fields);

}  // namespace kura::core
