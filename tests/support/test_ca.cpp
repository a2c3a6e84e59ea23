#include "tests/support/test_ca.hpp"

#include "tests/support/child_process.hpp"

#include <filesystem>
#include <stdexcept>
#include <vector>

namespace tutti::tests::support {

namespace {

void openssl(std::vector<std::string> args) {
  auto bin = openssl_binary();
  if (bin.empty())
    throw std::runtime_error("test_ca: no openssl binary (tools/install-deps.sh installs it)");
  args.insert(args.begin(), bin);
  auto r = run_command(args);
  if (r.exit_code != 0) {
    std::string line;
    for (const auto& a : args)
      line += a + " ";
    throw std::runtime_error("test_ca: " + line + "failed: " + r.describe());
  }
}

const std::vector<std::string> new_ec_key{"-newkey", "ec", "-pkeyopt",
                                          "ec_paramgen_curve:prime256v1", "-nodes"};

} // namespace

std::string openssl_binary() {
  for (const char* candidate : {"/usr/bin/openssl", "/usr/local/bin/openssl"})
    if (std::filesystem::exists(candidate))
      return candidate;
  return {};
}

test_ca::test_ca(const temp_dir& dir, std::string name)
  : dir_(dir), name_(std::move(name)), cert_(dir.file(name_ + "-ca.crt")),
    key_(dir.file(name_ + "-ca.key")) {
  std::vector<std::string> args{"req", "-x509"};
  args.insert(args.end(), new_ec_key.begin(), new_ec_key.end());
  args.insert(args.end(),
              {"-keyout", key_, "-out", cert_, "-days", "2", "-subj", "/CN=" + name_ + " test CA",
               "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
               "keyUsage=critical,keyCertSign,cRLSign"});
  openssl(args);
}

issued_cert test_ca::issue(const std::string& subject,
                           const std::string& extended_key_usage) const {
  // The name twice in subjectAltName: as an IP address for CAF's peers, and
  // as a DNS name, which is what KJ's TLS client compares with the host it
  // connects to (127.0.0.1 there too).
  return issue_as(subject, "/CN=" + subject,
                  "basicConstraints=CA:FALSE\n"
                  "keyUsage=critical,digitalSignature\n"
                  "extendedKeyUsage=" +
                      extended_key_usage +
                      "\n"
                      "subjectAltName=DNS:" +
                      subject + ",IP:127.0.0.1,DNS:127.0.0.1\n",
                  2);
}

issued_cert test_ca::issue_user(const std::string& file, const std::string& subject,
                                int days) const {
  return issue_as(file, subject,
                  "basicConstraints=CA:FALSE\n"
                  "keyUsage=critical,digitalSignature\n"
                  "extendedKeyUsage=clientAuth\n",
                  days);
}

issued_cert test_ca::issue_as(const std::string& file, const std::string& subject,
                              const std::string& extensions, int days) const {
  issued_cert out{dir_.file(file + ".crt"), dir_.file(file + ".key")};
  auto csr = dir_.file(file + ".csr");
  auto ext = dir_.write(file + ".ext", extensions);
  std::vector<std::string> args{"req"};
  args.insert(args.end(), new_ec_key.begin(), new_ec_key.end());
  args.insert(args.end(), {"-keyout", out.key, "-out", csr, "-subj", subject});
  openssl(args);
  openssl({"x509", "-req", "-in", csr, "-CA", cert_, "-CAkey", key_, "-CAcreateserial", "-days",
           std::to_string(days), "-extfile", ext, "-out", out.cert});
  return out;
}

} // namespace tutti::tests::support
