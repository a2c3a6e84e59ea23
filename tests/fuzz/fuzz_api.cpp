// Every API request a client can send, decoded and executed: the input is the
// byte stream of one client connection (Cap'n Proto RPC messages, framed), sent
// to the real API server of a `tuttid dev` running in this process (the sim
// driver only, its store in a directory removed as soon as it is open).
//
// After the input the target asks, on the same connection, for the services:
// its answer comes after the cluster actor has handled every earlier call. Then,
// on a connection of its own, it checks and resets:
// - no actor of the tree was restarted (an exception escaping a handler is one);
// - every Text the server sent (answers, exceptions, calls to the client's
//   sinks) is valid UTF-8;
// - the server answers within a deadline (else a hang);
// and it deletes the services and makes the node ready again, so each input
// meets a cluster in the same state.

#include "actors/daemon/dev_daemon.hpp"
#include "protocol/api.capnp.h"
#include "protocol/utf8.hpp"
#include "tests/fuzz/api_messages.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <capnp/dynamic.h>
#include <capnp/rpc.capnp.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

using tutti::fuzz::api_method;
using tutti::fuzz::check;

namespace {

namespace rpc = tutti::protocol::rpc;
namespace p = tutti::protocol;
using clock_type = std::chrono::steady_clock;

constexpr auto answer_deadline = std::chrono::seconds{20};
// Question ids of the target's own calls: far above what a client counts to,
// so an input rarely takes one (the server then ends the connection, which
// ends the input too).
constexpr uint32_t own_questions = 0xFFFFFF00;

/// The dev daemon, started once: libFuzzer calls the target many times.
struct environment {
  std::unique_ptr<tutti::actors::dev_daemon> daemon;
  uint16_t port = 0;

  environment() {
    ::signal(SIGPIPE, SIG_IGN);
    // TUTTI_FUZZ_LOG=info (or debug ...) shows the daemon's log, to read what a
    // slow or failing input made it do.
    auto level = std::getenv("TUTTI_FUZZ_LOG");
    spdlog::set_level(level ? spdlog::level::from_str(level) : spdlog::level::off);
    auto dir =
        std::filesystem::temp_directory_path() / ("tutti-fuzz-api-" + std::to_string(::getpid()));
    tutti::config::daemon_config cfg;
    cfg.data_dir = dir.string();
    cfg.api = {"127.0.0.1", 0};
    cfg.metrics = {"127.0.0.1", 0};
    cfg.node.name = "fuzz";
    // Specs run nothing: no process runs a fuzzed command, no engine is asked.
    cfg.process.enabled = false;
    cfg.docker.enabled = false;
    cfg.containerd.enabled = false;
    cfg.store.map_size = uint64_t{256} << 20;
    // Small, so that one input cannot place a million sim replicas.
    cfg.limits.documents_per_apply = 4;
    cfg.limits.services = 8;
    cfg.stop_replicas_on_exit = true;
    // Inputs log in with the token make_api_corpus's seeds carry.
    std::filesystem::create_directories(dir);
    cfg.access.admin_token_file = (dir / "admin.token").string();
    {
      std::ofstream token{cfg.access.admin_token_file};
      token << tutti::fuzz::admin_token << "\n";
    }
    std::filesystem::permissions(cfg.access.admin_token_file, std::filesystem::perms::owner_read |
                                                                 std::filesystem::perms::owner_write);
    auto started = tutti::actors::dev_daemon::start(cfg);
    if (!started) {
      std::fprintf(stderr, "fuzz_api: %s\n", p::message_of(started.error()).c_str());
      std::abort();
    }
    // The store keeps its files open: nothing is left behind, also on a crash.
    std::filesystem::remove_all(dir);
    daemon = std::move(*started);
    port = daemon->bound().api;
  }
};

environment& env() {
  static auto* x = new environment; // never destroyed: its threads outlive every call
  return *x;
}

// --- checking what the server sends ------------------------------------------

void check_text(capnp::Text::Reader text, const char* what) {
  std::string_view bytes{text.begin(), text.size()};
  if (p::valid_utf8(bytes))
    return;
  std::fprintf(stderr, "the text: %s\n", p::escape_invalid_utf8(bytes).c_str());
  check(false, what);
}

void check_texts(capnp::DynamicValue::Reader value);

void check_struct_texts(capnp::DynamicStruct::Reader s) {
  for (auto field : s.getSchema().getNonUnionFields())
    if (s.has(field))
      check_texts(s.get(field));
  KJ_IF_MAYBE (field, s.which())
    if (s.has(*field))
      check_texts(s.get(*field));
}

void check_texts(capnp::DynamicValue::Reader value) {
  switch (value.getType()) {
    case capnp::DynamicValue::TEXT:
      check_text(value.as<capnp::Text>(), "the server sent Text that is not UTF-8");
      break;
    case capnp::DynamicValue::STRUCT:
      check_struct_texts(value.as<capnp::DynamicStruct>());
      break;
    case capnp::DynamicValue::LIST:
      for (auto element : value.as<capnp::DynamicList>())
        check_texts(element);
      break;
    default:
      break;
  }
}

/// The schema of a method's results (or, for a call to a sink, its params).
capnp::StructSchema results_of(uint16_t method) {
  return capnp::Schema::from<rpc::Tutti>().getMethods()[method].getResultType();
}

std::optional<capnp::StructSchema> sink_params(uint64_t interface, uint16_t method) {
  for (auto schema :
       {capnp::Schema::from<rpc::EventSink>(), capnp::Schema::from<rpc::EndpointSink>()})
    if (schema.getProto().getId() == interface && method < schema.getMethods().size())
      return schema.getMethods()[method].getParamType();
  return std::nullopt;
}

// --- the wire -------------------------------------------------------------------

/// Takes whole framed messages off the front of a byte buffer.
class message_splitter {
public:
  void append(std::string_view bytes) { buffer_.append(bytes); }

