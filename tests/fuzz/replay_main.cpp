// A main for the normal (gcc) build: runs a fuzz target's LLVMFuzzerTestOneInput
// once over every file of the directories (or files) given, so CTest replays the
// corpora without libFuzzer. A crash or failed check aborts, which fails the test.

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::filesystem::path> inputs_of(const std::filesystem::path& arg) {
  std::vector<std::filesystem::path> out;
  if (std::filesystem::is_directory(arg)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(arg))
      if (entry.is_regular_file())
        out.push_back(entry.path());
  } else {
    out.push_back(arg);
  }
  // A fixed order, so a failure names the same input on every run.
  std::sort(out.begin(), out.end());
  return out;
}

} // namespace

int main(int argc, char** argv) {
  // No input needs more: past it an allocation fails (std::bad_alloc, an abort),
  // so an input that makes the code take gigabytes fails here as in libFuzzer
  // (-rss_limit_mb) instead of passing slowly.
#ifndef TUTTI_REPLAY_ADDRESS_SPACE_MB
#define TUTTI_REPLAY_ADDRESS_SPACE_MB 1024
#endif
  // Not under a sanitizer: its shadow memory alone is terabytes of address space.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  constexpr rlim_t max_address_space = rlim_t{TUTTI_REPLAY_ADDRESS_SPACE_MB} << 20;
  rlimit limit{max_address_space, max_address_space};
  setrlimit(RLIMIT_AS, &limit);
#endif
  size_t replayed = 0;
  for (int i = 1; i < argc; ++i) {
    for (const auto& path : inputs_of(argv[i])) {
      std::ifstream in{path, std::ios::binary};
      if (!in) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        return 1;
      }
      std::string bytes{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
      // Named before the run: an abort leaves this line as the last one.
      std::fprintf(stderr, "replaying %s\n", path.c_str());
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      ++replayed;
    }
  }
  // An empty or misnamed corpus directory would pass silently otherwise.
  if (replayed == 0) {
    std::fprintf(stderr, "no inputs found in the arguments\n");
    return 1;
  }
  std::printf("replayed %zu inputs\n", replayed);
  return 0;
}
