#pragma once

// A private etcd cluster (etcd.hpp) and a client of it, for tests that link
// tutti::persistence. Header only: test_support itself does not link it.

#include "persistence/etcd_client.hpp"
#include "protocol/errors.hpp"
#include "tests/support/etcd.hpp"

#include <chrono>
#include <memory>
#include <stdexcept>

namespace tutti::tests::support {

/// A client of every member of `c`; throws when the options are refused.
inline std::shared_ptr<persistence::etcd::client>
etcd_client_of(const etcd_cluster& c, std::chrono::milliseconds timeout = std::chrono::seconds{5}) {
  persistence::etcd::client_options opts;
  opts.endpoints = c.client_urls();
  opts.timeout = timeout;
  auto client = persistence::etcd::client::make(opts);
  if (!client)
    throw std::runtime_error("etcd client: " + protocol::message_of(client.error()));
  return std::shared_ptr<persistence::etcd::client>(std::move(*client));
}

} // namespace tutti::tests::support
