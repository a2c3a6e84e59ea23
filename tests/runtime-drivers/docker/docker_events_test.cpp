// The Docker events stream against a fake engine on a unix socket: lines split
// across chunks, a stream that ends, an engine that refuses, reconnection that
// resumes from the newest event seen, and the thread's posted tasks.

#include "runtime-drivers/docker/docker_events.hpp"

#include "runtime-drivers/docker/docker_json.hpp"
#include "tests/runtime-drivers/test_support.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <functional>

namespace tutti::runtime_drivers::docker {
namespace {

using namespace std::chrono_literals;
using test::eventually;
using test::temp_dir;

/// Answers each connection with the next script (raw bytes, written piece by
/// piece with a short pause so the client sees separate chunks); the last
/// script's connection is held open until the server stops.
class fake_engine {
public:
  using script = std::vector<std::string>;

  fake_engine(const std::string& path, std::vector<script> scripts)
    : path_(path), scripts_(std::move(scripts)) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 8) != 0)
      throw std::runtime_error("cannot listen on " + path);
    thread_ = std::thread{[this] { serve(); }};
  }

  ~fake_engine() {
    stop_ = true;
    thread_.join();
    for (int fd : held_)
      ::close(fd);
    ::close(fd_);
  }

  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> guard{mutex_};
    return requests_;
  }

private:
  void serve() {
    size_t next = 0;
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) != 1)
        continue;
      int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0)
        continue;
      std::string request;
      char buf[4096];
      while (request.find("\r\n\r\n") == std::string::npos) {
        auto n = ::read(conn, buf, sizeof(buf));
        if (n <= 0)
          break;
        request.append(buf, static_cast<size_t>(n));
      }
      {
        std::lock_guard<std::mutex> guard{mutex_};
        requests_.push_back(request.substr(0, request.find("\r\n")));
      }
      if (next >= scripts_.size()) {
        ::close(conn);
        continue;
      }
      for (auto& piece : scripts_[next]) {
        [[maybe_unused]] auto n = ::write(conn, piece.data(), piece.size());
        std::this_thread::sleep_for(10ms); // -- allowed: polling interval of a deadline wait
      }
      if (++next == scripts_.size())
        held_.push_back(conn);
      else
        ::close(conn);
    }
  }

  std::string path_;
  std::vector<script> scripts_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> requests_;
  std::vector<int> held_;
  std::thread thread_;
};

const std::string stream_head =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

std::string chunk(const std::string& data) {
  char size[16];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return size + data + "\r\n";
}

std::string die_line(const std::string& id, int64_t time_nano) {
  return R"({"Type":"container","Action":"die","Actor":{"ID":")" + id +
         R"(","Attributes":{"exitCode":"3"}},"timeNano":)" + std::to_string(time_nano) + "}\n";
}

/// What the handlers saw, for waiting on.
struct recorder {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::vector<std::string> lost;
  int connected = 0;
  std::thread::id thread;

  event_stream::handlers handlers() {
    event_stream::handlers h;
    h.on_line = [this](const std::string& line) {
      std::lock_guard<std::mutex> guard{mutex};
      lines.push_back(line);
      thread = std::this_thread::get_id();
      auto e = parse_event(line);
      return e ? e->time_nano : int64_t{0};
    };
    h.on_connected = [this] {
      std::lock_guard<std::mutex> guard{mutex};
      ++connected;
    };
    h.on_lost = [this](const std::string& why, bool) {
      std::lock_guard<std::mutex> guard{mutex};
      lost.push_back(why);
    };
    return h;
  }

  template <class F> auto read(F f) {
    std::lock_guard<std::mutex> guard{mutex};
    return f();
  }
};

