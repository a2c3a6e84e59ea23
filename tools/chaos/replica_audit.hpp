#pragma once

// Which replica processes of one chaos run are alive, found by the environment
// the run gives them (CHAOS_RUN, CHAOS_SERVICE), whichever node started them.

#include <map>
#include <string>
#include <vector>

namespace tutti::chaos {

/// service -> pids of live processes carrying CHAOS_RUN=`run`.
std::map<std::string, std::vector<int>> live_replicas(const std::string& run);

/// SIGKILLs every live process of `run`; returns how many there were.
int kill_leftovers(const std::string& run);

} // namespace tutti::chaos
