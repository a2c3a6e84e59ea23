// tutti-log-copier: what containerd's shims run for each task of the containerd
// driver, installed beside tuttid (runtime-drivers/containerd/log_copier.hpp).
// A program of its own, linked with nothing but libc, so that a task start
// waits ~1 ms for it, not the ~20 ms tuttid's libraries take to load.

#include "runtime-drivers/containerd/log_copier.hpp"

#include <cstdio>
#include <string_view>

int main(int argc, char** argv) {
  namespace rdc = tutti::runtime_drivers::containerd;
  if (argc == 3 && std::string_view{argv[1]} == rdc::log_copier_command)
    return rdc::run_log_copier(argv[2]);
  std::fprintf(stderr,
               "usage: tutti-log-copier %s FILE\n"
               "Run by containerd's shims for each task of tuttid's containerd driver: copies the\n"
               "task's stdout and stderr (fds 3 and 4) into FILE; fd 5 signals readiness.\n",
               rdc::log_copier_command);
  return 2;
}
