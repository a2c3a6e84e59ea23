// tutti-bench api: what authentication and authorization cost a client of the
// API once it is connected. One `tuttid control` (no node: the calls reach the
// cluster actor and the store, nothing is placed) is asked getServices and an
// apply that changes nothing, by several clients at once for a few seconds,
// over plain TCP with the admin token, over TLS with a bearer token, and over
// TLS with a client certificate. Prints calls per second and p50/p99 per mode.

#include "tools/bench/benches.hpp"
#include "tools/bench/bench_support.hpp"
#include "tools/harness/daemon_process.hpp"
#include "tools/tutti/client.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

namespace tutti::bench {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct api_options {
  int clients = 4;
  double seconds = 5;
};

const std::string spec = "kind: Service\nname: web\nreplicas: 1\ndriver: sim\ncommand: [/bin/true]\n";

/// A CA, the API's certificate (DNS:127.0.0.1) and a user's client
/// certificate, made with the openssl binary in `dir`.
struct certificates {
  std::string dir;
  std::string ca() const { return dir + "/ca.crt"; }
  std::string users_ca() const { return dir + "/users-ca.crt"; }
  std::string api_cert() const { return dir + "/api.crt"; }
  std::string api_key() const { return dir + "/api.key"; }
  std::string user_cert() const { return dir + "/user.crt"; }
  std::string user_key() const { return dir + "/user.key"; }

