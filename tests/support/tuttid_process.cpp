#include "tests/support/tuttid_process.hpp"

#include "tests/support/net.hpp"
#include "tests/support/wait.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace tutti::tests::support {

namespace fs = std::filesystem;

namespace {

std::string read_proc(pid_t pid, const char* what) {
  return read_file("/proc/" + std::to_string(pid) + "/" + what);
}

} // namespace

std::optional<unsigned long long> process_start_ticks(pid_t pid) {
  auto stat = read_proc(pid, "stat");
  // The command name (field 2) is in parentheses and may hold spaces.
  auto close = stat.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream rest{stat.substr(close + 2)};
  std::string field;
  // Fields 3..21 precede the start time (field 22).
  for (int i = 3; i <= 21; ++i)
    rest >> field;
  unsigned long long ticks = 0;
  if (!(rest >> ticks))
    return std::nullopt;
  return ticks;
}

std::vector<std::string> process_cmdline(pid_t pid) {
  auto raw = read_proc(pid, "cmdline");
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin < raw.size()) {
    auto end = raw.find('\0', begin);
    if (end == std::string::npos)
      end = raw.size();
    out.push_back(raw.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

bool process_alive(pid_t pid) {
  if (pid <= 0)
    return false;
  auto stat = read_proc(pid, "stat");
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z' &&
         stat[close + 2] != 'X';
}

namespace {

// Every `tutti` a test runs ignores the client config of whoever runs the
// tests (its current context could name another API or namespace), unless
// the test names one itself.
const bool client_config_isolated =
    ::setenv("TUTTI_CONFIG", "/nonexistent/tutti-tests/config.yaml", 0) == 0;

} // namespace

tuttid_process::tuttid_process(tuttid_options opts)
  : opts_(std::move(opts)), scratch_(std::make_unique<temp_dir>("tutti-it-")),
    ports_(opts_.port_count) {
  if (opts_.tuttid_binary.empty() || opts_.tutti_binary.empty())
    throw std::invalid_argument("tuttid_process: tuttid_binary and tutti_binary are required");
  data_dir_ = opts_.data_dir.empty() ? scratch_->file("data") : opts_.data_dir;
  admin_token_file_ =
      opts_.admin_token_file.empty() ? scratch_->file("admin.token") : opts_.admin_token_file;
  log_file_ = scratch_->file("tuttid.log");
  secrets_dir_ = "/dev/shm/" + scratch_->path().filename().string() + "-secrets";
  pick_service_ports();
}

void tuttid_process::pick_service_ports() {
  api_port_ = free_port();
  do
    metrics_port_ = free_port();
  while (metrics_port_ == api_port_);
  if (opts_.pick_listen_port)
    do
      listen_port_ = free_port();
    while (listen_port_ == api_port_ || listen_port_ == metrics_port_);
}

tuttid_process::~tuttid_process() {
  if (running())
    kill9();
  kill_replicas();
  std::error_code ec;
  std::filesystem::remove_all(secrets_dir_, ec);
}

std::vector<std::string> tuttid_process::command_line() const {
  std::vector<std::string> argv = opts_.wrapper;
  argv.insert(argv.end(), {opts_.tuttid_binary, opts_.mode});
  if (!opts_.config_file.empty())
    argv.insert(argv.end(), {"-c", opts_.config_file});
  if (opts_.pass_data_dir)
    argv.insert(argv.end(), {"--data-dir", data_dir_});
  if (opts_.mode != "node")
    argv.insert(argv.end(), {"--api", api(), "--admin-token-file", admin_token_file_});
  if (opts_.mode == "control" && opts_.api_plaintext)
    argv.push_back("--api-plaintext");
  if (opts_.mode == "control" && opts_.pick_listen_port)
    argv.insert(argv.end(), {"--listen", listen()});
  argv.insert(argv.end(), {"--metrics", opts_.host + ":" + std::to_string(metrics_port_), "--log-level",
                           opts_.log_level});
  if (opts_.mode != "control")
    argv.insert(argv.end(), {"--port-range",
                             std::to_string(ports_.first()) + "-" + std::to_string(ports_.last()),
                             "--secrets-dir", secrets_dir_});
  if (opts_.stop_replicas_on_exit)
    argv.push_back("--stop-replicas-on-exit");
  argv.insert(argv.end(), opts_.extra_args.begin(), opts_.extra_args.end());
  return argv;
}

bool tuttid_process::start(std::chrono::milliseconds timeout) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    bool port_taken = false;
    if (start_once(timeout, port_taken))
      return true;
    if (!port_taken)
      return false;
    pick_service_ports();
  }
  return false;
}

