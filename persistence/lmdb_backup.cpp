#include "persistence/lmdb_backup.hpp"

#include "persistence/store_impl.hpp"

#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tutti::persistence {

namespace {

namespace fs = std::filesystem;
using protocol::error_code;
using protocol::make_error;

constexpr std::string_view format_key = "format";

/// Copies the environment to `path` in one read transaction and syncs it.
caf::expected<uint64_t> copy_env(MDB_env* env, const std::string& path, int flags,
                                 unsigned copy_flags) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
  if (fd < 0)
    return make_error(error_code::store_failure,
                      "cannot create " + path + ": " + std::strerror(errno));
  auto fail = [&](const std::string& why) {
    ::close(fd);
    ::unlink(path.c_str());
    return make_error(error_code::store_failure, "cannot write the copy " + path + ": " + why);
  };
  if (int rc = mdb_env_copyfd2(env, fd, copy_flags); rc != 0)
    return fail(mdb_strerror(rc));
  struct stat st;
  if (::fsync(fd) != 0 || ::fstat(fd, &st) != 0)
    return fail(std::strerror(errno));
  ::close(fd);
  return static_cast<uint64_t>(st.st_size);
}

caf::expected<bool> holds_data(store_state& s) {
  bool any = false;
  auto err = s.read("look for data", [&s, &any](tx& t) -> caf::error {
    for (auto dbi : {s.dbis.lastrev, s.dbis.assignments, s.dbis.nodes, s.dbis.events,
                     s.dbis.objects}) {
      MDB_stat st;
      if (auto err = t.check(mdb_stat(t.handle(), dbi, &st)))
        return err;
      any = any || st.ms_entries > 0;
    }
    return {};
  });
  if (err)
    return err;
  return any;
}

caf::error write_format(store_state& s) {
  return s.write("record its format", [&s](tx& t) {
    return t.put(s.dbis.meta, format_key, detail::encode_u64(lmdb_store::format));
  });
}

std::string time_stamp() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

} // namespace

caf::error check_format(store_state& s) {
  uint64_t found = 0;
  auto err = s.read("read its format", [&s, &found](tx& t) -> caf::error {
    auto x = t.get_u64(s.dbis.meta, format_key);
    if (!x)
      return std::move(x.error());
    found = *x;
    return {};
  });
  if (err)
    return err;
  if (found == lmdb_store::format)
    return {};
  if (found > lmdb_store::format)
    return make_error(error_code::store_failure,
                      "the store in " + s.dir + " has format " + std::to_string(found) +
                          " and this tuttid reads format " +
                          std::to_string(lmdb_store::format) +
                          " at most: a newer tuttid wrote it. Run that version again, or "
                          "restore a backup this version took (tutti backup restore)");
  auto data = holds_data(s);
  if (!data)
    return std::move(data.error());
  if (*data) {
    // Format 0 is the layout of before the format record: the same databases.
    // The copy keeps the store as it was, whatever a later upgrade changes.
    auto copy = s.dir + "/data.mdb.format-0.bak";
    auto written = copy_env(s.env.get(), copy, O_TRUNC, 0);
    if (!written)
      return make_error(error_code::store_failure,
                        "the store in " + s.dir + " needs its format upgraded and a copy "
                        "kept first, which failed: " + protocol::message_of(written.error()) +
                        "; free disk space in " + s.dir);
    s.upgrade_backup = copy;
  }
  return write_format(s);
}

caf::expected<uint64_t> lmdb_store::write_backup(const std::string& path) {
  return copy_env(impl_->env.get(), path, O_EXCL, MDB_CP_COMPACT);
}