  /// Bytes of a message not yet whole.
  bool holds_part() const { return !buffer_.empty(); }

  /// The next whole message, or nothing yet. Throws kj::Exception on a frame
  /// that cannot be a message.
  kj::Maybe<kj::Array<capnp::word>> next() {
    size_t whole_words = buffer_.size() / sizeof(capnp::word);
    if (whole_words == 0)
      return nullptr;
    // The segment table: at most 257 words (a reader takes at most 512 segments).
    auto prefix = kj::heapArray<capnp::word>(std::min<size_t>(whole_words, 260));
    std::memcpy(prefix.begin(), buffer_.data(), prefix.size() * sizeof(capnp::word));
    size_t size = capnp::expectedSizeInWordsFromPrefix(prefix);
    if (size > whole_words)
      return nullptr;
    auto out = kj::heapArray<capnp::word>(size);
    std::memcpy(out.begin(), buffer_.data(), size * sizeof(capnp::word));
    buffer_.erase(0, size * sizeof(capnp::word));
    return kj::mv(out);
  }

private:
  std::string buffer_;
};

/// What the client sent: the uses of each question id in order (a question id
/// is free again once answered and finished), each a method of the Tutti
/// interface or none (a bootstrap, another interface), so that answers are read
/// by their method's schema; and how many answers it waits for per question
/// (not the streams, which stay open, and none after a Finish).
struct client_calls {
  std::map<uint32_t, std::deque<std::optional<uint16_t>>> uses;
  std::map<uint32_t, int> awaited;
  bool ends_inside_a_message = false; // the server waits for the rest
  bool sets_node_state = false;
};

bool is_stream(uint16_t method) {
  return method == static_cast<uint16_t>(api_method::follow) ||
         method == static_cast<uint16_t>(api_method::watch_endpoints);
}

void note(capnp::rpc::Message::Reader message, client_calls& out) {
  if (message.isFinish()) {
    out.awaited.erase(message.getFinish().getQuestionId());
    return;
  }
  if (message.isBootstrap()) {
    out.uses[message.getBootstrap().getQuestionId()].push_back(std::nullopt);
    return;
  }
  if (!message.isCall())
    return;
  auto call = message.getCall();
  auto& uses = out.uses[call.getQuestionId()];
  if (call.getInterfaceId() != capnp::typeId<rpc::Tutti>() ||
      call.getMethodId() >= capnp::Schema::from<rpc::Tutti>().getMethods().size()) {
    uses.push_back(std::nullopt);
    return;
  }
  uses.push_back(call.getMethodId());
  if (call.getMethodId() == static_cast<uint16_t>(api_method::set_node_state))
    out.sets_node_state = true;
  if (!is_stream(call.getMethodId()))
    ++out.awaited[call.getQuestionId()];
}

client_calls calls_in(std::string_view input) {
  client_calls out;
  message_splitter splitter;
  splitter.append(input);
  try {
    while (true) {
      KJ_IF_MAYBE (words, splitter.next()) {
        capnp::FlatArrayMessageReader reader{*words};
        note(reader.getRoot<capnp::rpc::Message>(), out);
      } else {
        out.ends_inside_a_message = splitter.holds_part();
        break;
      }
    }
  } catch (const kj::Exception&) {
    // The server ends the connection at the first frame it cannot read.
  }
  return out;
}

/// One client connection: sends bytes and reads the server's messages, each
/// checked, until a given answer arrives or the server ends the connection.
class connection {
public:
  connection() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    check(fd_ >= 0, "socket");
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(env().port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 && !completes()) {
      std::fprintf(stderr, "connect to 127.0.0.1:%u: %s\n", env().port, std::strerror(errno));
      check(false, "connecting to the API server");
    }
  }
  ~connection() { ::close(fd_); }