  bool make() const {
    auto q = [](const std::string& s) { return "'" + s + "'"; };
    auto key = std::string{"-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"};
    std::string script =
        "set -e; cd " + q(dir) + "; exec 2>openssl.log >&2;" +
        "openssl req -x509 " + key + " -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca;" +
        "openssl req -x509 " + key +
        " -keyout users-ca.key -out users-ca.crt -days 2 -subj /CN=bench-users;" +
        "echo subjectAltName=DNS:127.0.0.1,IP:127.0.0.1 > api.ext;" +
        "openssl req " + key + " -keyout api.key -out api.csr -subj /CN=api;" +
        "openssl x509 -req -in api.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile api.ext -out api.crt;" +
        "openssl req " + key + " -keyout user.key -out user.csr -subj /CN=bench/O=tutti:admin;" +
        "openssl x509 -req -in user.csr -CA users-ca.crt -CAkey users-ca.key -CAcreateserial "
        "-days 2 -out user.crt";
    return std::system(("sh -c " + q(script)).c_str()) == 0;
  }
};

struct mode {
  const char* name;
  cli::credentials creds;
};

struct figures {
  double calls_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  int failed = 0;
};

/// `clients` threads, each with its own connection, calling `call` until
/// `seconds` pass (after one unmeasured call each).
template <class Call>
figures measure(const std::string& api, const cli::credentials& creds, const api_options& o,
                Call call) {
  std::mutex mtx;
  std::vector<double> latencies;
  std::atomic<int> failed{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  auto start = clock::now();
  auto end = start;
  {
    std::atomic<bool> go{false};
    for (int i = 0; i < o.clients; ++i)
      threads.emplace_back([&] {
        auto c = cli::client::connect(api, 10s, creds);
        if (!c || !call(**c)) {
          ++failed;
          ++ready;
          return;
        }
        ++ready;
        while (!go)
          std::this_thread::yield();
        std::vector<double> mine;
        auto until = clock::now() + std::chrono::duration<double>(o.seconds);
        while (clock::now() < until) {
          auto t = clock::now();
          if (!call(**c))
            ++failed;
          mine.push_back(ms_since(t));
        }
        std::lock_guard<std::mutex> guard{mtx};
        latencies.insert(latencies.end(), mine.begin(), mine.end());
      });
    while (ready < o.clients)
      std::this_thread::sleep_for(1ms);
    start = clock::now();
    go = true;
    for (auto& t : threads)
      t.join();
    end = clock::now();
  }
  figures out;
  out.calls_per_s = latencies.size() / std::chrono::duration<double>(end - start).count();
  out.p50_ms = percentile(latencies, 0.5);
  out.p99_ms = percentile(latencies, 0.99);
  out.failed = failed;
  return out;
}

int run_api(const api_options& o) {
  certificates certs{std::filesystem::temp_directory_path() /
                     ("tutti-bench-api-" + std::to_string(::getpid()))};
  std::filesystem::create_directories(certs.dir);
  struct cleanup {
    std::string dir;
    ~cleanup() { std::filesystem::remove_all(dir); }
  } cleanup_certs{certs.dir};
  if (!certs.make()) {
    std::fprintf(stderr, "tutti-bench api: openssl failed (see %s/openssl.log); "
                         "tools/install-deps.sh installs it\n", certs.dir.c_str());
    return 1;
  }
  auto listen = [] {
    return std::vector<std::string>{"--listen", "127.0.0.1:" + std::to_string(free_port()),
                                    "--join-token", "bench"};
  };
  daemon_process plain{daemon_process::mode{"control"}, listen()};
  auto tls_args = listen();
  tls_args.insert(tls_args.end(), {"--api-cert", certs.api_cert(), "--api-key", certs.api_key(),
                                   "--api-client-ca", certs.users_ca()});
  daemon_process tls{daemon_process::mode{"control", false}, tls_args};

  cli::credentials admin{harness::admin_token(), {}, {}, {}, {}};
  auto tls_admin = admin;
  tls_admin.ca_file = certs.ca();
  // One client at a time on this thread: each runs a KJ event loop.
  auto setup_failed = [&](const char* what) {
    std::fprintf(stderr, "tutti-bench api: %s (logs in %s, %s)\n", what, plain.data_dir().c_str(),
                 tls.data_dir().c_str());
    return 1;
  };
  {
    auto c = connect_client(plain);
    if (!c || !apply_when_ready(*c, "web.yaml", spec))
      return setup_failed("the plain control process did not take the spec");
  }
  std::string bearer_secret;
  {
    std::unique_ptr<cli::client> c;
    for (auto deadline = clock::now() + 10s; !c && clock::now() < deadline;) {
      auto x = cli::client::connect(tls.api(), 2s, tls_admin);
      if (x && (*x)->version())
        c = std::move(*x);
      else
        std::this_thread::sleep_for(20ms);
    }
    // The spec first: once it is taken, the control plane is up for the token too.
    if (!c || !apply_when_ready(*c, "web.yaml", spec))
      return setup_failed("the TLS control process did not answer or take the spec");
    auto token = c->create_token("bench", protocol::access_role::deployer, 0ms);
    if (!token)
      return setup_failed(("the TLS control process made no token: " + token.error().message)
                              .c_str());
    bearer_secret = token->first;
  }
  auto bearer = tls_admin;
  bearer.token = bearer_secret;
  auto certificate = tls_admin;
  certificate.token.clear();
  certificate.cert_file = certs.user_cert();
  certificate.key_file = certs.user_key();
  struct target {
    const char* mode;
    std::string api;
    cli::credentials creds;
  };
  const target targets[] = {{"plain TCP, admin token", plain.api(), admin},
                            {"TLS, bearer token", tls.api(), bearer},
                            {"TLS, client certificate", tls.api(), certificate}};
  std::printf("tutti-bench api: %d clients, %.0f s per figure, one tuttid control each mode\n",
              o.clients, o.seconds);
  std::printf("%-26s %-12s %12s %9s %9s %7s\n", "mode", "call", "calls/s", "p50 ms", "p99 ms",
              "failed");
  int failures = 0;
  for (const auto& t : targets) {
    auto get = measure(t.api, t.creds, o, [](cli::client& c) { return bool(c.get_services()); });
    std::printf("%-26s %-12s %12.0f %9.3f %9.3f %7d\n", t.mode, "getServices", get.calls_per_s,
                get.p50_ms, get.p99_ms, get.failed);
    auto apply = measure(t.api, t.creds, o, [](cli::client& c) {
      auto r = c.apply("web.yaml", spec, false);
      return r && r->errors.empty();
    });
    std::printf("%-26s %-12s %12.0f %9.3f %9.3f %7d\n", t.mode, "apply", apply.calls_per_s,
                apply.p50_ms, apply.p99_ms, apply.failed);
    failures += get.failed + apply.failed;
  }
  return failures == 0 ? 0 : 1;
}

} // namespace

void add_api_bench(CLI::App& app) {
  auto opts = std::make_shared<api_options>();
  auto* cmd = app.add_subcommand(
      "api", "Calls per second and latency of getServices and apply: plain TCP with a token, "
             "TLS with a bearer token, TLS with a client certificate");
  cmd->add_option("--clients", opts->clients, "Clients calling at once, each on its own connection")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--seconds", opts->seconds, "How long each figure is measured")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->callback([opts] { std::exit(run_api(*opts)); });
}

} // namespace tutti::bench
