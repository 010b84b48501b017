// Replays the fuzz corpus (tests/fuzz/corpus/<target>/: the seeds and every input that ever
// crashed a target) through each target in the ordinary build, so `make test` fails when a fixed
// crash comes back, with or without clang and libFuzzer. Each target's LLVMFuzzerTestOneInput is
// compiled under the name KuraFuzz_<target> (CMakeLists.txt); fuzz_targets.inc lists them.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#define KURA_FUZZ_TARGET(name) extern "C" int KuraFuzz_##name(const uint8_t*, size_t);
#include "fuzz_targets.inc"
#undef KURA_FUZZ_TARGET

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (a folder per target)\n", argv[0]);
    return 2;
  }
  std::map<std::string, int (*)(const uint8_t*, size_t)> targets;
#define KURA_FUZZ_TARGET(name) targets[#name] = KuraFuzz_##name;
#include "fuzz_targets.inc"
#undef KURA_FUZZ_TARGET
  namespace fs = std::filesystem;
  int inputs = 0;
  for (const auto& [name, run] : targets) {
    fs::path dir = fs::path(argv[1]) / name;
    if (!fs::is_directory(dir)) {
      std::fprintf(stderr, "no corpus for %s in %s\n", name.c_str(), dir.c_str());
      return 1;
    }
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_regular_file()) files.push_back(entry.path());
    }
    for (const fs::path& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), {});
      run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++inputs;
    }
    std::printf("%s: %zu inputs\n", name.c_str(), files.size());
  }
  std::printf("replayed %d inputs without a crash\n", inputs);
  return 0;
}
