#pragma once

// Erlang/OTP-style supervision for CAF 0.17, which has links and monitors but no
// supervisor. An actor embeds a `supervision` in its state; it spawns children
// through it, and forwards its down and exit messages to it.
//
// A child that ends with a reason other than normal/user_shutdown is restarted
// with the function that started it. More than `max_restarts` restarts of one
// child within `window` escalate: the supervising actor quits with
// `escalated_reason`, so its own supervisor decides. Restart state lives here, not
// in the child.

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/system_messages.hpp>

#include <caf/result.hpp>
#include <caf/scheduled_actor.hpp>

#include "protocol/status.hpp"

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tutti::metrics {
class recorder;
}

namespace tutti::actors {

enum class restart_strategy {
  one_for_one,  // restart only the child that ended
  rest_for_one, // also restart every child started after it (they depend on it)
};

struct restart_limit {
  int32_t max_restarts = 10;
  caf::timespan window = std::chrono::duration_cast<caf::timespan>(std::chrono::seconds{10});
};

/// Spawns a child and returns its handle; called again for each restart.
using start_function = std::function<caf::actor()>;

/// The same, told the child's name: a function that needs only that and its
/// owner captures no string of its own (a node starts one per replica, and a
/// std::function keeps a capture beyond 16 bytes on the heap).
using named_start_function = std::function<caf::actor(const std::string& name)>;

class supervision {
public:
  using clock = std::chrono::steady_clock;

  supervision(caf::scheduled_actor* self, std::string name, restart_strategy strategy,
              restart_limit limit, metrics::recorder& metrics);

  /// Starts (or replaces) the child `name` and monitors it. A child that
  /// `supervises` answers tree_atom and kill_atom about its own children (see
  /// `supervising_actor` in interfaces.hpp).
  caf::actor start_child(const std::string& name, start_function start, bool supervises = false);
  caf::actor start_child(const std::string& name, named_start_function start,
                         bool supervises = false);

  /// Stops and forgets a child: it will not be restarted.
  void stop_child(const std::string& name, caf::error reason);

  /// Stops every child, newest first.
  void stop_all(caf::error reason);

  /// The current handle of a child, or an invalid handle.
  caf::actor child(const std::string& name) const;

  template <class Handle> Handle child_as(const std::string& name) const {
    return caf::actor_cast<Handle>(child(name));
  }

  std::vector<std::string> children() const;

  /// Called from the owner's down handler. Returns false when `msg` is not about
  /// one of our children. Restarts the child (and, for rest_for_one, its younger
  /// siblings) or escalates.
  bool handle_down(const caf::down_msg& msg);

  /// Called after each (re)start of a child, e.g. to refresh cached handles.
  void on_restart(std::function<void(const std::string& child)> f);

  int32_t restarts_of(const std::string& name) const;

  /// The subtree below the owner, with paths relative to it ("/store",
  /// "/cluster/service/web"). Supervising children are asked in parallel; one that
  /// does not answer within a second is shown as unreachable.
  caf::result<std::vector<protocol::actor_info>> tree();

  /// Ends the actor at `path` (relative to the owner, as in `tree`) with
  /// `reason` ("kill", or any text: an error with it as message), or passes the
  /// rest of the path on to the supervising child it starts with. Answers with
  /// the path as it was found.
  caf::result<std::string> kill(const std::string& path, const std::string& reason);

  /// The reason a supervisor quits with when a child exceeds its restart limit.
  static caf::error escalated_reason(const std::string& supervisor, const std::string& child);

private:
  /// What only a child that ended once needs: most never do, and a node
  /// keeps an entry per replica.
  struct history {
    // Restarts within the window, oldest first.
    std::vector<clock::time_point> recent;
    std::string last_exit;
  };

  struct entry {
    std::string name;
    named_start_function start;
    caf::actor handle;
    int32_t total_restarts = 0;
    bool supervises = false;
    std::unique_ptr<history> past; // null until the child first ends
    history& past_of() {
      if (!past)
        past = std::make_unique<history>();
      return *past;
    }
  };

  // Children in start order. A list: entries never move, so the indexes can
  // point into it (and key by the entry's own name), and removing one child of
  // a node's 200 replicas touches no other.
  using child_list = std::list<entry>;
  using child_ref = child_list::iterator;

  /// The child of a live handle or of a name; children_->end() when none.
  child_ref find(const caf::actor_addr& who);
  child_ref find(const std::string& name);
  const entry* find(const std::string& name) const;
  void erase(child_ref i);
  void spawn(child_ref i);
  bool over_limit(entry& e);
  void restart_from(child_ref i);
  void forget(const caf::actor_addr& who);

  caf::scheduled_actor* self_;
  std::string name_;
  restart_strategy strategy_;
  restart_limit limit_;
  metrics::recorder& metrics_;
  // Shared with the functor that ends the children with the supervisor.
  std::shared_ptr<child_list> children_;
  // Lookups by name and by handle: a node supervises one child per replica (200
  // each at a million replicas on 5,000 nodes), and a linear search per lookup
  // made every replica's start cost grow with the node's count.
  std::unordered_map<std::string_view, child_ref> by_name_; // keys: the entries' names
  std::unordered_map<caf::actor_addr, child_ref> by_addr_;  // live handle -> child
  std::function<void(const std::string&)> on_restart_;
};

/// True for the reasons after which a child stays down.
bool is_clean_exit(const caf::error& reason);

} // namespace tutti::actors