  /// A connect that a signal interrupted (libFuzzer's -timeout alarm, every
  /// second) goes on in the background: waits for it and says how it ended.
  bool completes() {
    if (errno != EINTR)
      return false;
    pollfd pfd{fd_, POLLOUT, 0};
    int ready;
    while ((ready = ::poll(&pfd, 1, 5000)) < 0 && errno == EINTR) {
    }
    int error = 0;
    socklen_t len = sizeof(error);
    if (ready != 1 || ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) != 0)
      return false;
    errno = error;
    return error == 0;
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  void expect_calls(client_calls calls) { calls_ = std::move(calls); }

  /// Reads until every call the client awaits is answered or the connection ends.
  void answer_all() {
    auto deadline = clock_type::now() + answer_deadline;
    while (!closed_ && !calls_.awaited.empty()) {
      if (clock_type::now() >= deadline)
        for (const auto& [id, n] : calls_.awaited)
          std::fprintf(stderr, "unanswered: question %u, method %d\n", id,
                       calls_.uses[id].empty() || !calls_.uses[id].front()
                           ? -1
                           : int{*calls_.uses[id].front()});
      check(clock_type::now() < deadline, "a call of the input unanswered after 20 s (a hang)");
      pump();
      drain();
    }
  }

  void send(std::string_view bytes) { pending_.append(bytes); }

  /// Sends what is pending, then the end of the stream, and reads until the
  /// server ends the connection.
  void finish() {
    auto deadline = clock_type::now() + answer_deadline;
    while (!pending_.empty() && !closed_) {
      check(clock_type::now() < deadline, "the server read nothing for 20 s (a hang)");
      pump();
      drain();
    }
    ::shutdown(fd_, SHUT_WR);
    while (!closed_) {
      check(clock_type::now() < deadline, "the connection not ended 20 s after the input");
      pump();
      drain();
    }
  }

