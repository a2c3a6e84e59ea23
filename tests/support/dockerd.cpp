#include "tests/support/dockerd.hpp"

#include "runtime-drivers/curl_support.hpp"

#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"
#include "tools/harness/private_daemon.hpp"

#include <curl/curl.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

namespace tutti::tests::support {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;
using harness::find_program;
using harness::tail_of;
using harness::unmount_below;

constexpr const char* host_socket = "/var/run/docker.sock";
constexpr auto engine_start_timeout = 30s;
constexpr auto engine_stop_timeout = 20s;

using runtime_drivers::url_escape;

const std::vector<std::string> busybox_links{"sh",  "sleep", "httpd", "echo", "true", "false",
                                             "cat", "env",   "ls",    "kill", "wget"};


size_t collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

docker_reply http(const std::string& socket, const std::string& method, const std::string& target,
                  const std::string& body, const std::string& content_type,
                  std::chrono::milliseconds timeout) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  docker_reply reply;
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
  if (method == "POST" || !body.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  auto rc = curl_easy_perform(curl);
  if (rc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  else
    reply.error = curl_easy_strerror(rc);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return reply;
}

bool pinged(const std::string& socket, std::chrono::milliseconds timeout) {
  auto r = http(socket, "GET", "/_ping", {}, {}, timeout);
  return r.status == 200 && r.body == "OK";
}

/// Private engines of earlier runs that were killed (a ctest timeout SIGKILLs
/// the test binary; its dockerd then ends by PR_SET_PDEATHSIG but leaves its
/// directory): removed when their dockerd is gone and they are old enough (2 min) not to
/// be another binary's engine that is still starting.
void remove_stale_engines() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator{"/tmp", ec}) {
    auto name = entry.path().filename().string();
    if (name.rfind("tdk-", 0) != 0 || name.size() != 10 || !entry.is_directory(ec))
      continue;
    auto age = fs::file_time_type::clock::now() - fs::last_write_time(entry.path(), ec);
    if (ec || age < std::chrono::minutes{2})
      continue;
    auto pid = std::atoi(read_file(entry.path().string() + "/pid").c_str());
    if (pid > 0 && ::kill(pid, 0) == 0)
      continue;
    unmount_below(entry.path().string());
    fs::remove_all(entry.path(), ec);
  }
}

} // namespace

std::unique_ptr<docker_engine> docker_engine::start(std::string& why, bool& unavailable) {
  unavailable = false;
  std::unique_ptr<docker_engine> engine{new docker_engine()};
  engine->run_prefix_ = "tt" + std::to_string(::getpid()) + "-";
  if (pinged(host_socket, 2s)) {
    engine->socket_ = host_socket;
  } else {
    if (::geteuid() != 0) {
      why = "no Docker engine answers on /var/run/docker.sock and a private dockerd needs root";
      unavailable = true;
      return nullptr;
    }
    engine->dockerd_ = find_program("dockerd");
    if (engine->dockerd_.empty()) {
      why = "no Docker engine answers on /var/run/docker.sock and dockerd is not installed "
            "(tools/install-deps.sh installs docker.io)";
      unavailable = true;
      return nullptr;
    }
    remove_stale_engines();
    // Short: the containerd socket under exec-root must fit sockaddr_un's 108 bytes.
    char pattern[] = "/tmp/tdk-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      why = std::string{"cannot create a temp dir: "} + std::strerror(errno);
      return nullptr;
    }
    engine->dir_ = pattern;
    engine->socket_ = engine->dir_ + "/docker.sock";
    if (!engine->spawn_dockerd(why))
      return nullptr; // the destructor cleans up
  }
  if (!engine->import_image(why))
    return nullptr;
  return engine;
}

bool docker_engine::spawn_dockerd(std::string& why) {
  std::vector<std::string> args{dockerd_, "--bridge=none", "--iptables=false", "--ip6tables=false",
                                "--data-root=" + dir_ + "/data", "--exec-root=" + dir_ + "/exec",
                                "--pidfile=" + dir_ + "/pid", "-H", "unix://" + socket_,
                                // Containers that ignore SIGTERM must not hold up a stop.
                                "--shutdown-timeout=1", "--log-level=warn"};
  auto log = dir_ + "/dockerd.log";
  dockerd_pid_ = harness::spawn_private_daemon(args, log, why);
  if (dockerd_pid_ == 0)
    return false;
  switch (harness::wait_for_daemon(
      dockerd_pid_, [this] { return pinged(socket_, 1s); }, engine_start_timeout)) {
    case harness::daemon_start::answered:
      return true;
    case harness::daemon_start::exited:
      dockerd_pid_ = 0;
      why = "dockerd exited at once; its log:\n" + tail_of(log);
      return false;
    case harness::daemon_start::timed_out:
      break;
  }
  why = "dockerd did not answer on " + socket_ + " within 30 s; its log:\n" + tail_of(log);
  stop_engine();
  return false;
}

