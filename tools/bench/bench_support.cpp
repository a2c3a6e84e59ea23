#include "tools/bench/bench_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
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

bool apply_when_ready(cli::client& c, const std::string& file, const std::string& text) {
  auto deadline = clock::now() + 10s;
  while (true) {
    auto r = c.apply(file, text, false);
    if (r && r->errors.empty())
      return true;
    bool starting = !r && r.error().code == cli::failure_code{protocol::error_code::unavailable};
    if (!starting || clock::now() >= deadline) {
      std::fprintf(stderr, "tutti-bench: apply of %s failed: %s\n", file.c_str(),
                   !r ? r.error().message.c_str() : r->errors.front().message.c_str());
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
}

bool http_ok(uint16_t port, int timeout_s) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
    std::string req = "GET /index.html HTTP/1.0\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[512];
      ssize_t n = 0;
      while ((n = ::read(fd, buf, sizeof(buf))) > 0)
        answer.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return answer.rfind("HTTP/1.0 200", 0) == 0 || answer.rfind("HTTP/1.1 200", 0) == 0;
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

bool measure_heals(cli::client& c, const std::string& service, int kills,
                   const std::function<bool(const protocol::replica_status&)>& kill,
                   std::vector<double>& heals) {
  for (int i = 0; i < kills; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds{1100});
    auto rs = c.get_replicas(service);
    if (!rs || rs->empty())
      return false;
    auto victim = (*rs)[static_cast<size_t>(i) % rs->size()];
    auto t = wall_ms();
    if (!kill(victim)) {
      std::fprintf(stderr, "tutti-bench: cannot kill %s\n", victim.id.c_str());
      return false;
    }
    std::vector<protocol::replica_status> now;
    bool ok = wait_replicas(c, service, [&](auto& rs) {
      now = rs;
      for (auto& r : rs)
        if (r.id == victim.id)
          return is_running(r) && r.pid > 0 && r.pid != victim.pid;
      return false;
    });
    if (!ok) {
      std::fprintf(stderr, "tutti-bench: %s was not replaced\n", victim.id.c_str());
      return false;
    }
    heals.push_back(static_cast<double>(running_since(now, victim.id) - t));
    std::printf("  kill %2d: %s running again in %.1f ms\n", i + 1, victim.id.c_str(),
                heals.back());
  }
  return true;
}

bool measure_singles(cli::client& c, const std::string& service, int replicas, int samples,
                     const std::function<double(int)>& baseline,
                     const std::function<void(const std::string&)>& settle,
                     std::vector<double>& singles, std::vector<double>& baselines) {
  auto extra = service + "-" + std::to_string(replicas);
  for (int i = 0; i < samples; ++i) {
    auto own = baseline(i);
    if (own <= 0)
      return false;
    baselines.push_back(own);
    auto t = wall_ms();
    if (!c.scale(service, replicas + 1))
      return false;
    std::vector<protocol::replica_status> now;
    bool ok = wait_replicas(c, service, [&](auto& rs) {
      now = rs;
      return std::any_of(rs.begin(), rs.end(),
                         [&](auto& r) { return r.id == extra && is_running(r); });
    });
    if (!ok) {
      std::fprintf(stderr, "tutti-bench: %s did not start\n", extra.c_str());
      return false;
    }
    singles.push_back(static_cast<double>(running_since(now, extra) - t));
    if (!c.scale(service, replicas) || !wait_replicas(c, service, [&](auto& rs) {
          return std::none_of(rs.begin(), rs.end(), [&](auto& r) { return r.id == extra; });
        }))
      return false;
    settle(extra);
  }
  return true;
}

} // namespace tutti::bench
