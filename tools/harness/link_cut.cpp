#include "tools/harness/link_cut.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace tutti::harness {

namespace {

bool iptables(const char* op, const std::string& which, const std::string& port) {
  auto cmd = std::string{"iptables -w "} + op + " INPUT -i lo -p tcp " + which + " " + port +
             " -j DROP 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}

} // namespace

bool can_cut_links() {
  return ::geteuid() == 0 && std::system("iptables -w -L INPUT -n >/dev/null 2>&1") == 0;
}

link_cut::link_cut(int pid, uint16_t listen)
  : ports_(connection_ports(pid, listen)), syn_("--syn --dport " + std::to_string(listen)) {
  ok_ = !ports_.empty();
  for (auto& p : ports_)
    ok_ = iptables("-I", "--sport", p) && iptables("-I", "--dport", p) && ok_;
  ok_ = ok_ && iptables("-I", syn_, "");
}

link_cut::~link_cut() {
  while (iptables("-D", syn_, "")) {
  }
  for (auto& p : ports_) {
    while (iptables("-D", "--sport", p)) {
    }
    while (iptables("-D", "--dport", p)) {
    }
  }
}

std::vector<std::string> connection_ports(int pid, uint16_t port) {
  std::vector<std::string> out;
  auto cmd = "ss -Htnp state established '( dport = :" + std::to_string(port) + " )' 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p)
    return out;
  char line[1024];
  auto needle = "pid=" + std::to_string(pid) + ",";
  while (std::fgets(line, sizeof(line), p)) {
    std::string text{line};
    if (text.find(needle) == std::string::npos)
      continue;
    std::istringstream in{text};
    std::string recv, send, local;
    in >> recv >> send >> local;
    out.push_back(local.substr(local.rfind(':') + 1));
  }
  ::pclose(p);
  return out;
}

int rules_mentioning(uint16_t port) {
  FILE* p = ::popen("iptables -w -S INPUT 2>/dev/null", "r");
  if (!p)
    return 0;
  int n = 0;
  char line[1024];
  auto needle = " " + std::to_string(port) + " ";
  while (std::fgets(line, sizeof(line), p))
    n += std::string{line}.find(needle) != std::string::npos ? 1 : 0;
  ::pclose(p);
  return n;
}

} // namespace tutti::harness
