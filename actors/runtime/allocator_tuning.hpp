#pragma once

// glibc's malloc, tuned for an actor runtime (tuttid and tutti-bench call
// tune_allocator first thing in main).
//
// Actors hand messages across threads: a worker allocates, another frees. Each
// thread keeps a small cache of freed blocks per size (tcache, 7 blocks by
// default); a free that finds it full goes to the arena the block came from and
// takes that arena's lock, which the other worker often holds, and the waiting
// core idles. A cache of 4,096 blocks per size keeps most frees thread-local
// (docs/benchmarks.md, "Runtime tuning", has the figures).
//
// glibc reads that setting only from GLIBC_TUNABLES when a program starts, so
// the program runs itself again (same pid, same arguments) with it added, and
// then puts the environment back as it was: children (processes the process
// driver runs) inherit the user's environment, not ours.

#include <optional>
#include <string>

namespace tutti::actors {

/// Freed blocks each thread keeps per size class.
constexpr int malloc_tcache_count = 4096;

/// The GLIBC_TUNABLES value to run with, given the current one (null: unset),
/// or nothing when the current one already chooses glibc.malloc.tcache_count
/// (the user's choice wins).
std::optional<std::string> tunables_with_tcache(const char* current);

/// Runs this program again with tunables_with_tcache, once. Returns when there
/// is nothing to do: already tuned (then it restores the environment),
/// TUTTI_MALLOC_TUNING=off, the user chose tcache_count, or the exec failed (the
/// program then runs with glibc's defaults). Call it before any thread starts.
void tune_allocator(char** argv);

/// Whether tune_allocator found this process running with its tunables.
bool allocator_tuned();

/// How malloc is set up in this process, for --version: "malloc tcache_count=4096",
/// "malloc as GLIBC_TUNABLES says" or "malloc with glibc's defaults".
std::string allocator_summary();

} // namespace tutti::actors
