// Image imports through a node agent: the pieces of an archive become one file
// that the driver loads; the file goes whichever way the upload ends, and what
// the node cannot take is refused with the reason.

#include "actors/node/node_actor.hpp"
#include "actors/runtime/system_config.hpp"
#include "metrics/recorder.hpp"
#include "protocol/errors.hpp"
#include "runtime-drivers/sim/sim_driver.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

#include <caf/all.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>

namespace {

using namespace tutti::actors;
namespace p = tutti::protocol;
namespace rd = tutti::runtime_drivers;
using namespace std::chrono_literals;

/// The sim driver, with an image store: it loads any archive that starts with
/// "ok" and remembers what it read.
class loading_driver final : public rd::driver {
public:
  p::driver_kind kind() const override { return p::driver_kind::containerd; }
  bool blocking() const override { return false; }
  caf::expected<rd::container_info> create(const rd::container_spec& s) override {
    return sim_.create(s);
  }
  caf::expected<rd::container_info> start(const std::string& n) override { return sim_.start(n); }
  caf::error stop(const std::string& n, caf::timespan g) override { return sim_.stop(n, g); }
  caf::error remove(const std::string& n, bool f) override { return sim_.remove(n, f); }
  caf::expected<rd::container_info> inspect(const std::string& n) override {
    return sim_.inspect(n);
  }
  caf::error watch(const std::string& n, rd::exit_callback cb) override {
    return sim_.watch(n, std::move(cb));
  }
  caf::expected<std::string> logs(const std::string& n, size_t max) override {
    return sim_.logs(n, max);
  }
  caf::expected<rd::container_stats> stats(const std::string& n) override { return sim_.stats(n); }
  caf::expected<std::vector<rd::container_info>> list_owned(const std::string& node) override {
    return sim_.list_owned(node);
  }
  caf::expected<rd::exec_result> exec(const std::string& n, const std::vector<std::string>& c,
                                      caf::timespan t) override {
    return sim_.exec(n, c, t);
  }

  caf::expected<std::vector<std::string>> import_images(const std::string& path) override {
    std::ifstream in{path, std::ios::binary};
    std::string bytes{std::istreambuf_iterator<char>{in}, {}};
    std::lock_guard<std::mutex> guard{mtx_};
    read_ = bytes;
    if (bytes.rfind("ok", 0) != 0)
      return p::make_error(p::error_code::invalid_argument,
                           "the image archive " + path + " is not a tar");
    return std::vector<std::string>{"local/loaded:1"};
  }

  std::string read() {
    std::lock_guard<std::mutex> guard{mtx_};
    return read_;
  }

private:
  rd::sim_driver sim_;
  std::mutex mtx_;
  std::string read_;
};

class ImageUpload : public ::testing::Test {
protected:
  void SetUp() override {
    sys_ = std::make_unique<caf::actor_system>(cfg_);
    node_context ctx;
    ctx.config.name = "n1";
    ctx.config.capacity = {4, int64_t{1} << 30};
    ctx.config.upload_dir = dir_.file("uploads");
    ctx.drivers[p::driver_kind::containerd] = driver_;
    ctx.metrics = &metrics_;
    node_ = spawn_node(*sys_, std::move(ctx));
  }

  void TearDown() override {
    caf::anon_send_exit(node_, caf::exit_reason::user_shutdown);
    sys_.reset();
  }

  /// The node's answer to one piece.
  caf::expected<std::vector<std::string>> send(const p::image_chunk& piece) {
    caf::scoped_actor self{*sys_};
    caf::expected<std::vector<std::string>> out{std::vector<std::string>{}};
    self->request(node_, 5s, p::import_atom::value, piece)
        .receive([&](std::vector<std::string>& images) { out = std::move(images); },
                 [&](caf::error& err) { out = std::move(err); });
    return out;
  }

  static p::image_chunk piece(uint64_t offset, std::string data, bool last = false,
                              p::driver_kind driver = p::driver_kind::containerd) {
    return {"u1", driver, offset, std::move(data), last, "mine.tar", 64};
  }

