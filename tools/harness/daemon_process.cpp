#include "tools/harness/daemon_process.hpp"

#include "tools/harness/private_daemon.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace tutti::harness {

std::string tuttid_binary() {
  if (::access(TUTTID_BIN, X_OK) == 0)
    return TUTTID_BIN;
  char self[4096];
  auto n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return TUTTID_BIN;
  std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/') + 1) + "tuttid";
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    throw std::runtime_error("cannot find a free port on 127.0.0.1");
  ::close(fd);
  return ntohs(sa.sin_port);
}

namespace {

/// The program's admin token file and the temp dir holding it, removed at exit.
struct token_dir {
  std::string dir;
  std::string file;
  std::string token;

  token_dir() {
    char tmpl[] = "/tmp/tutti-harness-token-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr)
      throw std::runtime_error("cannot create a temp directory");
    dir = tmpl;
    file = dir + "/admin.token";
    std::ifstream random{"/dev/urandom", std::ios::binary};
    unsigned char bytes[32];
    random.read(reinterpret_cast<char*>(bytes), sizeof bytes);
    token = "tutti_";
    for (unsigned char b : bytes) {
      char hex[3];
      std::snprintf(hex, sizeof hex, "%02x", b);
      token += hex;
    }
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ::write(fd, token.data(), token.size()) != static_cast<ssize_t>(token.size()))
      throw std::runtime_error("cannot write " + file);
    ::close(fd);
  }

  ~token_dir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

const token_dir& tokens() {
  static const token_dir x;
  return x;
}

} // namespace

const std::string& admin_token_file() {
  return tokens().file;
}

const std::string& admin_token() {
  return tokens().token;
}

daemon_process::daemon_process(const std::string& port_range, std::vector<std::string> extra) {
  char tmpl[] = "/tmp/tutti-harness-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    throw std::runtime_error("cannot create a temp directory");
  dir_ = tmpl;
  api_ = "127.0.0.1:" + std::to_string(free_port());
  std::vector<std::string> args{tuttid_binary(),
                                "dev",
                                "--data-dir",
                                dir_ + "/data",
                                "--api",
                                api_,
                                "--metrics",
                                "127.0.0.1:" + std::to_string(free_port()),
                                "--port-range",
                                port_range,
                                "--stop-replicas-on-exit",
                                "--admin-token-file",
                                admin_token_file(),
                                "--log-level",
                                "warn"};
  args.insert(args.end(), extra.begin(), extra.end());
  args_ = std::move(args);
  spawn();
}

daemon_process::daemon_process(mode m, std::vector<std::string> args) {
  const auto& mode = m.name;
  char tmpl[] = "/tmp/tutti-harness-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    throw std::runtime_error("cannot create a temp directory");
  dir_ = tmpl;
  args_ = {tuttid_binary(), mode,
           "--data-dir",  dir_ + "/data",
           "--metrics",   "127.0.0.1:" + std::to_string(free_port()),
           "--log-level", std::getenv("TUTTI_KEEP") ? "info" : "warn"};
  if (mode == "control") {
    api_ = "127.0.0.1:" + std::to_string(free_port());
    args_.insert(args_.end(), {"--api", api_, "--admin-token-file", admin_token_file()});
    if (m.api_plaintext)
      args_.push_back("--api-plaintext");
  }
  args_.insert(args_.end(), args.begin(), args.end());
  spawn();
}

void daemon_process::spawn() {
  // Ends with the tool (a test's timeout kills it without a cleanup).
  std::string why;
  pid_ = spawn_private_daemon(args_, dir_ + "/tuttid.log", why, true);
  if (pid_ == 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start " + args_.front() + ": " + why);
  }
}

daemon_process::~daemon_process() {
  stop();
  if (std::getenv("TUTTI_KEEP") != nullptr) {
    std::fprintf(stderr, "kept %s (TUTTI_KEEP)\n", dir_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

int64_t daemon_process::rss_bytes() const {
  std::ifstream in{"/proc/" + std::to_string(pid_) + "/status"};
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      int64_t kib = 0;
      in >> kib;
      return kib * 1024;
    }
    std::getline(in, key);
  }
  return 0;
}

void daemon_process::kill9() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int daemon_process::ended() {
  if (pid_ <= 0)
    return -1;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_)
    return -1;
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void daemon_process::restart() {
  if (pid_ > 0)
    kill9();
  spawn();
}

void daemon_process::stop() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

} // namespace tutti::harness
