// A tiny OCI image written by hand (one uncompressed layer holding one file), so the lab can
// push and pull a real image without any network or image tooling.
#pragma once

#include <string>

namespace kura::lab {

// Writes an OCI image layout at `dir` (created) with the image tagged `tag`; the layer holds
// /hello.txt with `text`. Throws std::runtime_error on I/O errors.
void WriteOciLayout(const std::string& dir, const std::string& tag, const std::string& text);

// A ustar archive holding one regular file. Exposed for tests.
std::string TarOneFile(const std::string& name, const std::string& content);

}  // namespace kura::lab
