// What the containerd driver reads from outside tutti, on arbitrary bytes: an
// image archive on the node (a tar, then JSON inside it), an image's config
// blob, and a registry's answers (WWW-Authenticate, tokens, manifests,
// indexes, error bodies). Each must give a value or an error, never crash,
// throw or read out of bounds: an archive is whatever file a spec names, and a
// registry can send anything. The first byte picks the reader.

#include "runtime-drivers/containerd/image_archive.hpp"
#include "runtime-drivers/containerd/oci_spec.hpp"
#include "runtime-drivers/containerd/registry_parse.hpp"
#include "tests/fuzz/fuzz_support.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <string>

using tutti::fuzz::check;
namespace cd = tutti::runtime_drivers::containerd;

namespace {

/// The archive reader takes a path: the bytes go to a memory file.
void read_archive(std::string_view bytes) {
  int fd = ::memfd_create("fuzz-archive", MFD_CLOEXEC);
  check(fd >= 0, "memfd_create");
  for (size_t done = 0; done < bytes.size();) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    check(n > 0, "write to the memory file");
    done += static_cast<size_t>(n);
  }
  auto archive = cd::image_archive::open("/proc/self/fd/" + std::to_string(fd));
  if (archive) {
    for (const auto& image : (*archive)->images()) {
      for (const auto& name : image.names)
        check(!cd::full_image_name(name).empty(), "a name normalises to something");
      for (const auto& blob : (*archive)->blobs(image)) {
        int64_t seen = 0;
        auto err = (*archive)->read_blob(blob.digest, [&](const char*, size_t n) {
          seen += static_cast<int64_t>(n);
          return true;
        });
        check(err || seen == blob.size, "a blob read whole has its stated size");
      }
    }
  }
  ::close(fd);
}

void read_registry_answer(const std::string& text) {
  for (const auto& challenge : cd::parse_www_authenticate(text))
    (void)cd::token_url(challenge, "library/busybox");
  (void)cd::parse_token_response(text, "fuzz");
  (void)cd::manifest_media_type("", text);
  (void)cd::pick_linux_amd64(text, "fuzz");
  (void)cd::parse_manifest(text, "fuzz");
  (void)cd::registry_error_text(text);
  (void)cd::registry_error_code(text);
  (void)cd::parse_reference(text);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view rest{reinterpret_cast<const char*>(data) + 1, size - 1};
  switch (data[0] % 3) {
    case 0:
      read_archive(rest);
      break;
    case 1:
      (void)cd::parse_image_config(std::string{rest});
      break;
    default:
      read_registry_answer(std::string{rest});
      break;
  }
  return 0;
}
