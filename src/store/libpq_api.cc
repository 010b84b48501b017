#include "store/libpq_api.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "store/meta_store.h"

namespace kura::store {
namespace {

// Loads the library and every function, or throws. Never unloaded: connections may outlive
// any one store.
LibPq Load() {
  void* handle = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    throw StoreError(std::string("cannot load libpq.so.5: ") + (why ? why : "unknown error") +
                     " (install libpq5)");
  }
  LibPq api;
  std::string missing;
#define KURA_LIBPQ_LOOKUP(name)                                            \
  api.name = reinterpret_cast<decltype(api.name)>(::dlsym(handle, #name)); \
  if (!api.name) missing += (missing.empty() ? "" : ", ") + std::string(#name);
  KURA_LIBPQ_FUNCTIONS(KURA_LIBPQ_LOOKUP)
#undef KURA_LIBPQ_LOOKUP
  if (!missing.empty()) {
    ::dlclose(handle);
    throw StoreError("cannot load libpq.so.5: it lacks " + missing + " (libpq 12 or later needed)");
  }
  return api;
}

}  // namespace

const LibPq& Libpq() {
  static std::mutex mu;
  static LibPq api;
  static bool loaded = false;
  std::lock_guard lock(mu);
  if (!loaded) {
    api = Load();
    loaded = true;
  }
  return api;
}

}  // namespace kura::store
