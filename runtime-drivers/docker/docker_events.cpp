#include "runtime-drivers/docker/docker_events.hpp"

#include "runtime-drivers/docker/docker_http.hpp"
#include "runtime-drivers/docker/docker_json.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

namespace tutti::runtime_drivers::docker {

namespace {

/// Upper bound of one wait, so a lost wakeup could never stall the thread.
constexpr auto max_wait = std::chrono::milliseconds{1000};

/// The first request replays this much from before the driver existed: the
/// engine may flush its answer before it subscribes (a window of microseconds).
constexpr int64_t first_since_margin_ns = 2'000'000'000;

int64_t wall_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

/// "SECONDS.NANOSECONDS", the `since` format the engine accepts.
std::string since_text(int64_t ns) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%lld.%09lld", static_cast<long long>(ns / 1'000'000'000),
                static_cast<long long>(ns % 1'000'000'000));
  return buf;
}

} // namespace

bool line_splitter::feed(const char* data, size_t size, std::vector<std::string>& lines) {
  if (overlong_)
    return false;
  size_t begin = 0;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] != '\n')
      continue;
    if (partial_.size() + (i - begin) > max_line_)
      break;
    partial_.append(data + begin, i - begin);
    if (!partial_.empty())
      lines.push_back(std::move(partial_));
    partial_.clear();
    begin = i + 1;
  }
  auto rest = size - begin;
  if (partial_.size() + rest > max_line_ && rest > 0) {
    overlong_ = true;
    partial_.clear();
    partial_.shrink_to_fit();
    return false;
  }
  partial_.append(data + begin, rest);
  return true;
}

/// One attempt: the curl handle, the stream's framing, and what the write
/// callbacks saw since the thread last looked.
struct event_stream::transfer {
  CURL* handle = nullptr;
  line_splitter splitter;
  std::vector<std::string> lines;
  std::string error_body; // the answer when the status is not 200
  bool headers_done = false;
  bool ok_status = false;
  bool overlong = false; // a line past line_splitter's limit ended it
  char error_text[CURL_ERROR_SIZE] = {};

  static size_t on_header(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<transfer*>(self);
    auto n = size * count;
    if (n == 2 && data[0] == '\r' && data[1] == '\n') {
      long status = 0;
      curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
      if (status >= 200 && status < 300) {
        t->headers_done = true;
        t->ok_status = true;
      } else if (status >= 200 || status < 100) {
        t->headers_done = true; // a final answer; 1xx are followed by another
      }
    }
    return n;
  }

  static size_t on_data(char* data, size_t size, size_t count, void* self) {
    auto* t = static_cast<transfer*>(self);
    auto n = size * count;
    if (!t->ok_status) {
      t->error_body.append(data, std::min<size_t>(n, 4096));
      return n;
    }
    if (t->splitter.feed(data, n, t->lines))
      return n;
    t->overlong = true; // ends the transfer: the stream reconnects, its owner lists again
    return 0;
  }
};

event_stream::event_stream(std::string socket_path, std::string target, handlers h,
                           std::chrono::milliseconds min_backoff,
                           std::chrono::milliseconds max_backoff)
  : socket_path_(std::move(socket_path)), target_(std::move(target)), handlers_(std::move(h)),
    min_backoff_(min_backoff), max_backoff_(max_backoff) {
  init_curl();
  multi_ = curl_multi_init();
}

event_stream::~event_stream() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stopping_ = true;
  }
  wake();
  if (thread_.joinable())
    thread_.join();
  curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void event_stream::start() {
  thread_ = std::thread{[this] { run(); }};
}

void event_stream::wake() {
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void event_stream::post(std::function<void()> task) {
  post_at(clock::now(), std::move(task));
}

void event_stream::post_at(clock::time_point when, std::function<void()> task) {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    tasks_.emplace(std::make_pair(when, next_seq_++), std::move(task));
  }
  wake();
}

bool event_stream::connected() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return connected_;
}

uint64_t event_stream::connects() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return connects_;
}

