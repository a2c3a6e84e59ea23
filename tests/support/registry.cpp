#include "tests/support/registry.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/containerd/image_archive.hpp"
#include "tests/support/wait.hpp"
#include "tools/harness/private_daemon.hpp"

#include <curl/curl.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

namespace tutti::tests::support {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr auto start_timeout = 20s;
constexpr auto stop_timeout = 5s;
constexpr const char* dir_prefix = "tutti-registry-";

size_t collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string config_yaml(const std::string& storage, const std::string& addr) {
  return "version: 0.1\n"
         "log:\n"
         "  level: warn\n"
         "  accesslog:\n"
         "    disabled: true\n"
         "storage:\n"
         "  filesystem:\n"
         "    rootdirectory: " +
         storage +
         "\n"
         "  delete:\n"
         "    enabled: true\n"
         "http:\n"
         "  addr: " +
         addr + "\n";
}

/// Directories of earlier runs whose binary was killed (a ctest timeout): the
/// registry ended with it (PR_SET_PDEATHSIG), its directory stayed. Removed
/// when their registry is gone and they are older than 2 minutes.
void remove_stale_dirs() {
  const char* base = std::getenv("TMPDIR");
  std::error_code ec;
  for (const auto& entry :
       fs::directory_iterator{base != nullptr && *base != '\0' ? base : "/tmp", ec}) {
    auto name = entry.path().filename().string();
    if (name.rfind(dir_prefix, 0) != 0 || !entry.is_directory(ec))
      continue;
    auto age = fs::file_time_type::clock::now() - fs::last_write_time(entry.path(), ec);
    if (ec || age < std::chrono::minutes{2})
      continue;
    auto pid = std::atoi(read_file(entry.path().string() + "/pid").c_str());
    if (pid > 0 && ::kill(pid, 0) == 0)
      continue;
    fs::remove_all(entry.path(), ec);
  }
}

} // namespace

std::string registry_reply::header(const std::string& name) const {
  auto wanted = lower(name) + ":";
  size_t start = 0;
  while (start < headers.size()) {
    auto end = headers.find('\n', start);
    auto line = headers.substr(start, end - start);
    if (lower(line.substr(0, wanted.size())) == wanted) {
      auto value = line.substr(wanted.size());
      auto first = value.find_first_not_of(" \t");
      auto last = value.find_last_not_of(" \t\r");
      return first == std::string::npos ? "" : value.substr(first, last - first + 1);
    }
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  return {};
}

std::unique_ptr<private_registry> private_registry::start(std::string& why, bool& unavailable) {
  unavailable = false;
  if (::access(binary, X_OK) != 0) {
    unavailable = true;
    why = std::string{binary} +
          " is not installed (Debian package docker-registry; tools/install-deps.sh installs it)";
    return nullptr;
  }
  remove_stale_dirs();
  std::unique_ptr<private_registry> r{new private_registry};
  r->dir_ = std::make_unique<temp_dir>(dir_prefix);
  r->port_ = std::make_unique<port_range_lease>(1);
  r->host_ = "127.0.0.1:" + std::to_string(r->port_->first());
  r->dir_->write("config.yml", config_yaml(r->dir_->file("storage"), r->host_));
  if (!r->spawn(why))
    return nullptr; // the destructor cleans up
  return r;
}

bool private_registry::spawn(std::string& why) {
  std::vector<std::string> args{binary, "serve", dir_->file("config.yml")};
  pid_ = harness::spawn_private_daemon(args, dir_->file("registry.log"), why);
  if (pid_ == 0)
    return false;
  dir_->write("pid", std::to_string(pid_));
  auto port = port_->first();
  auto answers = [&] {
    auto r = http_get("127.0.0.1", port, "/v2/", 500ms);
    return r && r->status == 200;
  };
  switch (harness::wait_for_daemon(pid_, answers, start_timeout)) {
    case harness::daemon_start::answered:
      return true;
    case harness::daemon_start::exited:
      pid_ = 0;
      why = "docker-registry exited at once; its log:\n" + log();
      return false;
    case harness::daemon_start::timed_out:
      break;
  }
  why = "docker-registry did not answer GET /v2/ on " + host_ + " within 20 s; its log:\n" + log();
  return false;
}

void private_registry::stop() {
  if (pid_ <= 0)
    return;
  ::kill(pid_, SIGTERM);
  int status = 0;
  if (!wait_until([&] { return ::waitpid(pid_, &status, WNOHANG) != 0; }, stop_timeout)) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
  }
  pid_ = 0;
}

