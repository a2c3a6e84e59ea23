#pragma once

// A private OCI distribution registry for the containerd driver's registry
// tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1 and a leased
// port, storage under a temp dir, no auth, started by this object in a process
// group of its own (ending with the test binary: PR_SET_PDEATHSIG) and stopped
// by its pid, its directory removed, when the object goes away. Images go in
// through the distribution API as `docker push` sends them.

#include "tests/support/net.hpp"
#include "tests/support/temp_dir.hpp"

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace tutti::tests::support {

struct registry_reply {
  long status = 0;     // 0 when the registry did not answer
  std::string headers; // the raw header block
  std::string body;
  std::string error; // why there is no answer

  /// The value of header `name` (case-insensitive), or "".
  std::string header(const std::string& name) const;
};

class private_registry {
public:
  static constexpr const char* binary = "/usr/bin/docker-registry";

  /// Starts the registry and waits until GET /v2/ answers. nullptr with `why`
  /// when that fails; `unavailable` tells whether docker-registry is not
  /// installed (tests skip) or it failed (tests fail).
  static std::unique_ptr<private_registry> start(std::string& why, bool& unavailable);

  ~private_registry();
  private_registry(const private_registry&) = delete;
  private_registry& operator=(const private_registry&) = delete;

  /// "127.0.0.1:PORT": the domain of the names of images pushed here.
  const std::string& host() const { return host_; }

  /// METHOD http://host()TARGET, or an absolute http:// URL `target`.
  registry_reply call(const std::string& method, const std::string& target,
                      const std::string& body = {}, const std::string& content_type = {}) const;

  /// A monolithic upload (POST /v2/REPO/blobs/uploads/, then PUT to the
  /// location it gives with ?digest=); "" on success, else why it failed.
  std::string push_blob(const std::string& repository, const std::string& digest,
                        const std::string& bytes) const;

  /// PUT /v2/REPO/manifests/REFERENCE with `media_type` as Content-Type.
  std::string push_manifest(const std::string& repository, const std::string& reference,
                            const std::string& media_type, const std::string& bytes) const;

  /// Pushes the first image of the image archive at `archive_path` (read with
  /// runtime-drivers' image_archive): config and layers, then its manifest
  /// under `tag`.
  std::string push_archive(const std::string& archive_path, const std::string& repository,
                           const std::string& tag) const;

  /// The registry's log, for failure messages.
  std::string log() const;

private:
  private_registry() = default;
  bool spawn(std::string& why);
  void stop();

  std::unique_ptr<temp_dir> dir_;
  std::unique_ptr<port_range_lease> port_;
  std::string host_;
  pid_t pid_ = 0;
};

} // namespace tutti::tests::support
