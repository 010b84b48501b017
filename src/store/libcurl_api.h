// libcurl, loaded at run time (dlopen) the first time something asks for it.
//
// Why not link it: kura links OpenSSL statically (KURA_STATIC_DEPS), and Debian's libcurl.so.4
// needs the shared libssl.so.3 and libcrypto.so.3. Linking libcurl would map a second OpenSSL
// (and libcurl's own dependencies: nghttp2, libssh2, LDAP, Kerberos...) into every kura process,
// resident memory the embedded default pays for although it never talks to S3. Loaded with
// RTLD_LOCAL, libcurl and its OpenSSL stay private to the S3 client: the binary exports none of
// its static OpenSSL symbols, so the two copies never bind to each other's functions.
#pragma once

#include <curl/curl.h>

namespace kura::store {

// The libcurl functions the S3 client calls, typed from <curl/curl.h>.
struct LibcurlApi {
  decltype(&curl_version_info) version_info;
  decltype(&curl_easy_init) easy_init;
  decltype(&curl_easy_cleanup) easy_cleanup;
  decltype(&curl_easy_reset) easy_reset;
  decltype(&curl_easy_setopt) easy_setopt;  // variadic: pass exactly long, curl_off_t or a pointer
  decltype(&curl_easy_perform) easy_perform;
  decltype(&curl_easy_getinfo) easy_getinfo;
  decltype(&curl_easy_strerror) easy_strerror;
  decltype(&curl_slist_append) slist_append;
  decltype(&curl_slist_free_all) slist_free_all;
};

// Loads libcurl.so.4 and runs curl_global_init once, on the first call; later calls return the
// same table. Throws std::runtime_error("cannot load libcurl.so.4: <why>") when the library or one
// of its functions is missing, or when it is older than 7.75 (no CURLOPT_AWS_SIGV4); a later call
// tries again. Thread-safe. The library stays loaded until the process exits.
const LibcurlApi& Libcurl();

}  // namespace kura::store