  /// Sends what is pending and reads until the answer to `question` arrives
  /// (its results, when it has some) or the connection ends (nullptr).
  kj::Maybe<kj::Array<capnp::word>> answer(uint32_t question) {
    auto deadline = clock_type::now() + answer_deadline;
    while (!closed_) {
      if (clock_type::now() >= deadline)
        std::fprintf(stderr, "unanswered: question %u (the target's own)\n", question);
      check(clock_type::now() < deadline, "no answer within 20 s (a hang)");
      pump();
      KJ_IF_MAYBE (words, drain(question))
        return kj::mv(*words);
    }
    return nullptr;
  }

private:
  /// One poll: writes what it can, reads what is there.
  void pump() {
    pollfd pfd{fd_, static_cast<short>(POLLIN | (pending_.empty() ? 0 : POLLOUT)), 0};
    if (::poll(&pfd, 1, 100) <= 0)
      return;
    if ((pfd.revents & POLLOUT) != 0) {
      auto n = ::send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
      if (n > 0)
        pending_.erase(0, static_cast<size_t>(n));
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        pending_.clear(); // the server closed: what is left is never read
    }
    if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      char buf[65536];
      auto n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0)
        splitter_.append({buf, static_cast<size_t>(n)});
      else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        closed_ = true;
    }
  }

  /// Handles the whole messages read; returns the answer to `question` when
  /// it is among them.
  kj::Maybe<kj::Array<capnp::word>> drain(std::optional<uint32_t> question = std::nullopt) {
    while (true) {
      KJ_IF_MAYBE (words, splitter_.next()) {
        auto answered = handle(*words);
        if (answered && answered == question)
          return kj::mv(*words);
      } else {
        return nullptr;
      }
    }
  }

  /// Checks one message of the server; returns the question a Return answers.
  std::optional<uint32_t> handle(kj::ArrayPtr<const capnp::word> words) {
    capnp::FlatArrayMessageReader reader{words};
    auto message = reader.getRoot<capnp::rpc::Message>();
    switch (message.which()) {
      case capnp::rpc::Message::RETURN:
        return handle_return(message.getReturn());
      case capnp::rpc::Message::ABORT:
        check_text(message.getAbort().getReason(), "an Abort's reason is not UTF-8");
        closed_ = true;
        return std::nullopt;
      case capnp::rpc::Message::CALL: {
        auto call = message.getCall();
        if (auto schema = sink_params(call.getInterfaceId(), call.getMethodId()))
          check_struct_texts(call.getParams().getContent().getAs<capnp::DynamicStruct>(*schema));
        return std::nullopt;
      }
      default:
        return std::nullopt;
    }
  }

  std::optional<uint32_t> handle_return(capnp::rpc::Return::Reader ret) {
    auto id = ret.getAnswerId();
    if (ret.isException())
      check_text(ret.getException().getReason(), "an exception's reason is not UTF-8");
    if (auto a = calls_.awaited.find(id); a != calls_.awaited.end() && --a->second <= 0)
      calls_.awaited.erase(a);
    std::optional<uint16_t> method;
    if (auto& uses = calls_.uses[id]; !uses.empty()) {
      method = uses.front();
      uses.pop_front();
    }
    if (ret.isResults() && method)
      check_struct_texts(
          ret.getResults().getContent().getAs<capnp::DynamicStruct>(results_of(*method)));
    return id;
  }

  int fd_ = -1;
  std::string pending_;
  message_splitter splitter_;
  client_calls calls_;
  bool closed_ = false;
};

// --- the target's own calls ------------------------------------------------------

template <class Results>
void read_results(kj::ArrayPtr<const capnp::word> words,
                  kj::FunctionParam<void(typename Results::Reader)> use) {
  capnp::FlatArrayMessageReader reader{words};
  auto ret = reader.getRoot<capnp::rpc::Message>().getReturn();
  check(ret.isResults(), "the target's own call failed");
  use(ret.getResults().getContent().getAs<Results>());
}

