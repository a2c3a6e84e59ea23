// tuttid and its data directory: one daemon per directory, a full store that
// keeps every acknowledged write, a directory it may not write and a store file
// that was cut short; and the malloc tuning it starts with.

#include "tests/integration/fixture.hpp"

#include <sys/stat.h>
#include <unistd.h>

namespace tutti::tests::integration {
namespace {

TEST_F(integration, GetControllersOfADevDaemonIsItselfLeadingOnLmdb) {
  auto& d = start_daemon();
  auto report = tutti_json(d, {"get", "controllers"});
  ASSERT_TRUE(report);
  ASSERT_EQ((*report)["controllers"].size(), 1u) << *report;
  EXPECT_TRUE((*report)["controllers"][0].value("leading", false)) << *report;
  EXPECT_EQ((*report)["controllers"][0].value("api", ""), d.api()) << *report;
  EXPECT_EQ((*report)["store"], "lmdb:" + d.data_dir() + "/store") << *report;
  EXPECT_TRUE((*report)["endpoints"].empty()) << *report;
}

TEST_F(integration, DevOnAnEtcdStoreIsRefusedNamingControl) {
  auto opts = daemon_options();
  opts.extra_args = {"--store", "etcd://127.0.0.1:1"};
  auto& d = make_daemon(opts);
  EXPECT_FALSE(d.start(10s));
  EXPECT_EQ(d.wait_for_exit(5s), 1);
  EXPECT_NE(d.log().find("tuttid control --store etcd://"), std::string::npos) << d.log();
}

TEST_F(integration, SecondDaemonOnSameDataDirIsRefused) {
  auto& first = start_daemon();
  auto keep = first.scratch().write("keep.yaml", sleeper_yaml("keep", 1));
  auto r = first.tutti({"apply", "-f", keep});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_TRUE(wait_running(first, "keep", 1));
  auto pids = running_pids(first, "keep");

  auto api = s::free_port();
  auto metrics = s::free_port();
  s::port_range_lease range{16};
  auto start = std::chrono::steady_clock::now();
  auto second = s::run_command({TUTTID_BIN, "dev", "--data-dir", first.data_dir(), "--api",
                                "127.0.0.1:" + std::to_string(api), "--metrics",
                                "127.0.0.1:" + std::to_string(metrics), "--port-range",
                                std::to_string(range.first()) + "-" + std::to_string(range.last())},
                               {}, 10s);
  auto ms = s::elapsed_ms(start);
  std::printf("second_daemon_refused_ms=%lld\n", ms);
  EXPECT_FALSE(second.timed_out) << "the second tuttid kept running: " << second.describe();
  EXPECT_NE(second.exit_code, 0) << second.describe();
  EXPECT_LT(ms, 5000);
  EXPECT_NE(second.err.find(first.data_dir()), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("in use"), std::string::npos) << second.err;
  std::printf("second_daemon_message=%s", second.err.c_str());

  // The first one did not notice.
  EXPECT_TRUE(first.running());
  auto services = first.tutti({"get", "services"});
  EXPECT_EQ(services.exit_code, 0) << services.describe();
  EXPECT_NE(services.out.find("keep"), std::string::npos);
  EXPECT_EQ(running_pids(first, "keep"), pids);
  r = first.tutti({"scale", "keep=2"});
  EXPECT_EQ(r.exit_code, 0) << r.describe();
  EXPECT_TRUE(wait_running(first, "keep", 2));
}

TEST_F(integration, FullStoreKeepsEveryAcknowledgedService) {
  auto opts = daemon_options();
  auto& d = make_daemon(opts);
  // A map smaller than 1 MiB is refused at start, naming the setting...
  auto tiny = d.scratch().write("tiny.yaml", "store: {map_size: 256Ki}\n");
  auto refused =
      s::run_command({TUTTID_BIN, "dev", "-c", tiny, "--data-dir", d.scratch().file("tiny-data"),
                      "--api", "127.0.0.1:0", "--metrics", "127.0.0.1:0"},
                     {}, 10s);
  EXPECT_EQ(refused.exit_code, 2) << refused.describe();
  EXPECT_NE(refused.err.find("tiny.yaml:1:"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("store.map_size"), std::string::npos) << refused.err;
  // ... so the smallest that starts is 1 MiB.
  d.options().config_file = d.scratch().write("tuttid.yaml", "store: {map_size: 1Mi}\n");
  ASSERT_TRUE(d.start()) << d.log();

  // Specs of ~8 KiB fill a 1 MiB map in about a hundred applies.
  const std::string pad(8000, 'p');
  std::map<std::string, int64_t> acknowledged;
  std::string refusal;
  const int give_up = 400;
  auto fill_start = std::chrono::steady_clock::now();
  for (int i = 0; i < give_up; ++i) {
    auto name = "svc-" + std::to_string(i);
    auto file =
        d.scratch().write("specs/" + name + ".yaml",
                          service_yaml(name, 0, {"/bin/true"}, "env: {PAD: \"" + pad + "\"}\n"));
    auto r = d.tutti({"apply", "-f", file});
    if (r.exit_code == 0) {
      acknowledged[name] = 1;
      continue;
    }
    refusal = r.err;
    EXPECT_EQ(r.exit_code, 1) << r.describe();
    break;
  }
  std::printf("store_full_after_services=%zu fill_ms=%lld\n", acknowledged.size(),
              s::elapsed_ms(fill_start));
  ASSERT_FALSE(refusal.empty()) << "a 1 MiB store took " << give_up << " 8 KiB specs";
  std::printf("store_full_message=%s", refusal.c_str());
  EXPECT_NE(refusal.find("full"), std::string::npos) << refusal;
  EXPECT_NE(refusal.find("map_size"), std::string::npos) << "the fix should be named: " << refusal;
  ASSERT_FALSE(acknowledged.empty());

  // Still serving reads while full.
  EXPECT_TRUE(d.running());
  EXPECT_EQ(service_revisions(d), acknowledged);

  // A crash right now loses nothing that was acknowledged.
  d.kill9();
  ASSERT_TRUE(d.start()) << d.log();
  EXPECT_EQ(service_revisions(d), acknowledged);
  auto described = tutti_json(d, {"describe", "service", acknowledged.rbegin()->first});
  ASSERT_TRUE(described);
  EXPECT_NE(described->value("spec_yaml", "").find(pad), std::string::npos)
      << "the stored spec is whole";
}

// tuttid runs itself again with a larger malloc thread cache (allocator_tuning.hpp),
// unless told not to or the user chose one.
TEST(Tuttid, RunsWithTheMallocThreadCacheUnlessTheUserChose) {
  auto tuned = s::run_command({TUTTID_BIN, "--version"});
  ASSERT_EQ(tuned.exit_code, 0) << tuned.describe();
  EXPECT_NE(tuned.out.find("(malloc tcache_count="), std::string::npos) << tuned.out;

  auto off = s::run_command({TUTTID_BIN, "--version"}, {{"TUTTI_MALLOC_TUNING", "off"}});
  ASSERT_EQ(off.exit_code, 0) << off.describe();
  EXPECT_NE(off.out.find("(malloc with glibc's defaults)"), std::string::npos) << off.out;

  auto chosen = s::run_command({TUTTID_BIN, "--version"},
                               {{"GLIBC_TUNABLES", "glibc.malloc.tcache_count=16"}});
  ASSERT_EQ(chosen.exit_code, 0) << chosen.describe();
  EXPECT_NE(chosen.out.find("(malloc as GLIBC_TUNABLES says)"), std::string::npos) << chosen.out;
}

TEST(Tuttid, RefusesAFlagThatIsNotUtf8NamingIt) {
  auto r = s::run_command({TUTTID_BIN, "dev", "--node-name", "n\xFF" "1"}, {}, 10s);
  EXPECT_EQ(r.exit_code, 2) << r.describe();
  EXPECT_NE(r.err.find("--node-name: not valid UTF-8: 'n\\xFF1'"), std::string::npos) << r.err;
}

TEST_F(integration, ReadOnlyDataDirIsRefused) {
  std::vector<std::string> wrapper;
  if (::geteuid() == 0) {
    // root writes through any mode bits: run tuttid as nobody instead.
    if (::access("/usr/bin/setpriv", X_OK) != 0)
      GTEST_SKIP() << "running as root and /usr/bin/setpriv (util-linux) is missing";
    wrapper = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  }
  auto opts = daemon_options();
  opts.wrapper = wrapper;
  auto& d = make_daemon(opts);
  // The data directory exists and may be read but not written by the daemon's
  // user: root-owned 0755 (or ours 0555 when not root). Its parents may be
  // searched by anyone, so the data directory is the only obstacle.
  ::chmod(d.scratch().str().c_str(), 0755);
  std::filesystem::create_directories(d.data_dir());
  ASSERT_EQ(::chmod(d.data_dir().c_str(), wrapper.empty() ? 0555 : 0755), 0);

  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(d.start(10s)) << "tuttid started on a read-only data directory";
  auto code = d.wait_for_exit(5s);
  std::printf("read_only_refused_ms=%lld\n", s::elapsed_ms(start));
  ASSERT_TRUE(code) << "tuttid still runs";
  EXPECT_NE(*code, 0);
  auto log = d.log();
  std::printf("read_only_log=%s", log.c_str());
  EXPECT_NE(log.find(d.data_dir()), std::string::npos) << "the message must name the directory:\n"
                                                       << log;
  EXPECT_TRUE(log.find("ermission denied") != std::string::npos ||
              log.find("read-only") != std::string::npos ||
              log.find("not writable") != std::string::npos)
      << log;
}

TEST_F(integration, TruncatedStoreFileIsRefusedNamingIt) {
  auto& d = start_daemon();
  auto spec = d.scratch().write("keep.yaml", sleeper_yaml("keep", 1));
  auto r = d.tutti({"apply", "-f", spec});
  ASSERT_EQ(r.exit_code, 0) << r.describe();
  ASSERT_TRUE(wait_running(d, "keep", 1));
  ASSERT_EQ(d.tutti({"delete", "keep"}).exit_code, 0);
  ASSERT_EQ(d.terminate(), 0);
  auto file = d.data_dir() + "/store/data.mdb";
  ASSERT_GT(std::filesystem::file_size(file), 8192u);
  std::filesystem::resize_file(file, 8192); // as a full disk or a bad copy leaves it

  EXPECT_FALSE(d.start(10s)) << "tuttid started on a truncated store";
  auto code = d.wait_for_exit(5s);
  ASSERT_TRUE(code) << "tuttid still runs";
  EXPECT_EQ(*code, 1) << "a signal (SIGBUS) instead of a refusal?";
  auto log = d.log();
  EXPECT_NE(log.find(file), std::string::npos) << "the message must name the file:\n" << log;
  EXPECT_NE(log.find("truncated"), std::string::npos) << log;
}

} // namespace
} // namespace tutti::tests::integration
