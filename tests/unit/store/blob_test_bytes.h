// What the S3 store's tests write and read back: bytes that differ by seed, an upload appended
// whole, a blob read whole.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "store/blob_store.h"

namespace kura::testing {

// `n` bytes of a pseudo-random sequence of `seed`: two seeds give two blobs.
inline std::string TestBytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// Appends `data` to upload `id` (holding `offset` bytes as `state` describes) as fast as the
// appender takes it; returns the new state.
inline std::string AppendAll(store::BlobStore& store, const std::string& id, uint64_t offset,
                             const std::string& state, std::string_view data) {
  auto appender = store.Append(id, offset, state);
  while (!data.empty()) {
    std::span<char> buf = appender->NextBuffer();
    size_t n = std::min(buf.size(), data.size());
    std::copy_n(data.data(), n, buf.data());
    appender->Submit(n);
    data.remove_prefix(n);
  }
  return appender->Finish();
}

// The blob's bytes, as many as its reader gives before it returns 0; "(none)" when there is no
// such blob.
inline std::string ReadBlob(store::BlobStore& store, const core::Digest& digest) {
  std::unique_ptr<store::BlobReader> r = store.Open(digest);
  if (!r) return "(none)";
  std::string out(r->size(), '\0');
  for (uint64_t at = 0; at < out.size();) {
    size_t n = r->ReadAt(at, out.data() + at, out.size() - at);
    if (n == 0) {
      out.resize(at);
      break;
    }
    at += n;
  }
  return out;
}

}  // namespace kura::testing
