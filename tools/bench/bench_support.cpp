#include "tools/bench/bench_support.hpp"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

namespace tutti::bench {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double ms_since(clock::time_point t) {
  return std::chrono::duration<double, std::milli>(clock::now() - t).count();
}

double percentile(std::vector<double> xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  return xs[std::min(xs.size() - 1, static_cast<size_t>(q * (xs.size() - 1) + 0.5))];
}

double proc_status_bytes(int pid, const std::string& key) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0)
      return std::stod(line.substr(key.size() + 1)) * 1024;
  return 0;
}

double proc_cpu_seconds(int pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text{std::istreambuf_iterator<char>{in}, {}};
  auto paren = text.rfind(')');
  if (paren == std::string::npos)
    return 0;
  std::istringstream fields{text.substr(paren + 2)};
  std::string x;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> x; ++i)
    if (i == 14 || i == 15) // utime, stime
      ticks += std::stod(x);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::unique_ptr<cli::client> connect_client(const daemon_process& daemon) {
  auto deadline = clock::now() + 10s;
  while (clock::now() < deadline) {
    auto x = cli::client::connect(daemon.api(), 2s,
                                  cli::credentials{harness::admin_token(), {}, {}, {}, {}});
    if (x && x.value()->version())
      return std::move(*x);
    std::this_thread::sleep_for(10ms);
  }
  return nullptr;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_running(const protocol::replica_status& r) {
  return r.state == protocol::replica_state::running && !r.runtime_id.empty();
}

int64_t running_since(const std::vector<protocol::replica_status>& rs, const std::string& id) {
  for (auto& r : rs)
    if (r.id == id)
      return r.since_ms;
  return 0;
}

} // namespace tutti::bench