TEST(docker_event_stream, splits_lines_reconnects_and_resumes_after_the_newest_event) {
  temp_dir dir;
  auto socket = dir.path() + "/engine.sock";
  // Newer than "now": the first request asks for what came since shortly before.
  auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  auto line1 = die_line("aaa", (now_s + 10) * 1'000'000'000 + 123456789);
  auto line2 = die_line("bbb", (now_s + 11) * 1'000'000'000 + 1);
  auto resumed = "since=" + std::to_string(now_s + 11) + ".000000001 ";
  fake_engine engine{socket,
                     {
                         // A line split across chunks, then two lines in one chunk, then the end.
                         {stream_head, chunk(line1.substr(0, 20)),
                          chunk(line1.substr(20) + line2 + "\n"), "0\r\n\r\n"},
                         // An engine refusing the request.
                         {"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                          "Content-Length: 18\r\n\r\n{\"message\":\"boom\"}"},
                         // A stream that stays open.
                         {stream_head},
                     }};
  recorder seen;
  event_stream stream{socket, "/events?filters=x", seen.handlers(), 10ms, 40ms};
  stream.start();

  ASSERT_TRUE(eventually([&] { return seen.read([&] { return seen.connected == 2; }); }));
  EXPECT_TRUE(eventually([&] { return stream.connected(); }));
  EXPECT_EQ(stream.connects(), 2u);
  seen.read([&] {
    EXPECT_EQ(seen.lines, (std::vector<std::string>{line1.substr(0, line1.size() - 1),
                                                    line2.substr(0, line2.size() - 1)}));
    EXPECT_NE(seen.thread, std::this_thread::get_id());
    ASSERT_EQ(seen.lost.size(), 2u);
    EXPECT_NE(seen.lost[0].find("closed the events stream"), std::string::npos) << seen.lost[0];
    EXPECT_NE(seen.lost[1].find("refused the events stream: boom"), std::string::npos)
        << seen.lost[1];
  });
  auto requests = engine.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].rfind("GET /v1.41/events?filters=x&since=", 0), 0u) << requests[0];
  // The first request replays from shortly before the stream began ...
  EXPECT_EQ(requests[0].find("since=" + std::to_string(now_s + 11)), std::string::npos)
      << requests[0];
  // ... later ones from the newest event seen.
  EXPECT_NE(requests[1].find(resumed), std::string::npos) << requests[1];
  EXPECT_NE(requests[2].find(resumed), std::string::npos) << requests[2];
}

TEST(docker_line_splitter, refuses_a_line_past_its_limit_and_keeps_none_of_it) {
  line_splitter splitter{8};
  std::vector<std::string> lines;
  EXPECT_TRUE(splitter.feed("12345678\nabc", 12, lines));
  EXPECT_EQ(lines, std::vector<std::string>{"12345678"});
  EXPECT_FALSE(splitter.feed("defghi", 6, lines)); // "abcdefghi": 9 bytes, no newline yet
  EXPECT_FALSE(splitter.feed("\nok\n", 4, lines)); // the stream stays refused
  EXPECT_EQ(lines, std::vector<std::string>{"12345678"});
}

TEST(docker_event_stream, ends_a_stream_whose_line_passes_the_limit_and_reconnects) {
  temp_dir dir;
  auto socket = dir.path() + "/engine.sock";
  std::string endless(line_splitter::default_max_line + 1, 'x');
  fake_engine engine{socket, {{stream_head, chunk(endless)}, {stream_head}}};
  recorder seen;
  event_stream stream{socket, "/events", seen.handlers(), 10ms, 40ms};
  stream.start();
  ASSERT_TRUE(eventually([&] { return stream.connects() == 2; }));
  seen.read([&] {
    EXPECT_TRUE(seen.lines.empty());
    ASSERT_EQ(seen.lost.size(), 1u);
    EXPECT_EQ(seen.lost[0],
              "the Docker engine at " + socket + " sent an event line longer than 1048576 bytes");
  });
}

TEST(docker_event_stream, reports_an_engine_that_is_not_there_at_every_attempt) {
  temp_dir dir;
  recorder seen;
  event_stream stream{dir.path() + "/none.sock", "/events", seen.handlers(), 5ms, 10ms};
  stream.start();
  ASSERT_TRUE(eventually([&] { return seen.read([&] { return seen.lost.size() >= 3; }); }));
  EXPECT_FALSE(stream.connected());
  seen.read([&] {
    EXPECT_EQ(seen.lost[0], "cannot reach the Docker engine at " + dir.path() +
                                "/none.sock: No such file or directory; is dockerd running?");
  });
}

TEST(docker_event_stream, runs_posted_tasks_in_time_order_on_its_thread) {
  temp_dir dir;
  recorder seen;
  event_stream stream{dir.path() + "/none.sock", "/events", seen.handlers(), 1s, 1s};
  stream.start();
  std::mutex mutex;
  std::vector<int> order;
  std::thread::id thread;
  auto record = [&](int n) {
    return [&, n] {
      std::lock_guard<std::mutex> guard{mutex};
      order.push_back(n);
      thread = std::this_thread::get_id();
    };
  };
  auto now = event_stream::clock::now();
  stream.post_at(now + 60ms, record(3));
  stream.post_at(now + 30ms, record(2));
  stream.post(record(1));
  stream.post_at(now + 10min, record(4)); // dropped when the stream goes
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> guard{mutex};
    return order.size() == 3;
  }));
  std::lock_guard<std::mutex> guard{mutex};
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_NE(thread, std::this_thread::get_id());
}

} // namespace
} // namespace tutti::runtime_drivers::docker
