#include "runtime-drivers/containerd/exit_stream.hpp"

#include "protocol/errors.hpp"
#include "runtime-drivers/containerd/containerd_client.hpp"

#include <github.com/containerd/containerd/api/events/task.pb.h>

#include <openssl/rand.h>

#include <atomic>
#include <filesystem>

namespace tutti::runtime_drivers::containerd {

namespace {

constexpr const char* exit_topic = "/tasks/exit";
/// What tutti publishes to itself to learn that its subscription is in place.
constexpr const char* marker_topic = "/tutti/subscribed";
constexpr const char* exit_type = "containerd.events.TaskExit";
constexpr auto marker_timeout = std::chrono::seconds{5};
constexpr auto marker_interval = std::chrono::milliseconds{100};
/// Short, so that a driver going away waits for no more than this.
constexpr auto marker_publish_timeout = std::chrono::milliseconds{500};

std::string nonce() {
  unsigned char raw[8];
  RAND_bytes(raw, sizeof raw);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() &&
         text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

} // namespace

exit_stream::exit_stream(const containerd_client& client, handlers h,
                         std::chrono::milliseconds min_backoff,
                         std::chrono::milliseconds max_backoff)
  : client_(client), handlers_(std::move(h)), min_backoff_(min_backoff), max_backoff_(max_backoff) {
}

exit_stream::~exit_stream() {
  {
    std::lock_guard<std::mutex> guard{mutex_};
    stopping_ = true;
    if (current_ != nullptr)
      current_->TryCancel();
  }
  wakeup_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void exit_stream::start() {
  thread_ = std::thread{[this] { run(); }};
}

bool exit_stream::connected() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return connected_;
}

void exit_stream::run() {
  auto delay = min_backoff_;
  for (;;) {
    {
      std::lock_guard<std::mutex> guard{mutex_};
      if (stopping_)
        return;
    }
    bool was_connected = false;
    std::error_code ec;
    if (std::filesystem::exists(client_.socket(), ec)) {
      was_connected = subscribe_once(nonce());
    } else {
      // No socket, no containerd (most hosts without one): a look at the file
      // system, not gRPC's connection attempts and marker calls, until one appears.
      handlers_.on_lost("cannot reach containerd at " + client_.socket() +
                            " (no such socket); is containerd running?",
                        false);
    }
    delay = was_connected ? min_backoff_ : std::min(delay * 2, max_backoff_);
    if (!sleep_backoff(delay))
      return;
  }
}

bool exit_stream::sleep_backoff(std::chrono::milliseconds delay) {
  std::unique_lock<std::mutex> lock{mutex_};
  wakeup_.wait_for(lock, delay, [this] { return stopping_; });
  return !stopping_;
}

bool exit_stream::publish_marker(const std::string& marker) {
  api::events::PublishRequest req;
  req.set_topic(marker_topic);
  req.mutable_event()->set_type_url("tutti/subscribed");
  req.mutable_event()->set_value(marker);
  google::protobuf::Empty resp;
  auto ctx = client_.context(marker_publish_timeout, {}, true);
  return client_.events().Publish(ctx.get(), req, &resp).ok();
}

bool exit_stream::subscribe_once(const std::string& marker) {
  auto ns = client_.name_space();
  api::events::SubscribeRequest req;
  req.add_filters("namespace==" + ns + ",topic==\"" + exit_topic + "\"");
  req.add_filters("namespace==" + ns + ",topic==\"" + marker_topic + "\"");
  // No deadline: the stream lives until it breaks or the driver goes. Waiting
  // for a connection, it reconnects as soon as containerd is back.
  auto ctx = client_.context(std::chrono::hours{24 * 365}, {}, true);
  {
    std::lock_guard<std::mutex> guard{mutex_};
    if (stopping_)
      return false;
    current_ = ctx.get();
  }
  auto reader = client_.events().Subscribe(ctx.get(), req);
  // From another thread, as this one waits in Read: markers until one comes
  // back (one published before containerd registered the subscription is not
  // delivered); none back within marker_timeout ends the stream, as an
  // unconfirmed subscription cannot be trusted, and a new one is tried.
  std::atomic<bool> confirmed{false};
  std::thread marker_thread{[this, marker, &confirmed, ctx = ctx.get()] {
    auto deadline = std::chrono::steady_clock::now() + marker_timeout;
    while (!confirmed && std::chrono::steady_clock::now() < deadline) {
      publish_marker(marker); // a failure is tried again until the deadline
      std::unique_lock<std::mutex> lock{mutex_};
      if (wakeup_.wait_for(lock, marker_interval, [&] { return stopping_ || confirmed; }))
        return;
    }
    if (!confirmed)
      ctx->TryCancel();
  }};
  std::string why;
  api::events::Envelope envelope;
  while (reader->Read(&envelope)) {
    if (envelope.topic() == marker_topic) {
      if (!confirmed && envelope.event().value() == marker) {
        {
          std::lock_guard<std::mutex> guard{mutex_};
          confirmed = true;
          connected_ = true;
        }
        wakeup_.notify_all();
        handlers_.on_connected();
      }
      continue;
    }
    if (envelope.topic() != exit_topic || !ends_with(envelope.event().type_url(), exit_type))
      continue;
    ::containerd::events::TaskExit e;
    if (!e.ParseFromString(envelope.event().value()))
      continue;
    handlers_.on_exit({e.container_id(), e.id(), e.pid(), e.exit_status()});
  }
  marker_thread.join();
  auto status = reader->Finish();
  {
    std::lock_guard<std::mutex> guard{mutex_};
    current_ = nullptr;
    connected_ = false;
    if (stopping_)
      return confirmed;
  }
  if (auto err = client_.check(status, "the event stream of containerd ended"))
    why = protocol::message_of(err);
  else
    why = "the event stream of containerd at " + client_.socket() + " ended";
  handlers_.on_lost(why, confirmed);
  return confirmed;
}

} // namespace tutti::runtime_drivers::containerd
