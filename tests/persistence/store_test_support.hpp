#pragma once

// What the persistence tests share: a temporary directory, a store opened with a
// fixed clock, and small helpers.

#include "persistence/lmdb_store.hpp"
#include "protocol/errors.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <stdlib.h>

namespace tutti::persistence::test_support {

constexpr int64_t fixed_now = 1'700'000'000'000;

/// A fresh directory under `base`, removed with everything in it at scope exit.
class temp_dir {
public:
  explicit temp_dir(const std::string& base = "/tmp") {
    std::string tmpl = base + "/tutti-persistence-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
      throw std::runtime_error(std::string{"mkdtemp: "} + std::strerror(errno));
    path_ = tmpl;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec)
      std::fprintf(stderr, "warning: could not remove %s: %s\n", path_.c_str(),
                   ec.message().c_str());
  }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

inline store_options test_options() {
  store_options opts;
  opts.map_size = uint64_t{16} << 20;
  opts.clock_ms = [] { return fixed_now; };
  return opts;
}

inline std::unique_ptr<lmdb_store> open_store(const std::string& dir,
                                              store_options opts = test_options()) {
  auto store = lmdb_store::open(dir, std::move(opts));
  if (!store)
    throw std::runtime_error("open failed: " + protocol::message_of(store.error()));
  return std::move(*store);
}

/// The value of an expected, or a test failure naming the error.
template <class T> T must(caf::expected<T> x) {
  if (!x)
    throw std::runtime_error("unexpected error: " + protocol::message_of(x.error()));
  return std::move(*x);
}

inline protocol::event make_event(std::string service, std::string kind = "replica_started") {
  protocol::event x;
  x.kind = std::move(kind);
  x.service = std::move(service);
  x.replica = x.service.empty() ? "" : x.service + "-0";
  x.message = "because a test said so";
  return x;
}

} // namespace tutti::persistence::test_support
