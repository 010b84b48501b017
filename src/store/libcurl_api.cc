#include "store/libcurl_api.h"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>
#include <string>

namespace kura::store {
namespace {

constexpr const char* kLibrary = "libcurl.so.4";

[[noreturn]] void CannotLoad(const std::string& why) {
  throw std::runtime_error(std::string("cannot load ") + kLibrary + ": " + why +
                           " (install libcurl4: apt-get install libcurl4)");
}

// Sets `fn` to the library's `name`, typed as `fn` is.
template <typename Fn>
void Resolve(void* library, const char* name, Fn& fn) {
  dlerror();
  void* symbol = dlsym(library, name);
  if (symbol == nullptr) {
    const char* why = dlerror();
    CannotLoad(std::string("no symbol ") + name + (why ? std::string(": ") + why : ""));
  }
  fn = reinterpret_cast<Fn>(symbol);
}

LibcurlApi Load() {
  void* library = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    CannotLoad(why ? why : "dlopen failed");
  }
  LibcurlApi api{};
  try {
    Resolve(library, "curl_version_info", api.version_info);
    Resolve(library, "curl_easy_init", api.easy_init);
    Resolve(library, "curl_easy_cleanup", api.easy_cleanup);
    Resolve(library, "curl_easy_reset", api.easy_reset);
    Resolve(library, "curl_easy_setopt", api.easy_setopt);
    Resolve(library, "curl_easy_perform", api.easy_perform);
    Resolve(library, "curl_easy_getinfo", api.easy_getinfo);
    Resolve(library, "curl_easy_strerror", api.easy_strerror);
    Resolve(library, "curl_slist_append", api.slist_append);
    Resolve(library, "curl_slist_free_all", api.slist_free_all);
    decltype(&curl_global_init) global_init = nullptr;
    Resolve(library, "curl_global_init", global_init);

    const curl_version_info_data* version = api.version_info(CURLVERSION_NOW);
    if (version == nullptr || version->version_num < 0x074b00) {
      CannotLoad(std::string("version ") + (version ? version->version : "unknown") +
                 " is older than 7.75.0, the first with CURLOPT_AWS_SIGV4");
    }
    // Not thread-safe in libcurl before 7.84: done here, once, under Libcurl()'s lock.
    if (CURLcode rc = global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
      CannotLoad(std::string("curl_global_init: ") + api.easy_strerror(rc));
    }
  } catch (...) {
    dlclose(library);
    throw;
  }
  return api;
}

}  // namespace

const LibcurlApi& Libcurl() {
  static std::mutex mutex;
  static LibcurlApi api{};
  static bool loaded = false;
  std::lock_guard lock(mutex);
  if (!loaded) {
    api = Load();
    loaded = true;
  }
  return api;
}

}  // namespace kura::store
