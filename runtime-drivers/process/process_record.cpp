#include "runtime-drivers/process/process_record.hpp"

#include "protocol/errors.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <variant>

namespace tutti::runtime_drivers {

namespace {

using protocol::error_code;
using protocol::make_error;

const char* state_name(container_state x) {
  switch (x) {
    case container_state::created:
      return "created";
    case container_state::running:
      return "running";
    case container_state::exited:
      return "exited";
  }
  return "exited";
}

container_state parse_state(const std::string& text) {
  if (text == "created")
    return container_state::created;
  if (text == "running")
    return container_state::running;
  if (text == "exited")
    return container_state::exited;
  throw std::invalid_argument("unknown state '" + text + "'");
}

nlohmann::json to_json(const process_record& x) {
  return {
      {"name", x.spec.name},
      {"command", x.spec.command},
      {"env", x.spec.env},
      {"labels", x.spec.labels},
      {"resources", {{"cpu", x.spec.resources.cpu}, {"memory", x.spec.resources.memory}}},
      {"state", state_name(x.state)},
      {"pid", x.pid},
      {"start_ticks", x.start_ticks},
      {"started_at_ms", x.started_at_ms},
      {"exit_code", x.exit_code},
  };
}

process_record from_json(const nlohmann::json& j) {
  process_record x;
  x.spec.name = j.at("name").get<std::string>();
  x.spec.command = j.at("command").get<std::vector<std::string>>();
  x.spec.env = j.value("env", std::map<std::string, std::string>{});
  x.spec.labels = j.value("labels", std::map<std::string, std::string>{});
  if (auto i = j.find("resources"); i != j.end()) {
    x.spec.resources.cpu = i->value("cpu", 0.0);
    x.spec.resources.memory = i->value("memory", int64_t{0});
  }
  x.state = parse_state(j.at("state").get<std::string>());
  x.pid = j.value("pid", int64_t{0});
  x.start_ticks = j.value("start_ticks", uint64_t{0});
  x.started_at_ms = j.value("started_at_ms", int64_t{0});
  x.exit_code = j.value("exit_code", int32_t{-1});
  return x;
}

caf::error io_error(const std::string& what, const std::string& path, int err) {
  return make_error(error_code::driver_failure, what + " " + path + ": " + std::strerror(err));
}

/// 0 or the errno of the failed write.
int write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return errno;
    done += static_cast<size_t>(n);
  }
  return 0;
}

/// The whole file, or the errno of the failed open/read.
std::variant<std::string, int> read_all(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  std::string text;
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return err;
    }
    if (n == 0)
      break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

} // namespace

caf::expected<process_record> read_record(const std::string& path) {
  auto text = read_all(path);
  if (auto* err = std::get_if<int>(&text)) {
    if (*err == ENOENT)
      return make_error(error_code::not_found, "no metadata file " + path);
    return io_error("cannot read", path, *err);
  }
  try {
    return from_json(nlohmann::json::parse(std::get<std::string>(text)));
  } catch (const std::exception& ex) {
    return make_error(error_code::driver_failure,
                      "corrupt metadata file " + path + " (" + ex.what() + "); fix or delete it");
  }
}

caf::error write_record(const std::string& path, const process_record& record) {
  auto tmp = path + ".tmp";
  // No fsync: the file only has to survive the daemon, not the machine (after a
  // reboot its processes are gone anyway), and starts should stay fast. Its
  // owner's only: the environment may hold a secret given as a variable.
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return io_error("cannot write", tmp, errno);
  int err = write_all(fd, to_json(record).dump(2) + "\n");
  if (::close(fd) != 0 && err == 0)
    err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return io_error("cannot write", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    ::unlink(tmp.c_str());
    return io_error("cannot rename " + tmp + " to", path, err);
  }
  return {};
}

} // namespace tutti::runtime_drivers