/// Runs the tasks that are due; false once the stream is stopping.
bool event_stream::run_due_tasks() {
  for (;;) {
    std::function<void()> task;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (stopping_)
        return false;
      if (tasks_.empty() || tasks_.begin()->first.first > clock::now())
        return true;
      task = std::move(tasks_.begin()->second);
      tasks_.erase(tasks_.begin());
    }
    task();
  }
}

void event_stream::run() {
  auto* multi = static_cast<CURLM*>(multi_);
  std::unique_ptr<transfer> current;
  auto next_attempt = clock::now();
  auto backoff = min_backoff_;
  int64_t resume_ns = wall_ns() - first_since_margin_ns;
  curl_slist* no_expect = curl_slist_append(nullptr, "Expect:");

  auto open = [&] {
    current = std::make_unique<transfer>();
    auto* easy = curl_easy_init();
    current->handle = easy;
    auto url = std::string{"http://docker"} + api_version + target_ +
               (target_.find('?') == std::string::npos ? "?" : "&") +
               "since=" + since_text(resume_ns);
    curl_easy_setopt(easy, CURLOPT_UNIX_SOCKET_PATH, socket_path_.c_str());
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, no_expect);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, current->error_text);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &transfer::on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, current.get());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &transfer::on_data);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, current.get());
    curl_multi_add_handle(multi, easy);
  };

  auto close = [&](CURLcode rc) {
    long status = 0;
    curl_easy_getinfo(current->handle, CURLINFO_RESPONSE_CODE, &status);
    long os_errno = 0;
    curl_easy_getinfo(current->handle, CURLINFO_OS_ERRNO, &os_errno);
    std::string why;
    if (rc == CURLE_COULDNT_CONNECT)
      why =
          unreachable(socket_path_, os_errno != 0 ? std::strerror(os_errno) : current->error_text);
    else if (current->overlong)
      why = "the Docker engine at " + socket_path_ + " sent an event line longer than " +
            std::to_string(line_splitter::default_max_line) + " bytes";
    else if (rc != CURLE_OK)
      why = "the events stream of the Docker engine at " + socket_path_ + " broke: " +
            (current->error_text[0] != '\0' ? current->error_text : curl_easy_strerror(rc));
    else if (!current->ok_status)
      why = "the Docker engine at " + socket_path_ +
            " refused the events stream: " + error_message(status, current->error_body);
    else
      why = "the Docker engine at " + socket_path_ + " closed the events stream";
    curl_multi_remove_handle(multi, current->handle);
    curl_easy_cleanup(current->handle);
    current.reset();
    bool was_connected = false;
    {
      std::lock_guard<std::mutex> guard{mutex_};
      was_connected = connected_;
      connected_ = false;
    }
    handlers_.on_lost(why, was_connected);
    next_attempt = clock::now() + backoff;
    backoff = std::min(backoff * 2, max_backoff_);
  };

  for (;;) {
    if (!run_due_tasks())
      break;
    if (!current && clock::now() >= next_attempt)
      open();
    int running = 0;
    curl_multi_perform(multi, &running);
    if (current && current->ok_status && current->headers_done) {
      current->headers_done = false; // reported once per connection
      {
        std::lock_guard<std::mutex> guard{mutex_};
        connected_ = true;
        ++connects_;
      }
      backoff = min_backoff_;
      handlers_.on_connected();
    }
    if (current && !current->lines.empty()) {
      auto lines = std::move(current->lines);
      current->lines.clear();
      for (auto& line : lines)
        resume_ns = std::max(resume_ns, handlers_.on_line(line));
    }
    int left = 0;
    while (auto* msg = curl_multi_info_read(multi, &left))
      if (msg->msg == CURLMSG_DONE && current && msg->easy_handle == current->handle)
        close(msg->data.result);
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(max_wait);
    auto now = clock::now();
    if (!current)
      wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(next_attempt - now));
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (stopping_)
        break;
      if (!tasks_.empty())
        wait = std::min(
            wait, std::chrono::ceil<std::chrono::milliseconds>(tasks_.begin()->first.first - now));
    }
    if (wait.count() > 0)
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait.count()), nullptr);
  }
  if (current) {
    curl_multi_remove_handle(multi, current->handle);
    curl_easy_cleanup(current->handle);
  }
  curl_slist_free_all(no_expect);
}

} // namespace tutti::runtime_drivers::docker
