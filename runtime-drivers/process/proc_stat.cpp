#include "runtime-drivers/process/proc_stat.hpp"

#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace tutti::runtime_drivers {

namespace {

std::optional<std::string> read_small_file(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad())
    return std::nullopt;
  return out.str();
}

std::string proc_path(pid_t pid, const char* file) {
  return "/proc/" + std::to_string(pid) + "/" + file;
}

} // namespace

std::optional<proc_stat> read_proc_stat(pid_t pid) {
  if (pid <= 0)
    return std::nullopt;
  auto text = read_small_file(proc_path(pid, "stat"));
  if (!text)
    return std::nullopt;
  // The command name (field 2) is in parentheses and may itself contain spaces
  // and ')', so fields are counted from the last ')'.
  auto close = text->rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream rest{text->substr(close + 1)};
  std::vector<std::string> fields; // fields[0] is field 3 (state)
  for (std::string field; rest >> field;)
    fields.push_back(std::move(field));
  auto field = [&](size_t number) { return fields.at(number - 3); };
  if (fields.size() < 22 - 2)
    return std::nullopt;
  proc_stat result;
  result.state = field(3).empty() ? '?' : field(3)[0];
  result.utime = std::stoull(field(14));
  result.stime = std::stoull(field(15));
  result.start_ticks = std::stoull(field(22));
  return result;
}

std::optional<int64_t> read_rss_bytes(pid_t pid) {
  if (pid <= 0)
    return std::nullopt;
  auto text = read_small_file(proc_path(pid, "statm"));
  if (!text)
    return std::nullopt;
  std::istringstream in{*text};
  int64_t size_pages = 0;
  int64_t resident_pages = 0;
  if (!(in >> size_pages >> resident_pages))
    return std::nullopt;
  return resident_pages * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

bool is_same_process(pid_t pid, uint64_t start_ticks) {
  auto stat = read_proc_stat(pid);
  return stat && stat->start_ticks == start_ticks;
}

double clock_ticks_per_second() {
  return static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::vector<marked_process> processes_with_env(const std::string& entry) {
  std::vector<marked_process> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator i{"/proc", ec}, end; !ec && i != end; i.increment(ec)) {
    auto name = i->path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0])))
      continue;
    std::ifstream in{"/proc/" + name + "/environ", std::ios::binary};
    std::string env{std::istreambuf_iterator<char>{in}, {}};
    // Entries are NUL-terminated: match a whole one.
    auto at = env.find(entry + '\0');
    if (at == std::string::npos || (at != 0 && env[at - 1] != '\0'))
      continue;
    auto pid = static_cast<pid_t>(std::stol(name));
    auto pgid = ::getpgid(pid);
    if (pgid >= 0)
      out.push_back({pid, pgid});
  }
  return out;
}

} // namespace tutti::runtime_drivers
