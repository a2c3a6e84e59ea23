#include "tools/chaos/replica_audit.hpp"

#include <signal.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace tutti::chaos {

namespace {

/// NAME=VALUE entries of /proc/PID/environ; empty when it is gone or unreadable.
std::map<std::string, std::string> environment_of(const std::string& pid) {
  std::ifstream in{"/proc/" + pid + "/environ", std::ios::binary};
  std::string all{std::istreambuf_iterator<char>{in}, {}};
  std::map<std::string, std::string> out;
  size_t begin = 0;
  while (begin < all.size()) {
    auto end = all.find('\0', begin);
    if (end == std::string::npos)
      end = all.size();
    auto entry = all.substr(begin, end - begin);
    auto eq = entry.find('=');
    if (eq != std::string::npos && entry.rfind("CHAOS_", 0) == 0)
      out[entry.substr(0, eq)] = entry.substr(eq + 1);
    begin = end + 1;
  }
  return out;
}

/// A zombie has exited; its parent (a node agent) will reap it.
bool is_zombie(const std::string& pid) {
  std::ifstream in{"/proc/" + pid + "/stat"};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

} // namespace

std::map<std::string, std::vector<int>> live_replicas(const std::string& run) {
  std::map<std::string, std::vector<int>> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator i{"/proc", ec}, end; !ec && i != end; i.increment(ec)) {
    auto name = i->path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0])))
      continue;
    auto env = environment_of(name);
    auto r = env.find("CHAOS_RUN");
    if (r == env.end() || r->second != run || is_zombie(name))
      continue;
    out[env["CHAOS_SERVICE"]].push_back(std::stoi(name));
  }
  return out;
}

int kill_leftovers(const std::string& run) {
  int n = 0;
  for (auto& [service, pids] : live_replicas(run))
    for (int pid : pids) {
      ::kill(pid, SIGKILL);
      ++n;
    }
  return n;
}

} // namespace tutti::chaos