/// Calls `method` on a bootstrapped connection and reads its results.
template <class Params, class Results>
void call(connection& c, uint32_t& next_id, api_method method,
          kj::Function<void(typename Params::Builder)> fill,
          kj::FunctionParam<void(typename Results::Reader)> use) {
  auto id = next_id++;
  c.send(tutti::fuzz::call_message<Params>(id, own_questions + 1, static_cast<uint16_t>(method),
                                           kj::mv(fill)));
  KJ_IF_MAYBE (words, c.answer(id)) {
    read_results<Results>(*words, use);
  } else {
    check(false, "the server ended the target's own connection");
  }
}

std::vector<std::string> service_names(connection& c, uint32_t& next_id) {
  std::vector<std::string> names;
  call<rpc::Tutti::GetServicesParams, rpc::Tutti::GetServicesResults>(
      c, next_id, api_method::get_services, [](auto) {},
      [&](auto results) {
        for (auto s : results.getServices())
          names.emplace_back(s.getName().cStr());
      });
  return names;
}

/// No actor of the tree restarted since the daemon started.
void check_no_restarts(connection& c, uint32_t& next_id) {
  call<rpc::Tutti::TreeParams, rpc::Tutti::TreeResults>(
      c, next_id, api_method::tree, [](auto) {},
      [](auto results) {
        for (auto actor : results.getActors())
          if (actor.getRestarts() != 0) {
            std::fprintf(stderr, "actor %s restarted %d times, last exit: %s\n",
                         actor.getPath().cStr(), actor.getRestarts(), actor.getLastExit().cStr());
            check(false, "an actor was restarted by a client's request");
          }
      });
}

/// Deletes every service and makes the node ready: the next input starts
/// from the same cluster.
void reset(connection& c, uint32_t& next_id, bool node_state_changed) {
  for (const auto& name : service_names(c, next_id))
    call<rpc::Tutti::DeleteServiceParams, rpc::Tutti::DeleteServiceResults>(
        c, next_id, api_method::delete_service, [name](auto params) { params.setService(name); },
        [](auto) {});
  if (!node_state_changed)
    return;
  call<rpc::Tutti::SetNodeStateParams, rpc::Tutti::SetNodeStateResults>(
      c, next_id, api_method::set_node_state,
      [](auto params) {
        params.setNode("fuzz");
        params.setState(rpc::NodeState::READY);
      },
      [](auto) {});
}

/// The input's connection: its bytes, then a question whose answer comes after
/// the cluster actor handled every earlier call, then the answers still due.
/// An input that ends inside a message ends the stream instead: the server
/// would take the question for the rest of that message.
bool run_input(std::string_view input) {
  connection c;
  auto calls = calls_in(input);
  bool node_state_changed = calls.sets_node_state;
  bool ends_inside = calls.ends_inside_a_message;
  c.expect_calls(std::move(calls));
  c.send(input);
  if (ends_inside) {
    c.finish();
    return node_state_changed;
  }
  c.send(tutti::fuzz::bootstrap_message(own_questions));
  c.send(tutti::fuzz::session_message(own_questions + 1, own_questions));
  auto barrier = own_questions + 2;
  c.send(tutti::fuzz::call_message<rpc::Tutti::GetServicesParams>(
      barrier, own_questions + 1, static_cast<uint16_t>(api_method::get_services), [](auto) {}));
  c.answer(barrier);
  c.answer_all();
  return node_state_changed;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  env();
  bool node_state_changed = run_input({reinterpret_cast<const char*>(data), size});
  connection own;
  uint32_t next_id = own_questions + 2;
  own.send(tutti::fuzz::bootstrap_message(own_questions));
  own.send(tutti::fuzz::session_message(own_questions + 1, own_questions));
  check_no_restarts(own, next_id);
  reset(own, next_id, node_state_changed);
  return 0;
}
