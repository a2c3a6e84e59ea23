#pragma once

// A Cap'n Proto client of the API that is not the `tutti` CLI: generated
// stubs on a KJ event loop of the calling thread, logged in at the gate with
// a token (the daemon's admin token unless another is given).

#include "tests/support/temp_dir.hpp"
#include "tests/support/tuttid_process.hpp"

#include "protocol/api.capnp.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <string>

namespace tutti::tests::integration {

class raw_client {
public:
  raw_client(const support::tuttid_process& d, const std::string& token)
    : io_(kj::setupAsyncIo()),
      stream_(io_.provider->getNetwork()
                  .parseAddress("127.0.0.1", d.api_port())
                  .then([](kj::Own<kj::NetworkAddress> a) { return a->connect(); })
                  .wait(io_.waitScope)),
      client_(*stream_), gate_(client_.bootstrap().castAs<protocol::rpc::Gate>()),
      tutti_(login(token)) {}

  explicit raw_client(const support::tuttid_process& d)
    : raw_client(d, admin_token(d)) {}

  /// The daemon's admin token, from the file it was given.
  static std::string admin_token(const support::tuttid_process& d) {
    auto text = support::read_file(d.admin_token_file());
    return text.substr(0, text.find('\n'));
  }

  protocol::rpc::Gate::Client& gate() { return gate_; }
  protocol::rpc::Tutti::Client& api() { return tutti_; }
  kj::WaitScope& wait() { return io_.waitScope; }

private:
  protocol::rpc::Tutti::Client login(const std::string& token) {
    auto req = gate_.sessionRequest();
    req.setToken(token);
    return req.send().getSession();
  }

  kj::AsyncIoContext io_;
  kj::Own<kj::AsyncIoStream> stream_;
  capnp::TwoPartyClient client_;
  protocol::rpc::Gate::Client gate_;
  protocol::rpc::Tutti::Client tutti_;
};

} // namespace tutti::tests::integration
