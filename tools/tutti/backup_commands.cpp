// tutti backup create|restore: a consistent copy of the control plane's store,
// and putting one back.

#include "tools/tutti/command_support.hpp"
#include "tools/tutti/commands.hpp"
#include "tools/tutti/output.hpp"
#include "tools/tutti/views.hpp"

#include "access/digest.hpp"
#include "persistence/lmdb_backup.hpp"
#include "protocol/errors.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

namespace tutti::cli {

using json = json_value;

namespace {

namespace fs = std::filesystem;

/// Backups larger than this show how far they got on stderr.
constexpr uint64_t progress_step = 64 << 20;

std::string mib(uint64_t bytes) {
  char buf[32];
  if (bytes < (1 << 20))
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(bytes) / 1024);
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

int create(const global_options& g, const streams& io, const backup_options& o) {
  std::error_code ec;
  if (!o.force && fs::exists(o.file, ec))
    return report(io, {client_code::invalid_argument, o.file + " exists"},
                  "name another file, or replace it with --force");
  auto c = connect_to_tuttid(g);
  if (!c)
    return report(io, c.error());
  auto partial = o.file + ".partial";
  uint64_t shown = 0;
  auto progress = [&](uint64_t received, uint64_t) {
    if (received / progress_step == shown / progress_step)
      return;
    shown = received;
    io.err << "received " << mib(received) << "\n" << std::flush;
  };
  auto taken = (*c)->backup(partial, progress);
  if (!taken)
    return report(io, taken.error());
  fs::rename(partial, o.file, ec);
  if (ec) {
    fs::remove(partial, ec);
    return report(io, {client_code::invalid_argument,
                       "cannot name the backup " + o.file + ": " + ec.message()});
  }
  json value = {{"file", o.file}, {"bytes", taken->bytes}, {"sha256", taken->sha256}};
  io.out << render_as(g.output, value,
                      "backup of the store written to " + o.file + " (" + mib(taken->bytes) +
                          ", sha256 " + taken->sha256 + ")\n");
  return exit_code::ok;
}

/// An etcd snapshot ends with the SHA-256 of everything before it.
bool is_etcd_snapshot(const std::string& path) {
  constexpr uint64_t hash_size = 32;
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  std::ifstream in{path, std::ios::binary};
  if (ec || size <= hash_size || !in)
    return false;
  access::sha256_stream digest;
  std::vector<char> buf(1 << 20);
  for (uint64_t left = size - hash_size; left > 0;) {
    auto n = static_cast<std::streamsize>(std::min<uint64_t>(left, buf.size()));
    if (!in.read(buf.data(), n))
      return false;
    digest.update(buf.data(), static_cast<size_t>(n));
    left -= static_cast<uint64_t>(n);
  }
  unsigned char tail[hash_size];
  if (!in.read(reinterpret_cast<char*>(tail), hash_size))
    return false;
  return digest.hex() == access::to_hex(tail, hash_size);
}

int restore(const global_options& g, const streams& io, const backup_options& o) {
  if (is_etcd_snapshot(o.file))
    return report(io, {client_code::invalid_argument,
                       o.file + " is a snapshot of etcd (a backup of a control plane on etcd)"},
                  "restore it into a new etcd member: etcdctl snapshot restore " + o.file +
                      " --data-dir DIR, then start etcd on DIR and the control processes "
                      "(docs/operations.md)");
  if (o.data_dir.empty() == o.store_dir.empty())
    return report(io, {client_code::invalid_argument,
                       "name where the store goes: --data-dir DIR (tuttid's data directory) or "
                       "--store-dir DIR (its store.dir)"});
  auto dir = o.store_dir.empty() ? o.data_dir + "/store" : o.store_dir;
  auto restored = persistence::restore_backup(o.file, dir);
  if (!restored)
    return report(io, {protocol::code_of(restored.error()), protocol::message_of(restored.error())});
  const auto& r = *restored;
  json value = {{"file", o.file},           {"store", r.store_dir},
                {"kept", r.kept},           {"bytes", r.bytes},
                {"services", r.services},   {"assignments", r.assignments},
                {"nodes", r.nodes},         {"tokens", r.tokens}};
  std::string text = "restored " + o.file + " into " + r.store_dir + ": " +
                     std::to_string(r.services) + " services, " +
                     std::to_string(r.assignments) + " replica assignments, " +
                     std::to_string(r.nodes) + " nodes, " + std::to_string(r.tokens) +
                     " tokens\n";
  if (!r.kept.empty())
    text += "the store it replaced is kept as " + r.kept + "\n";
  text += "start tuttid on it again (systemctl start tuttid-control); nodes rejoin and their "
          "replicas are adopted\n";
  io.out << render_as(g.output, value, text);
  return exit_code::ok;
}

} // namespace

int run_backup(const global_options& g, const streams& io, const backup_options& o) {
  return o.action == backup_action::create ? create(g, io, o) : restore(g, io, o);
}

} // namespace tutti::cli
