#include "protocol/errors.hpp"

#include <caf/sec.hpp>
#include <gtest/gtest.h>

namespace {

using namespace tutti::protocol;

TEST(Errors, MadeErrorsKeepCodeAndMessage) {
  auto err = make_error(error_code::store_full, "raise store.map_size");
  EXPECT_EQ(code_of(err), error_code::store_full);
  EXPECT_EQ(message_of(err), "raise store.map_size");
  EXPECT_EQ(to_string(code_of(err)), "store_full");
}

TEST(Errors, NoErrorIsNone) {
  EXPECT_EQ(code_of(caf::error{}), error_code::none);
  EXPECT_EQ(message_of(caf::error{}), "");
}

TEST(Errors, CafTimeoutsAndDeadReceiversMapToOurCodes) {
  EXPECT_EQ(code_of(caf::make_error(caf::sec::request_timeout)), error_code::timeout);
  EXPECT_EQ(code_of(caf::make_error(caf::sec::request_receiver_down)), error_code::unavailable);
  EXPECT_FALSE(message_of(caf::make_error(caf::sec::request_timeout)).empty());
}

} // namespace
