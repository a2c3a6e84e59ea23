#pragma once

// Private to actors/api: what the API server's gate and the sessions it hands
// out share (api_server.cpp, session_service.cpp): the live actors, the token
// book, custom roles, the audit log, and the helpers that carry answers from
// CAF's threads to KJ's.

#include "actors/api/actor_calls.hpp"
#include "actors/api/api_server.hpp"

#include "access/policy.hpp"
#include "access/records.hpp"
#include "access/token_book.hpp"
#include "access/tokens.hpp"

#include "config/spec_parser.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"
#include "protocol/utf8.hpp"

#include <caf/all.hpp>

#include <kj/async.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace tutti::actors::api_internal {

using api_calls::ask_actor;

/// A live actor (the cluster actor, the admin), read by the KJ thread and
/// written by CAF's.
template <class Handle> class actor_slot {
public:
  void set(Handle x) {
    std::lock_guard<std::mutex> guard{mtx_};
    handle_ = std::move(x);
  }
  Handle get() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return handle_;
  }

private:
  mutable std::mutex mtx_;
  Handle handle_;
};

using cluster_slot = actor_slot<cluster_actor>;
using admin_slot = actor_slot<supervising_actor>;
using controllers_slot = actor_slot<controllers_actor>;
using store_slot = actor_slot<store_actor>;

/// Where this process's audit record ids start counting: random, so that two
/// control processes of one store (a failover) do not make the same id.
inline uint64_t random_base() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) | rd();
}

inline int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

template <class T, class... Ts>
kj::Promise<caf::expected<T>> ask(caf::actor_system& sys, const cluster_slot& slot,
                                  caf::timespan timeout, Ts... xs) {
  return ask_actor<T>(sys, slot.get(), timeout, std::move(xs)...);
}

/// Values an actor pushes to a streaming call (events to a follower, endpoint
/// sets to a watcher), handed from CAF's thread to KJ's.
template <class T> class value_pipe {
public:
  void push(std::vector<T> xs) {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& x : xs)
      queue_.push_back(std::move(x));
    if (waiter_) {
      waiter_->fulfill();
      waiter_ = nullptr;
    }
  }

  /// Resolves (on the KJ thread) when events are queued.
  kj::Promise<void> ready() {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!queue_.empty())
      return kj::READY_NOW;
    auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
    waiter_ = kj::mv(paf.fulfiller);
    return kj::mv(paf.promise);
  }

  std::vector<T> take() {
    std::lock_guard<std::mutex> guard{mtx_};
    std::vector<T> out(std::make_move_iterator(queue_.begin()),
                       std::make_move_iterator(queue_.end()));
    queue_.clear();
    return out;
  }

private:
  std::mutex mtx_;
  std::deque<T> queue_;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> waiter_;
};

/// The API of one client connection (each connection gets its own, so that the
/// calls and streams it counts are that client's).
/// `e` with its description in valid UTF-8: Cap'n Proto's own checks quote the
/// bytes of a malformed request (a Text without its NUL shows its last byte),
/// and the description goes to the client as the exception's reason, a Text.
inline kj::Exception in_utf8(const kj::Exception& e) {
  auto description = e.getDescription();
  std::string_view text{description.begin(), description.size()};
  if (p::valid_utf8(text))
    return e;
  return kj::Exception{e.getType(), e.getFile(), e.getLine(),
                       kj::str(p::escape_invalid_utf8(text))};
}

/// What every connection's gate and sessions share: the server's collaborators.
struct server_parts {
  caf::actor_system& sys;
  const api_server::options& opts;
  metrics::recorder& metrics;
  const cluster_slot& slot;
  const admin_slot& admin;
  const controllers_slot& controllers;
  const store_slot& store;
  access::token_book& tokens;
  access::policy& policy;
  bool* policy_loaded; // on the KJ thread only
  uint64_t audit_suffix_base; // random per process, so ids of two processes differ
  uint64_t* audit_count;      // on the KJ thread only
  int64_t* last_token_reload_ms;
  const std::string* dashboard_url; // set before the API serves; empty: no dashboard

  /// Appends `x` to the audit log; a failure is logged, the call goes on.
  /// Every so many records the oldest beyond limits.audit_records go.
  void audit(p::audit_record x) const {
    constexpr uint64_t prune_every = 1024;
    x.time_ms = now_ms();
    x.id = access::audit_id(x.time_ms, audit_suffix_base + (*audit_count)++);
    if (*audit_count % prune_every == 0)
      ask_actor<uint64_t>(sys, store.get(), opts.call_timeout, p::delete_atom::value,
                          p::object_kind::audit, static_cast<uint64_t>(opts.limits.audit_records))
          .detach([](kj::Exception&&) {});
    p::stored_object obj{p::object_kind::audit, x.id, access::encode(x)};
    ask_actor<bool>(sys, store.get(), opts.call_timeout, p::put_atom::value, std::move(obj))
        .then([](caf::expected<bool> r) {
          if (!r)
            spdlog::warn("api: an audit record was not stored: {}", p::message_of(r.error()));
        })
        .detach([](kj::Exception&& e) {
          spdlog::warn("api: an audit record was not stored: {}", e.getDescription().cStr());
        });
  }

  /// Reads the custom roles and their bindings from the store.
  kj::Promise<caf::error> reload_policy() const {
    auto read = [this](p::object_kind kind) {
      return ask_actor<std::vector<p::stored_object>>(sys, store.get(), opts.call_timeout,
                                                      p::get_atom::value, kind, std::string{},
                                                      uint32_t{1} << 20);
    };
    return read(p::object_kind::role).then([this, read](auto roles) mutable {
      return read(p::object_kind::role_binding)
          .then([this, roles = kj::mv(roles)](auto bindings) mutable -> caf::error {
            if (!roles)
              return roles.error();
            if (!bindings)
              return bindings.error();
            std::vector<p::custom_role> rs;
            std::vector<p::role_binding> bs;
            for (const auto& x : *roles) {
              auto parsed = config::parse_specs(x.value, "store:role/" + x.name);
              for (auto& r : parsed.roles)
                rs.push_back(std::move(r));
            }
            for (const auto& x : *bindings) {
              auto parsed = config::parse_specs(x.value, "store:rolebinding/" + x.name);
              for (auto& b : parsed.bindings)
                bs.push_back(std::move(b));
            }
            policy.load(std::move(rs), std::move(bs));
            *policy_loaded = true;
            return {};
          });
    });
  }

  /// Reads the bearer tokens from the store into the book.
  kj::Promise<caf::error> reload_tokens() const {
    *last_token_reload_ms = now_ms();
    return ask_actor<std::vector<p::stored_object>>(sys, store.get(), opts.call_timeout,
                                                    p::get_atom::value, p::object_kind::token,
                                                    std::string{}, uint32_t{1} << 20)
        .then([this](caf::expected<std::vector<p::stored_object>> r) -> caf::error {
          if (!r)
            return r.error();
          std::vector<p::token_record> xs;
          for (const auto& obj : *r) {
            auto x = access::decode_token(obj.value);
            if (!x) {
              spdlog::warn("api: token {} is not usable: {}", obj.name, p::message_of(x.error()));
              continue;
            }
            xs.push_back(std::move(*x));
          }
          tokens.load(std::move(xs));
          return {};
        });
  }
};

/// Who a session acts for, and from where.
struct session_info {
  p::identity who;
  std::string secret_sha256; // of its token; empty for a certificate
  std::string peer;          // the client's address
};

} // namespace tutti::actors::api_internal