private_registry::~private_registry() {
  stop();
}

std::string private_registry::log() const {
  return read_file(dir_->file("registry.log"));
}

registry_reply private_registry::call(const std::string& method, const std::string& target,
                                      const std::string& body,
                                      const std::string& content_type) const {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  registry_reply reply;
  auto url = target.rfind("http://", 0) == 0 ? target : "http://" + host_ + target;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &collect);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
  curl_slist* headers = curl_slist_append(nullptr, "Expect:");
  if (!content_type.empty())
    headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
  if (method == "PUT" || method == "POST") {
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

std::string private_registry::push_blob(const std::string& repository, const std::string& digest,
                                        const std::string& bytes) const {
  auto started = call("POST", "/v2/" + repository + "/blobs/uploads/");
  auto location = started.header("Location");
  if (started.status != 202 || location.empty())
    return "starting the upload of " + digest + " to " + repository + " answered HTTP " +
           std::to_string(started.status) + " " + started.body + started.error;
  if (location.rfind("http", 0) != 0)
    location = "http://" + host_ + location;
  location +=
      (location.find('?') == std::string::npos ? "?" : "&") + ("digest=" + url_encode(digest));
  auto put = call("PUT", location, bytes, "application/octet-stream");
  if (put.status != 201)
    return "uploading " + digest + " to " + repository + " answered HTTP " +
           std::to_string(put.status) + " " + put.body + put.error;
  return {};
}

std::string private_registry::push_manifest(const std::string& repository,
                                            const std::string& reference,
                                            const std::string& media_type,
                                            const std::string& bytes) const {
  auto put = call("PUT", "/v2/" + repository + "/manifests/" + reference, bytes, media_type);
  if (put.status != 201)
    return "pushing manifest " + reference + " to " + repository + " answered HTTP " +
           std::to_string(put.status) + " " + put.body + put.error;
  return {};
}

std::string private_registry::push_archive(const std::string& archive_path,
                                           const std::string& repository,
                                           const std::string& tag) const {
  namespace rd = runtime_drivers::containerd;
  auto archive = rd::image_archive::open(archive_path);
  if (!archive)
    return "cannot open " + archive_path + ": " + protocol::message_of(archive.error());
  if ((*archive)->images().empty())
    return archive_path + " holds no image";
  const auto& image = (*archive)->images().front();
  auto bytes_of = [&](const std::string& digest, std::string& out) {
    out.clear();
    auto err = (*archive)->read_blob(digest, [&](const char* data, size_t size) {
      out.append(data, size);
      return true;
    });
    return err ? "cannot read " + digest + " of " + archive_path + ": " + protocol::message_of(err)
               : std::string{};
  };
  std::string bytes;
  for (const auto& blob : (*archive)->blobs(image)) {
    if (blob.digest == image.manifest.digest)
      continue; // last: the registry wants what it names first
    if (auto why = bytes_of(blob.digest, bytes); !why.empty())
      return why;
    if (auto why = push_blob(repository, blob.digest, bytes); !why.empty())
      return why;
  }
  if (auto why = bytes_of(image.manifest.digest, bytes); !why.empty())
    return why;
  return push_manifest(repository, tag, image.manifest.media_type, bytes);
}

} // namespace tutti::tests::support
