#include "tools/harness/process_cut.hpp"

#include "tools/harness/link_cut.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace tutti::harness {

namespace {

/// Where cgroup v2 is mounted ("" when it is not).
std::string cgroup2_mount() {
  std::ifstream mounts{"/proc/mounts"};
  std::string dev, dir, type, rest;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest))
    if (type == "cgroup2")
      return dir;
  return "";
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out{path};
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

bool iptables(const std::string& op, const std::string& rule) {
  auto cmd = "iptables -w " + op + " " + rule + " 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}

} // namespace

bool can_cut_processes() {
  auto root = cgroup2_mount();
  if (::geteuid() != 0 || root.empty())
    return false;
  auto probe = root + "/tutti-cut-probe-" + std::to_string(::getpid());
  if (::mkdir(probe.c_str(), 0755) != 0)
    return false;
  auto rule = "OUTPUT -o lo -p tcp --dport 9 -m cgroup --path /" + probe.substr(root.size() + 1) +
              " -j DROP";
  bool ok = iptables("-t mangle -A", rule);
  if (ok)
    iptables("-t mangle -D", rule);
  // A process can be moved there (a container's cgroup tree may refuse it).
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  ok = ok && child > 0 && write_file(probe + "/cgroup.procs", std::to_string(child));
  if (child > 0) {
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
  }
  ::rmdir(probe.c_str());
  return ok;
}

process_cut::process_cut(int pid, std::vector<uint16_t> ports) : pid_(pid) {
  auto root = cgroup2_mount();
  if (root.empty() || ports.empty())
    return;
  cgroup_ = root + "/tutti-cut-" + std::to_string(pid);
  ::mkdir(cgroup_.c_str(), 0755);
  ok_ = write_file(cgroup_ + "/cgroup.procs", std::to_string(pid));
  std::string list;
  for (auto p : ports)
    list += (list.empty() ? "" : ",") + std::to_string(p);
  // Marked on the way out (OUTPUT knows the sender's cgroup), dropped on the
  // way in: a drop in OUTPUT would fail the sender's calls at once instead.
  auto mark = std::to_string(0x7a000000 | (pid & 0xffffff));
  rules_.push_back("-t mangle OUTPUT -o lo -p tcp -m multiport --dports " + list +
                   " -m cgroup --path /tutti-cut-" + std::to_string(pid) + " -j MARK --set-mark " +
                   mark);
  rules_.push_back("-t filter INPUT -i lo -p tcp -m mark --mark " + mark + " -j DROP");
  for (auto p : ports)
    for (const auto& local : connection_ports(pid, p)) {
      rules_.push_back("-t filter INPUT -i lo -p tcp --sport " + local + " -j DROP");
      rules_.push_back("-t filter INPUT -i lo -p tcp --dport " + local + " -j DROP");
    }
  for (const auto& r : rules_) {
    auto table = r.substr(0, r.find(' ', 3));
    ok_ = iptables(table + " -I", r.substr(table.size() + 1)) && ok_;
  }
}

process_cut::~process_cut() {
  for (const auto& r : rules_) {
    auto table = r.substr(0, r.find(' ', 3));
    while (iptables(table + " -D", r.substr(table.size() + 1))) {
    }
  }
  if (cgroup_.empty())
    return;
  auto root = cgroup_.substr(0, cgroup_.rfind('/'));
  if (::kill(pid_, 0) == 0)
    write_file(root + "/cgroup.procs", std::to_string(pid_));
  ::rmdir(cgroup_.c_str());
}

int process_cut_rules() {
  int n = 0;
  for (const char* cmd : {"iptables -w -t mangle -S OUTPUT 2>/dev/null",
                          "iptables -w -t filter -S INPUT 2>/dev/null"}) {
    FILE* p = ::popen(cmd, "r");
    if (!p)
      continue;
    char line[1024];
    while (std::fgets(line, sizeof(line), p)) {
      std::string text{line};
      n += text.find("tutti-cut-") != std::string::npos ||
                   text.find("--mark 0x7a") != std::string::npos
               ? 1
               : 0;
    }
    ::pclose(p);
  }
  return n;
}

} // namespace tutti::harness
