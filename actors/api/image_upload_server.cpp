#include "actors/api/image_upload_server.hpp"

#include "actors/api/actor_calls.hpp"
#include "protocol/capnp_convert.hpp"

#include <caf/all.hpp>

#include <cstdio>
#include <random>

namespace tutti::actors {

namespace {

namespace rpc = protocol::rpc;
using api_calls::ask_actor;
using api_calls::refusal;

/// A fresh id for an image upload: 32 hex digits, unique among the node's uploads.
std::string upload_id() {
  static thread_local std::mt19937_64 gen{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(gen()),
                static_cast<unsigned long long>(gen()));
  return buf;
}

class image_upload_server final : public rpc::ImageUpload::Server {
public:
  image_upload_server(caf::actor_system& sys, image_upload_target target, upload_permit permit,
                      upload_outcome outcome)
    : sys_(sys), target_(std::move(target)), permit_(std::move(permit)),
      outcome_(std::move(outcome)) {}

  ~image_upload_server() noexcept(false) {
    if (!finished_)
      caf::anon_send(target_.node, p::import_atom::value, p::delete_atom::value, target_.upload);
  }

  kj::Promise<void> write(WriteContext ctx) override {
    if (auto err = check_open())
      return refusal(err);
    auto data = ctx.getParams().getData();
    if (sent_ + data.size() > target_.size)
      return stop(p::make_error(p::error_code::invalid_argument,
                                "the upload is longer than the " + std::to_string(target_.size) +
                                    " bytes it announced"));
    auto piece = make_piece(std::string{data.asChars().begin(), data.size()}, false);
    sent_ += data.size();
    return ask_actor<std::vector<std::string>>(sys_, target_.node, target_.piece_timeout,
                                               p::import_atom::value, std::move(piece))
        .then([this](caf::expected<std::vector<std::string>> r) -> kj::Promise<void> {
          if (!r)
            return stop(r.error());
          return kj::READY_NOW;
        });
  }

  kj::Promise<void> done(DoneContext ctx) override {
    if (auto err = check_open())
      return refusal(err);
    if (sent_ != target_.size)
      return stop(p::make_error(p::error_code::invalid_argument,
                                "the upload ended after " + std::to_string(sent_) + " of the " +
                                    std::to_string(target_.size) + " bytes it announced"));
    finished_ = true; // the node ends the upload with its answer
    return ask_actor<std::vector<std::string>>(sys_, target_.node, target_.load_timeout,
                                               p::import_atom::value, make_piece({}, true))
        .then([this, ctx](caf::expected<std::vector<std::string>> r) mutable {
          outcome_(r);
          auto results = ctx.getResults();
          if (!r)
            return protocol::to_capnp(results.initError(), r.error());
          auto list = results.initImages(r->size());
          for (unsigned i = 0; i < r->size(); ++i)
            list.set(i, (*r)[i]);
        });
  }

private:
  p::image_chunk make_piece(std::string data, bool last) const {
    return {target_.upload, target_.driver, sent_, std::move(data), last, target_.file,
            target_.size};
  }

  caf::error check_open() const {
    if (failed_)
      return failed_;
    if (finished_)
      return p::make_error(p::error_code::invalid_argument, "the upload is done already");
    return permit_();
  }

  /// Ends the upload with `err`: this piece's call and every later one fail.
  kj::Promise<void> stop(caf::error err) {
    if (!failed_) {
      failed_ = err;
      outcome_(caf::expected<std::vector<std::string>>{err});
    }
    return refusal(err);
  }

  caf::actor_system& sys_;
  image_upload_target target_;
  upload_permit permit_;
  upload_outcome outcome_;
  uint64_t sent_ = 0;
  bool finished_ = false;
  caf::error failed_;
};

} // namespace

caf::expected<image_upload_target> import_target(std::string node,
                                                 std::optional<p::driver_kind> driver,
                                                 const std::string& file, uint64_t size,
                                                 caf::timespan piece_timeout) {
  if (!driver || *driver == p::driver_kind::process || *driver == p::driver_kind::sim)
    return p::make_error(p::error_code::invalid_argument,
                         "image import: the driver must be containerd or docker (the process "
                         "driver runs no images)");
  if (size == 0)
    return p::make_error(p::error_code::invalid_argument,
                         "image import: " + file + " is empty; give a docker save or OCI archive");
  image_upload_target out;
  out.node_name = std::move(node);
  out.driver = *driver;
  out.upload = upload_id();
  out.file = file;
  out.size = size;
  out.piece_timeout = piece_timeout;
  out.load_timeout = std::chrono::minutes{30};
  return out;
}

kj::Own<rpc::ImageUpload::Server> make_image_upload(caf::actor_system& sys,
                                                    image_upload_target target,
                                                    upload_permit permit, upload_outcome outcome) {
  return kj::heap<image_upload_server>(sys, std::move(target), std::move(permit),
                                       std::move(outcome));
}

} // namespace tutti::actors