namespace {

caf::error restore_failed(const std::string& file, const std::string& why) {
  return make_error(error_code::invalid_argument, "cannot restore " + file + ": " + why);
}

/// Opens the copy in `dir` as a store and counts what it holds.
caf::expected<restore_report> inspect(const std::string& file, const std::string& dir) {
  auto db = lmdb_store::open(dir);
  if (!db)
    return restore_failed(file, "it is not a tutti store backup (" +
                                    protocol::message_of(db.error()) + ")");
  restore_report out;
  auto specs = (*db)->current_specs();
  if (!specs)
    return restore_failed(file, protocol::message_of(specs.error()));
  auto assigned = (*db)->assignments("");
  if (!assigned)
    return restore_failed(file, protocol::message_of(assigned.error()));
  auto nodes = (*db)->nodes();
  if (!nodes)
    return restore_failed(file, protocol::message_of(nodes.error()));
  auto tokens = (*db)->objects(protocol::object_kind::token, "", SIZE_MAX);
  if (!tokens)
    return restore_failed(file, protocol::message_of(tokens.error()));
  out.services = specs->size();
  out.assignments = assigned->size();
  out.nodes = nodes->size();
  out.tokens = tokens->size();
  return out;
}

/// Copies `file` to `dir`/data.mdb, a new folder.
caf::error stage(const std::string& file, const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (!ec)
    fs::copy_file(file, fs::path{dir} / "data.mdb", ec);
  if (ec)
    return restore_failed(file, "cannot copy it to " + dir + ": " + ec.message());
  return {};
}

/// Run as root for a store that a service user owns (/var/lib/tutti), what
/// the restore made goes to the owner of the data directory (the store's
/// parent), or its tuttid could not open it. lchown: a link there is not
/// followed.
void give_to_owner(const std::vector<std::string>& paths, const std::string& store_dir) {
  struct stat st;
  auto data_dir = fs::path{store_dir}.parent_path().string();
  if (::geteuid() != 0 || ::stat(data_dir.empty() ? "." : data_dir.c_str(), &st) != 0)
    return;
  for (const auto& p : paths)
    [[maybe_unused]] auto rc = ::lchown(p.c_str(), st.st_uid, st.st_gid);
}

} // namespace

caf::expected<restore_report> restore_backup(const std::string& file,
                                             const std::string& store_dir) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    return restore_failed(file, ec ? ec.message() : "no such file");
  fs::create_directories(store_dir, ec);
  if (ec)
    return restore_failed(file, "cannot create " + store_dir + ": " + ec.message());
  // Held until the end: no tuttid may open the store while it is replaced.
  auto lock = detail::dir_lock::acquire(store_dir);
  if (!lock)
    return make_error(error_code::data_dir_locked,
                      protocol::message_of(lock.error()) +
                          ": a restore needs it stopped (systemctl stop tuttid-control)");
  auto staging = store_dir + "/restore.staging";
  if (auto err = stage(file, staging))
    return err;
  auto report = inspect(file, staging);
  if (!report) {
    fs::remove_all(staging, ec);
    return report;
  }
  report->store_dir = store_dir;
  report->bytes = fs::file_size(fs::path{staging} / "data.mdb", ec);
  auto current = fs::path{store_dir} / "data.mdb";
  if (fs::exists(current, ec)) {
    report->kept = current.string() + ".before-restore-" + time_stamp();
    fs::rename(current, report->kept, ec);
    if (ec) {
      fs::remove_all(staging, ec);
      return restore_failed(file, "cannot move the current store aside: " + ec.message());
    }
  }
  fs::remove(fs::path{store_dir} / "lock.mdb", ec);
  fs::rename(fs::path{staging} / "data.mdb", current, ec);
  if (ec) {
    auto why = ec.message();
    if (!report->kept.empty())
      fs::rename(report->kept, current, ec); // back as it was
    fs::remove_all(staging, ec);
    return restore_failed(file, "cannot move it into " + store_dir + ": " + why);
  }
  fs::remove_all(staging, ec);
  give_to_owner({store_dir, current.string(), store_dir + "/tuttid.lock"}, store_dir);
  return report;
}

} // namespace tutti::persistence
