#include "core/errors.h"

#include <nlohmann/json.hpp>

namespace kura::core {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBlobUnknown: return "BLOB_UNKNOWN";
    case ErrorCode::kBlobUploadInvalid: return "BLOB_UPLOAD_INVALID";
    case ErrorCode::kBlobUploadUnknown: return "BLOB_UPLOAD_UNKNOWN";
    case ErrorCode::kDigestInvalid: return "DIGEST_INVALID";
    case ErrorCode::kManifestBlobUnknown: return "MANIFEST_BLOB_UNKNOWN";
    case ErrorCode::kManifestInvalid: return "MANIFEST_INVALID";
    case ErrorCode::kManifestUnknown: return "MANIFEST_UNKNOWN";
    case ErrorCode::kNameInvalid: return "NAME_INVALID";
    case ErrorCode::kNameUnknown: return "NAME_UNKNOWN";
    case ErrorCode::kPaginationNumberInvalid: return "PAGINATION_NUMBER_INVALID";
    case ErrorCode::kSizeInvalid: return "SIZE_INVALID";
    case ErrorCode::kUnauthorized: return "UNAUTHORIZED";
    case ErrorCode::kDenied: return "DENIED";
    case ErrorCode::kUnsupported: return "UNSUPPORTED";
    case ErrorCode::kTooManyRequests: return "TOOMANYREQUESTS";
    case ErrorCode::kUnknown: return "UNKNOWN";
  }
  return "UNKNOWN";
}

int DefaultStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBlobUnknown:
    case ErrorCode::kBlobUploadUnknown:
    case ErrorCode::kManifestUnknown:
    case ErrorCode::kNameUnknown:
      return 404;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kDenied: return 403;
    case ErrorCode::kUnsupported: return 405;
    case ErrorCode::kTooManyRequests: return 429;
    case ErrorCode::kUnknown: return 500;
    default: return 400;
  }
}

std::string ErrorBody(const RegistryError& error) {
  nlohmann::json e = {{"code", ErrorCodeName(error.code)}, {"message", error.message}};
  if (!error.detail_json.empty()) {
    e["detail"] = nlohmann::json::parse(error.detail_json, nullptr, /*allow_exceptions=*/false);
  }
  return nlohmann::json{{"errors", nlohmann::json::array({e})}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string DetailJson(
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  nlohmann::json detail = nlohmann::json::object();
  for (const auto& [key, value] : fields) detail[std::string(key)] = std::string(value);
  return detail.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace kura::core
