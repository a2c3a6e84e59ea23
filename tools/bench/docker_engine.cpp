#include "tools/bench/docker_engine.hpp"

#include <curl/curl.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace tutti::bench {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

size_t collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

api_reply http(const std::string& socket, const std::string& method, const std::string& target,
               const std::string& body, const char* content_type,
               std::chrono::milliseconds timeout) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  api_reply reply;
  CURL* curl = curl_easy_init();
  auto url = "http://docker/v1.41" + target;
  curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_slist* headers = curl_slist_append(nullptr, "Expect:");
  if (method == "POST") {
    headers = curl_slist_append(headers, (std::string{"Content-Type: "} + content_type).c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  if (curl_easy_perform(curl) == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return reply;
}

bool pinged(const std::string& socket) {
  auto r = http(socket, "GET", "/_ping", {}, "text/plain", 2s);
  return r.status == 200;
}

std::string find_program(const std::string& name) {
  for (const char* dir :
       {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"}) {
    auto path = std::string{dir} + "/" + name;
    if (::access(path.c_str(), X_OK) == 0)
      return path;
  }
  return {};
}

/// Runs argv with stdout to `out_file` (or /dev/null); the exit code.
int run(const std::vector<std::string>& args, const std::string& out_file = "/dev/null",
        const std::string& err_file = "/dev/null", pid_t* background = nullptr) {
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return 127;
  if (background != nullptr) {
    *background = pid;
    return 0;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string read_all(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

} // namespace


docker_engine::docker_engine(const std::string& socket) {
  // Debian's CLI (the engine's own version) first.
  docker_cli_ = ::access("/usr/bin/docker", X_OK) == 0 ? "/usr/bin/docker" : find_program("docker");
  if (!socket.empty()) {
    socket_ = socket;
    if (!pinged(socket_))
      throw std::runtime_error("no Docker engine answers on " + socket_);
  } else if (pinged("/var/run/docker.sock")) {
    socket_ = "/var/run/docker.sock";
  } else {
    start_private();
  }
  try {
    import_image();
  } catch (...) {
    cleanup();
    throw;
  }
}

void docker_engine::start_private() {
  auto dockerd = find_program("dockerd");
  if (dockerd.empty())
    throw std::runtime_error("no engine on /var/run/docker.sock and dockerd is not installed "
                             "(tools/install-deps.sh installs docker.io)");
  char pattern[] = "/tmp/tbd-XXXXXX"; // short: unix socket paths are limited
  if (::mkdtemp(pattern) == nullptr)
    throw std::runtime_error(std::string{"mkdtemp: "} + std::strerror(errno));
  dir_ = pattern;
  socket_ = dir_ + "/docker.sock";
  run({dockerd, "--bridge=none", "--iptables=false", "--ip6tables=false",
       "--data-root=" + dir_ + "/data", "--exec-root=" + dir_ + "/exec",
       "--pidfile=" + dir_ + "/pid", "-H", "unix://" + socket_, "--shutdown-timeout=1",
       "--log-level=warn"},
      "/dev/null", dir_ + "/dockerd.log", &dockerd_);
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!pinged(socket_)) {
    int status = 0;
    if (::waitpid(dockerd_, &status, WNOHANG) == dockerd_ ||
        std::chrono::steady_clock::now() > deadline) {
      auto log = read_all(dir_ + "/dockerd.log");
      cleanup();
      throw std::runtime_error("the private dockerd did not come up: " + log.substr(0, 2000));
    }
    std::this_thread::sleep_for(50ms);
  }
}

void docker_engine::import_image() {
  if (call("GET", std::string{"/images/"} + image + "/json").status == 200)
    return;
  auto busybox = find_program("busybox");
  if (busybox.empty())
    throw std::runtime_error("busybox is not installed (busybox-static)");
  char pattern[] = "/tmp/tbd-rootfs-XXXXXX";
  if (::mkdtemp(pattern) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  std::string root = pattern;
  fs::create_directories(root + "/fs/bin");
  fs::create_directories(root + "/fs/tmp");
  fs::copy_file(busybox, root + "/fs/bin/busybox");
  for (const char* link : {"sh", "sleep", "echo", "true", "false", "httpd", "cat"})
    fs::create_symlink("busybox", root + "/fs/bin/" + link);
  int rc = run({find_program("tar"), "-C", root + "/fs", "-cf", root + "/fs.tar", "."});
  std::string tar = rc == 0 ? read_all(root + "/fs.tar") : std::string{};
  std::error_code ec;
  fs::remove_all(root, ec);
  std::string repo = image;
  auto colon = repo.rfind(':');
  auto r = http(socket_, "POST",
                "/images/create?fromSrc=-&repo=" + url_escape(repo.substr(0, colon)) +
                    "&tag=" + url_escape(repo.substr(colon + 1)),
                tar, "application/x-tar", 60s);
  if (rc != 0 || r.status != 200 || r.body.find("\"error") != std::string::npos)
    throw std::runtime_error("cannot import " + std::string{image} + ": " + r.body);
}

docker_engine::~docker_engine() {
  cleanup();
}

void docker_engine::cleanup() {
  if (dockerd_ > 0) {
    ::kill(dockerd_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + 20s;
    int status = 0;
    while (::waitpid(dockerd_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(dockerd_, SIGKILL);
        ::waitpid(dockerd_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
    dockerd_ = 0;
  }
  if (!dir_.empty()) {
    // The engine leaves its netns bind mount (and, if killed, overlays) behind.
    std::ifstream mounts{"/proc/self/mounts"};
    std::vector<std::string> targets;
    std::string device, target, rest;
    while (mounts >> device >> target && std::getline(mounts, rest))
      if (target.rfind(dir_ + "/", 0) == 0)
        targets.push_back(target);
    std::sort(targets.rbegin(), targets.rend());
    for (auto& t : targets)
      ::umount2(t.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
}

api_reply docker_engine::call(const std::string& method, const std::string& target,
                              const std::string& body, std::chrono::milliseconds timeout) const {
  return http(socket_, method, target, body, "application/json", timeout);
}

std::vector<json> docker_engine::containers(const std::string& label) const {
  json filter = {{"label", {label}}};
  auto r = call("GET", "/containers/json?all=1&filters=" + url_escape(filter.dump()));
  std::vector<json> out;
  auto parsed = json::parse(r.body, nullptr, false);
  if (r.status == 200 && parsed.is_array())
    for (auto& x : parsed)
      out.push_back(x);
  return out;
}

size_t docker_engine::remove_all(const std::string& label) const {
  size_t n = 0;
  for (auto& c : containers(label))
    n += call("DELETE", "/containers/" + c.value("Id", "") + "?force=1&v=1").status == 204 ? 1 : 0;
  return n;
}

int docker_engine::cli(const std::vector<std::string>& args, std::string* out) const {
  if (docker_cli_.empty())
    return 127;
  std::vector<std::string> argv{docker_cli_, "-H", "unix://" + socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  if (out == nullptr)
    return run(argv);
  char pattern[] = "/tmp/tbd-out-XXXXXX";
  int fd = ::mkstemp(pattern);
  if (fd >= 0)
    ::close(fd);
  int rc = run(argv, pattern, pattern);
  *out = read_all(pattern);
  ::unlink(pattern);
  return rc;
}

} // namespace tutti::bench