bool docker_engine::import_image(std::string& why) {
  if (call("GET", std::string{"/images/"} + image + "/json").status == 200)
    return true;
  auto busybox = find_program("busybox");
  if (busybox.empty()) {
    why = "busybox is not installed (tools/install-deps.sh installs busybox-static)";
    return false;
  }
  temp_dir rootfs{"tutti-busybox-"};
  fs::create_directories(rootfs.path() / "root/bin");
  fs::create_directories(rootfs.path() / "root/tmp");
  fs::copy_file(busybox, rootfs.path() / "root/bin/busybox");
  for (const auto& link : busybox_links)
    fs::create_symlink("busybox", rootfs.path() / "root/bin" / link);
  auto tar = rootfs.file("rootfs.tar");
  auto r = run_command({find_program("tar"), "-C", rootfs.file("root"), "-cf", tar, "."});
  if (r.exit_code != 0) {
    why = "cannot make the busybox rootfs tar: " + r.describe();
    return false;
  }
  std::string repo = image;
  auto colon = repo.rfind(':');
  auto target = "/images/create?fromSrc=-&repo=" + url_escape(repo.substr(0, colon)) +
                "&tag=" + url_escape(repo.substr(colon + 1));
  auto reply = http(socket_, "POST", target, read_file(tar), "application/x-tar", 60s);
  if (reply.status != 200 || reply.body.find("\"error") != std::string::npos) {
    why = "cannot import " + std::string{image} + ": HTTP " + std::to_string(reply.status) + " " +
          reply.body + reply.error;
    return false;
  }
  return true;
}

docker_engine::~docker_engine() {
  if (!socket_.empty() && ping())
    remove_run_containers();
  if (dir_.empty())
    return;
  stop_engine();
  unmount_below(dir_);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string docker_engine::node_name(const std::string& hint) {
  return run_prefix_ + std::to_string(next_node_++) + "-" + hint;
}

docker_reply docker_engine::call(const std::string& method, const std::string& target,
                                 const std::string& body, std::chrono::milliseconds timeout) const {
  return http(socket_, method, target, body, "application/json", timeout);
}

std::optional<json> docker_engine::inspect(const std::string& ref) const {
  auto r = call("GET", "/containers/" + url_escape(ref) + "/json");
  if (r.status != 200)
    return std::nullopt;
  auto parsed = json::parse(r.body, nullptr, false);
  if (parsed.is_discarded())
    return std::nullopt;
  return parsed;
}

std::vector<json> docker_engine::containers(const std::string& node) const {
  json filter = {{"label", {"tutti.node=" + node}}};
  auto r = call("GET", "/containers/json?all=1&filters=" + url_escape(filter.dump()));
  std::vector<json> out;
  auto parsed = json::parse(r.body, nullptr, false);
  if (r.status == 200 && parsed.is_array())
    for (auto& x : parsed)
      out.push_back(x);
  return out;
}

bool docker_engine::kill(const std::string& ref, const std::string& signal) const {
  return call("POST", "/containers/" + url_escape(ref) + "/kill?signal=" + url_escape(signal)).status ==
         204;
}

bool docker_engine::remove(const std::string& ref) const {
  return call("DELETE", "/containers/" + url_escape(ref) + "?force=1&v=1").status == 204;
}

bool docker_engine::ping() const {
  return pinged(socket_, 2s);
}

void docker_engine::remove_run_containers() const {
  json filter = {{"label", {"tutti.node"}}};
  auto r = call("GET", "/containers/json?all=1&filters=" + url_escape(filter.dump()));
  auto parsed = json::parse(r.body, nullptr, false);
  if (r.status != 200 || !parsed.is_array())
    return;
  for (auto& x : parsed) {
    auto labels = x.value("Labels", json::object());
    auto node = labels.is_object() ? labels.value("tutti.node", "") : std::string{};
    if (node.rfind(run_prefix_, 0) == 0)
      remove(x.value("Id", ""));
  }
}

bool docker_engine::stop_engine() {
  if (dockerd_pid_ <= 0)
    return false;
  ::kill(dockerd_pid_, SIGTERM);
  int status = 0;
  auto reaped = [&] { return ::waitpid(dockerd_pid_, &status, WNOHANG) != 0; };
  if (!wait_until(reaped, engine_stop_timeout)) {
    ::kill(-dockerd_pid_, SIGKILL); // its process group: containerd too
    ::waitpid(dockerd_pid_, &status, 0);
  }
  dockerd_pid_ = 0;
  return true;
}

bool docker_engine::start_engine(std::string& why) {
  if (dir_.empty()) {
    why = "not a private engine";
    return false;
  }
  if (dockerd_pid_ > 0)
    return true;
  return spawn_dockerd(why);
}

} // namespace tutti::tests::support
