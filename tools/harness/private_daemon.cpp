#include "tools/harness/private_daemon.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace tutti::harness {

std::string find_program(const std::string& name) {
  for (const char* dir :
       {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin", "/sbin", "/bin"}) {
    auto path = std::string{dir} + "/" + name;
    if (::access(path.c_str(), X_OK) == 0)
      return path;
  }
  return {};
}

std::string tail_of(const std::string& path, size_t bytes) {
  std::ifstream in{path};
  std::ostringstream text;
  text << in.rdbuf();
  auto all = text.str();
  return all.size() > bytes ? "..." + all.substr(all.size() - bytes) : all;
}

void unmount_below(const std::string& dir) {
  std::ifstream mounts{"/proc/self/mounts"};
  std::vector<std::string> targets;
  std::string device, target, rest;
  while (mounts >> device >> target && std::getline(mounts, rest))
    if (target.rfind(dir + "/", 0) == 0)
      targets.push_back(target);
  std::sort(targets.rbegin(), targets.rend()); // deepest first
  for (auto& t : targets)
    ::umount2(t.c_str(), MNT_DETACH);
}

pid_t spawn_private_daemon(const std::vector<std::string>& args, const std::string& log_path,
                           std::string& why, bool keep_stdout) {
  std::vector<char*> argv;
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    why = std::string{"fork failed: "} + std::strerror(errno);
    return 0;
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent)
      ::_exit(127);
    ::setpgid(0, 0);
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      if (!keep_stdout)
        ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0)
      ::dup2(null, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

daemon_start wait_for_daemon(pid_t pid, const std::function<bool()>& answers,
                             std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (answers())
      return daemon_start::answered;
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return daemon_start::exited;
    std::this_thread::sleep_for(
        std::chrono::milliseconds{50}); // -- allowed: polling interval of a deadline wait
  }
  return daemon_start::timed_out;
}

} // namespace tutti::harness