  /// The archives the node holds now.
  size_t files() const {
    std::error_code ec;
    size_t n = 0;
    for ([[maybe_unused]] const auto& x :
         std::filesystem::directory_iterator{dir_.file("uploads"), ec})
      ++n;
    return n;
  }

  tutti::metrics::null_recorder metrics_; // outlives the actor system
  system_config cfg_{false};
  tutti::tests::support::temp_dir dir_;
  std::shared_ptr<loading_driver> driver_ = std::make_shared<loading_driver>();
  std::unique_ptr<caf::actor_system> sys_;
  node_actor node_;
};

TEST_F(ImageUpload, PiecesInOrderAreLoadedAsOneArchiveThatThenGoes) {
  ASSERT_TRUE(send(piece(0, "ok-")));
  ASSERT_TRUE(send(piece(3, "first ")));
  EXPECT_EQ(files(), 1u);
  auto images = send(piece(9, "and last", true));
  ASSERT_TRUE(images) << p::message_of(images.error());
  EXPECT_EQ(*images, std::vector<std::string>{"local/loaded:1"});
  EXPECT_EQ(driver_->read(), "ok-first and last");
  EXPECT_TRUE(tutti::tests::support::wait_until([&] { return files() == 0; }, 5s));
}

TEST_F(ImageUpload, AFailedLoadNamesTheArchiveAsTheClientNamedIt) {
  ASSERT_TRUE(send(piece(0, "junk")));
  auto images = send(piece(4, "", true));
  ASSERT_FALSE(images);
  EXPECT_EQ(p::message_of(images.error()),
            "image import on node n1: the image archive mine.tar is not a tar");
  EXPECT_TRUE(tutti::tests::support::wait_until([&] { return files() == 0; }, 5s));
}

TEST_F(ImageUpload, APieceOutOfOrderEndsTheUpload) {
  ASSERT_TRUE(send(piece(0, "ok")));
  auto gap = send(piece(5, "x"));
  ASSERT_FALSE(gap);
  EXPECT_NE(p::message_of(gap.error()).find("a piece at byte 5 came after 2 bytes"),
            std::string::npos)
      << p::message_of(gap.error());
  EXPECT_TRUE(tutti::tests::support::wait_until([&] { return files() == 0; }, 5s));
  auto later = send(piece(2, "x"));
  ASSERT_FALSE(later);
  EXPECT_NE(p::message_of(later.error()).find("the upload is gone"), std::string::npos);
}

TEST_F(ImageUpload, MoreThanWasAnnouncedEndsTheUpload) {
  auto long_piece = piece(0, std::string(65, 'x'));
  auto refused = send(long_piece);
  ASSERT_FALSE(refused);
  EXPECT_NE(p::message_of(refused.error()).find("longer than the 64 bytes announced"),
            std::string::npos)
      << p::message_of(refused.error());
  EXPECT_TRUE(tutti::tests::support::wait_until([&] { return files() == 0; }, 5s));
}

TEST_F(ImageUpload, ADiscardedUploadLeavesNothing) {
  ASSERT_TRUE(send(piece(0, "ok")));
  EXPECT_EQ(files(), 1u);
  caf::anon_send(node_, p::import_atom::value, p::delete_atom::value, std::string{"u1"});
  EXPECT_TRUE(tutti::tests::support::wait_until([&] { return files() == 0; }, 5s));
  EXPECT_EQ(driver_->read(), "");
}

TEST_F(ImageUpload, WhatTheNodeCannotTakeIsRefusedWithTheReason) {
  auto other = send(piece(0, "ok", true, p::driver_kind::docker));
  ASSERT_FALSE(other);
  EXPECT_EQ(p::message_of(other.error()),
            "image import on node n1: the node does not run the docker driver (it runs "
            "containerd)");
  auto bad = piece(0, "ok");
  bad.upload = "../../etc/passwd";
  auto refused = send(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(p::message_of(refused.error()), "image import on node n1: malformed upload id");
  EXPECT_EQ(files(), 0u);
}

} // namespace
