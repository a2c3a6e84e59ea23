#include "tools/bench/bench_support.hpp"

#include <algorithm>
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

std::unique_ptr<cli::client> connect_client(const daemon_process& daemon) {
  auto deadline = clock::now() + 10s;
  while (clock::now() < deadline) {
    auto x = cli::client::connect(daemon.api(), 2s);
    if (x && x.value()->version())
      return std::move(*x);
    std::this_thread::sleep_for(10ms);
  }
  return nullptr;
}

} // namespace tutti::bench
