#pragma once

// Private to tools/tutti: trusting a cluster's CA by its pin before joining.

#include "tools/tutti/result.hpp"

#include <chrono>
#include <string>

namespace tutti::cli {

/// Opens TLS to the API at `api` without trusting anyone yet, and answers the
/// certificate (PEM) of the chain it shows whose SHA-256 (DER, hex) is
/// `ca_sha256`, once the API's own certificate verifies against it. An error
/// says what was shown instead.
result<std::string> fetch_pinned_ca(const std::string& api, const std::string& ca_sha256,
                                    std::chrono::milliseconds timeout);

} // namespace tutti::cli