bool tuttid_process::start_once(std::chrono::milliseconds timeout, bool& port_taken) {
  if (running())
    return false;
  auto log_before = log().size();
  {
    std::ofstream mark{log_file_, std::ios::app};
    mark << "----- test: starting tuttid\n";
  }
  child_process::options copts;
  copts.stderr_file = log_file_;
  copts.stdout_file = log_file_;
  child_ = child_process::start(command_line(), copts);
  // Every replica it adopts or starts from here on is recorded in the data dir;
  // also remember those of earlier runs now, before anything replaces them.
  replica_records();
  bool answered = wait_until(
                      [this, log_before] {
                        if (!running())
                          return true; // ended: no point in waiting
                        if (!opts_.ready_line.empty())
                          return log().find(opts_.ready_line, log_before) != std::string::npos;
                        if (opts_.mode == "node")
                          return log().find("ready: joined", log_before) != std::string::npos;
                        return tutti({"version"}, std::chrono::seconds{5}).exit_code == 0;
                      },
                      timeout) &&
                  running();
  if (!answered && !running()) {
    // Someone took a port between free_port() and tuttid's bind.
    auto text = log().substr(log_before);
    port_taken = text.find("Address already in use") != std::string::npos ||
                 text.find("choose another --metrics address") != std::string::npos ||
                 text.find("choose another --listen address") != std::string::npos;
  }
  return answered;
}

void tuttid_process::kill9() {
  if (child_.running()) {
    child_.signal(SIGKILL);
    child_.wait_for_exit(std::chrono::seconds{10});
  }
}

std::optional<int> tuttid_process::terminate(std::chrono::milliseconds timeout) {
  if (!child_.running())
    return child_.exit_code();
  child_.signal(SIGTERM);
  return child_.wait_for_exit(timeout);
}

bool tuttid_process::restart(std::chrono::milliseconds timeout) {
  if (running() && !terminate(std::chrono::seconds{10}))
    kill9();
  return start(timeout);
}

bool tuttid_process::running() {
  return child_.pid() > 0 && child_.running();
}

std::optional<int> tuttid_process::wait_for_exit(std::chrono::milliseconds timeout) {
  return child_.wait_for_exit(timeout);
}

command_result tuttid_process::tutti(std::vector<std::string> args,
                                     std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv{opts_.tutti_binary, "--api", api()};
  argv.insert(argv.end(), args.begin(), args.end());
  // A TUTTI_API of the environment must not win over --api; blank it.
  env_map env = opts_.tutti_env;
  env["TUTTI_API"] = api();
  if (!env.count("TUTTI_TOKEN_FILE") && !env.count("TUTTI_TOKEN"))
    env["TUTTI_TOKEN_FILE"] = admin_token_file_;
  return run_command(argv, env, timeout);
}

std::string tuttid_process::log() const {
  return read_file(log_file_);
}

std::vector<replica_record> tuttid_process::replica_records() {
  std::vector<replica_record> out;
  std::error_code ec;
  for (fs::directory_iterator i{fs::path{data_dir_} / "process", ec}, end; !ec && i != end;
       i.increment(ec)) {
    if (i->path().extension() != ".json")
      continue;
    try {
      auto j = nlohmann::json::parse(read_file(i->path().string()));
      replica_record r;
      r.name = j.value("name", std::string{});
      r.pid = static_cast<pid_t>(j.value("pid", int64_t{0}));
      r.state = j.value("state", std::string{});
      r.command = j.value("command", std::vector<std::string>{});
      // A stale record may name a pid that now belongs to someone else: only the
      // process that started when the record says is one of ours (its command
      // line may differ: `sh -c '... exec httpd'` becomes httpd).
      auto ticks = j.value("start_ticks", uint64_t{0});
      if (r.pid > 0 && ticks != 0 && process_start_ticks(r.pid) == ticks)
        track(r.pid);
      out.push_back(std::move(r));
    } catch (const nlohmann::json::exception&) {
      // Being rewritten (rename over) right now; the next look sees it whole.
    }
  }
  std::sort(out.begin(), out.end(),
            [](const replica_record& a, const replica_record& b) { return a.name < b.name; });
  return out;
}

void tuttid_process::track(pid_t pid) {
  if (pid <= 0 || pid == child_.pid())
    return;
  if (auto ticks = process_start_ticks(pid))
    seen_.insert({pid, *ticks});
}

namespace {

/// Pids of processes whose environment holds exactly `entry`.
std::vector<pid_t> processes_with_env(const std::string& entry) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (fs::directory_iterator i{"/proc", ec}, end; !ec && i != end; i.increment(ec)) {
    auto name = i->path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0])))
      continue;
    std::ifstream in{"/proc/" + name + "/environ", std::ios::binary};
    std::string env{std::istreambuf_iterator<char>{in}, {}};
    auto at = env.find(entry + '\0');
    if (at != std::string::npos && (at == 0 || env[at - 1] == '\0'))
      out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

} // namespace

void tuttid_process::kill_replicas() {
  // Every replica of this daemon's process driver carries its state directory,
  // also one whose record was never written (tuttid killed right after the spawn).
  for (auto pid : processes_with_env("TUTTI_PROCESS_STATE=" + data_dir_ + "/process")) {
    if (::getpgid(pid) == pid)
      ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  }
  replica_records(); // the records of the last run name the survivors
  for (auto [pid, ticks] : seen_) {
    auto now = process_start_ticks(pid);
    if (!now || *now != ticks)
      continue; // gone, or the pid now belongs to someone else
    // Replicas lead their own process group; take the group, else the process.
    if (::getpgid(pid) == pid)
      ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
  }
  // Replicas are tuttid's children, or init's once tuttid died (as in real
  // life: a test must not become their subreaper and change what tuttid sees);
  // whoever is their parent reaps them.
  seen_.clear();
}

} // namespace tutti::tests::support
