#include "auth/htpasswd.h"

#include <openssl/evp.h>

#include <fstream>
#include <sstream>
#include <stdexcept>


namespace kura::auth {
HtpasswdFile::HtpasswdFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read htpasswd file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  Parse(ss.str(), path);
}

HtpasswdFile::HtpasswdFile(std::string_view contents, const std::string& origin) {
  Parse(contents, origin);
}

void HtpasswdFile::Parse(std::string_view contents, const std::string& origin) {
  int line_no = 0;
  while (!contents.empty()) {
    size_t nl = contents.find('\n');
    std::string_view line = contents.substr(0, nl);
    contents = nl == std::string_view::npos ? std::string_view() : contents.substr(nl + 1);
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string_view::npos || colon + 1 == line.size()) {
      throw std::runtime_error(origin + ":" + std::to_string(line_no) +
                               ": expected user:hash");
    }
    std::string_view hash = line.substr(colon + 1);
    if (hash[0] != '$') {
      throw std::runtime_error(origin + ":" + std::to_string(line_no) +
                               ": unsupported hash (use htpasswd -B for bcrypt)");
    }
    hashes_[std::string(line.substr(0, colon))] = std::string(hash);
  }
}

bool HtpasswdFile::Verify(std::string_view user, std::string_view password) const {
  auto it = hashes_.find(std::string(user));
  return it != hashes_.end() && verified_.Check(user, password, it->second);
}

std::optional<BasicCredentials> ParseBasicAuthorization(std::string_view header) {
  constexpr std::string_view kScheme = "Basic ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size() - 1; ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return std::nullopt;
    }
  }
  std::string_view b64 = header.substr(kScheme.size());
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  if (b64.empty() || b64.size() > 4096 || b64.size() % 4 != 0) return std::nullopt;
  std::string decoded(b64.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                          reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return std::nullopt;
  size_t pad = (b64.back() == '=') + (b64.size() > 1 && b64[b64.size() - 2] == '=');
  decoded.resize(static_cast<size_t>(n) - pad);
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

}  // namespace kura::auth
