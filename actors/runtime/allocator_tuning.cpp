#include "actors/runtime/allocator_tuning.hpp"

#include <cstdlib>
#include <cstring>

#include <unistd.h>

namespace tutti::actors {

namespace {

/// Set for the run of the program with our tunables: "=" and then the
/// GLIBC_TUNABLES the user had ("=" alone: none).
constexpr const char* marker = "TUTTI_MALLOC_TUNED";

bool tuned = false;

/// Restores the user's GLIBC_TUNABLES from the marker, and drops the marker.
void restore_environment(const char* saved) {
  if (std::strcmp(saved, "=") == 0)
    ::unsetenv("GLIBC_TUNABLES");
  else
    ::setenv("GLIBC_TUNABLES", saved + 1, 1);
  ::unsetenv(marker);
}

} // namespace

std::optional<std::string> tunables_with_tcache(const char* current) {
  std::string ours = "glibc.malloc.tcache_count=" + std::to_string(malloc_tcache_count);
  if (current == nullptr || *current == '\0')
    return ours;
  std::string text{current};
  // Entries are NAME=VALUE separated by ':'.
  size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(':', start);
    auto entry = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (entry.rfind("glibc.malloc.tcache_count=", 0) == 0)
      return std::nullopt;
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  return text + ":" + ours;
}

void tune_allocator(char** argv) {
  if (const char* saved = std::getenv(marker)) {
    // `saved` points into the environment, which restore_environment changes.
    std::string copy{saved};
    restore_environment(copy.c_str());
    tuned = true;
    return;
  }
  if (const char* off = std::getenv("TUTTI_MALLOC_TUNING"); off && std::strcmp(off, "off") == 0)
    return;
  const char* current = std::getenv("GLIBC_TUNABLES");
  auto value = tunables_with_tcache(current);
  if (!value)
    return;
  // An empty GLIBC_TUNABLES is restored as none: glibc reads both alike.
  std::string saved = std::string{"="} + (current ? current : "");
  ::setenv(marker, saved.c_str(), 1);
  ::setenv("GLIBC_TUNABLES", value->c_str(), 1);
  ::execv("/proc/self/exe", argv);
  // Still here: the exec failed (no /proc?). Run as we are.
  restore_environment(saved.c_str());
}

bool allocator_tuned() {
  return tuned;
}

std::string allocator_summary() {
  if (tuned)
    return "malloc tcache_count=" + std::to_string(malloc_tcache_count);
  if (!tunables_with_tcache(std::getenv("GLIBC_TUNABLES")))
    return "malloc as GLIBC_TUNABLES says";
  return "malloc with glibc's defaults";
}

} // namespace tutti::actors
