#include "metrics/catalogue.hpp"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using tutti::metrics::catalogue;
using tutti::metrics::exposer;

namespace {

// The value of the sample line that starts with `series` (name plus labels
// exactly as the text format prints them), or nullopt-like empty string.
std::string sample(const std::string& text, const std::string& series) {
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return line.substr(series.size() + 1);
  }
  return {};
}

double value(const std::string& text, const std::string& series) {
  auto found = sample(text, series);
  if (found.empty())
    throw std::runtime_error("no sample " + series + " in:\n" + text);
  return std::stod(found);
}

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

size_t collect_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// GETs url with libcurl; returns the body, or fails the test on any error.
std::string http_get(const std::string& url, long* status) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl{curl_easy_init(), curl_easy_cleanup};
  if (!curl)
    throw std::runtime_error("curl_easy_init failed");
  std::string body;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  // Scrapers ask for identity; keep the body plain text for the assertions.
  curl_easy_setopt(curl.get(), CURLOPT_ACCEPT_ENCODING, "identity");
  auto rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK)
    throw std::runtime_error("GET " + url + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, status);
  return body;
}

} // namespace

TEST(Catalogue, ReplicaGaugesCarryServiceLabel) {
  catalogue cat;
  cat.set_replicas_desired("web", 3);
  cat.set_replicas_running("web", 2);
  cat.set_replicas_running("web", 1); // a gauge keeps the last value only
  cat.set_replicas_desired("db", 5);
  auto text = cat.serialize();
  EXPECT_TRUE(has(text, "# TYPE tutti_replicas_desired gauge")) << text;
  EXPECT_TRUE(has(text, "# TYPE tutti_replicas_running gauge")) << text;
  EXPECT_TRUE(has(text, "# HELP tutti_replicas_desired ")) << text;
  EXPECT_EQ(value(text, R"(tutti_replicas_desired{service="web"})"), 3);
  EXPECT_EQ(value(text, R"(tutti_replicas_desired{service="db"})"), 5);
  EXPECT_EQ(value(text, R"(tutti_replicas_running{service="web"})"), 1);
  EXPECT_EQ(sample(text, R"(tutti_replicas_running{service="db"})"), "");
}

TEST(Catalogue, RecordsThroughTheRecorderInterface) {
  catalogue cat;
  tutti::metrics::recorder& rec = cat;
  rec.count_event("service_applied");
  rec.count_placement(tutti::metrics::placement_result::placed);
  EXPECT_EQ(value(cat.serialize(), R"(tutti_events_total{kind="service_applied"})"), 1);
  EXPECT_EQ(cat.placements().placed, 1);
}

TEST(Catalogue, DriverHealthIsOneOrZeroPerNodeAndDriver) {
  catalogue cat;
  cat.set_driver_healthy("n1", "docker", true);
  cat.set_driver_healthy("n1", "process", true);
  cat.set_driver_healthy("n1", "docker", false);
  auto text = cat.serialize();
  EXPECT_EQ(value(text, R"(tutti_driver_healthy{driver="docker",node="n1"})"), 0) << text;
  EXPECT_EQ(value(text, R"(tutti_driver_healthy{driver="process",node="n1"})"), 1) << text;
}

TEST(Catalogue, CountersAccumulatePerLabelSet) {
  catalogue cat;
  cat.count_replica_restart("web");
  cat.count_replica_restart("web");
  cat.count_replica_restart("db");
  cat.count_actor_restart("root", "service_actor");
  cat.count_actor_restart("root", "service_actor");
  cat.count_actor_restart("service_actor", "replica_actor");
  cat.count_event("replica_exited");
  cat.count_event("replica_exited");
  cat.count_event("service_created");
  auto text = cat.serialize();
  EXPECT_TRUE(has(text, "# TYPE tutti_replica_restarts_total counter")) << text;
  EXPECT_TRUE(has(text, "# TYPE tutti_actor_restarts_total counter")) << text;
  EXPECT_TRUE(has(text, "# TYPE tutti_events_total counter")) << text;
  EXPECT_EQ(value(text, R"(tutti_replica_restarts_total{service="web"})"), 2);
  EXPECT_EQ(value(text, R"(tutti_replica_restarts_total{service="db"})"), 1);
  // The text format prints labels sorted by name.
  EXPECT_EQ(value(text, R"(tutti_actor_restarts_total{child="service_actor",supervisor="root"})"),
            2);
  EXPECT_EQ(
      value(text,
            R"(tutti_actor_restarts_total{child="replica_actor",supervisor="service_actor"})"),
      1);
  EXPECT_EQ(value(text, R"(tutti_events_total{kind="replica_exited"})"), 2);
  EXPECT_EQ(value(text, R"(tutti_events_total{kind="service_created"})"), 1);
}

TEST(Catalogue, RpcCountsByMethodAndCodeAndTimesByMethod) {
  catalogue cat;
  cat.count_rpc("apply", "ok", 0.0002);
  cat.count_rpc("apply", "ok", 0.003);
  cat.count_rpc("apply", "invalid_spec", 0.00004);
  cat.count_rpc("status", "ok", 7.0);
  auto text = cat.serialize();
  EXPECT_TRUE(has(text, "# TYPE tutti_rpc_requests_total counter")) << text;
  EXPECT_TRUE(has(text, "# TYPE tutti_rpc_duration_seconds histogram")) << text;
  EXPECT_EQ(value(text, R"(tutti_rpc_requests_total{code="ok",method="apply"})"), 2);
  EXPECT_EQ(value(text, R"(tutti_rpc_requests_total{code="invalid_spec",method="apply"})"), 1);
  EXPECT_EQ(value(text, R"(tutti_rpc_requests_total{code="ok",method="status"})"), 1);
  // Duration has no code label: all three apply calls land in one histogram.
  EXPECT_EQ(value(text, R"(tutti_rpc_duration_seconds_count{method="apply"})"), 3);
  EXPECT_NEAR(value(text, R"(tutti_rpc_duration_seconds_sum{method="apply"})"), 0.00324, 1e-9);
  EXPECT_EQ(value(text, R"(tutti_rpc_duration_seconds_bucket{method="apply",le="5e-05"})"), 1);
  EXPECT_EQ(value(text, R"(tutti_rpc_duration_seconds_bucket{method="apply",le="0.00025"})"), 2);
  EXPECT_EQ(value(text, R"(tutti_rpc_duration_seconds_bucket{method="apply",le="0.0025"})"), 2);
  EXPECT_EQ(value(text, R"(tutti_rpc_duration_seconds_bucket{method="apply",le="0.005"})"), 3);
  // 7 s is beyond the 5 s top bucket: only +Inf counts it.
  EXPECT_EQ(value(text, R"(tutti_rpc_duration_seconds_bucket{method="status",le="5"})"), 0);
  EXPECT_EQ(value(text, R"(tutti_rpc_duration_seconds_bucket{method="status",le="+Inf"})"), 1);
}

TEST(Catalogue, ReconcileHistogramSpans100usTo1s) {
  catalogue cat;
  cat.observe_reconcile("web", 0.00005); // below the first bound
  cat.observe_reconcile("web", 0.0001);  // on a bound: le is inclusive
  cat.observe_reconcile("web", 0.3);
  cat.observe_reconcile("web", 2.0); // above the last bound
  auto text = cat.serialize();
  EXPECT_TRUE(has(text, "# TYPE tutti_reconcile_duration_seconds histogram")) << text;
  const std::string name = "tutti_reconcile_duration_seconds_bucket";
  EXPECT_EQ(value(text, name + R"({service="web",le="0.0001"})"), 2);
  EXPECT_EQ(value(text, name + R"({service="web",le="0.25"})"), 2);
  EXPECT_EQ(value(text, name + R"({service="web",le="0.5"})"), 3);
  EXPECT_EQ(value(text, name + R"({service="web",le="1"})"), 3);
  EXPECT_EQ(value(text, name + R"({service="web",le="+Inf"})"), 4);
  EXPECT_EQ(sample(text, name + R"({service="web",le="5e-05"})"), "");
  EXPECT_EQ(sample(text, name + R"({service="web",le="2.5"})"), "");
  EXPECT_EQ(value(text, R"(tutti_reconcile_duration_seconds_count{service="web"})"), 4);
}

TEST(Catalogue, ReplicaStartHistogramSpans1msTo30sPerDriver) {
  catalogue cat;
  cat.observe_replica_start("web", "docker", 0.27);
  cat.observe_replica_start("web", "docker", 25.0);
  cat.observe_replica_start("web", "process", 0.0005);
  auto text = cat.serialize();
  EXPECT_TRUE(has(text, "# TYPE tutti_replica_start_seconds histogram")) << text;
  const std::string name = "tutti_replica_start_seconds_bucket";
  EXPECT_EQ(value(text, name + R"({driver="docker",service="web",le="0.001"})"), 0);
  EXPECT_EQ(value(text, name + R"({driver="docker",service="web",le="0.5"})"), 1);
  EXPECT_EQ(value(text, name + R"({driver="docker",service="web",le="20"})"), 1);
  EXPECT_EQ(value(text, name + R"({driver="docker",service="web",le="30"})"), 2);
  EXPECT_EQ(value(text, name + R"({driver="process",service="web",le="0.001"})"), 1);
  EXPECT_EQ(sample(text, name + R"({driver="docker",service="web",le="60"})"), "");
  EXPECT_EQ(value(text, R"(tutti_replica_start_seconds_count{driver="docker",service="web"})"), 2);
  EXPECT_NEAR(value(text, R"(tutti_replica_start_seconds_sum{driver="docker",service="web"})"),
              25.27, 1e-9);
}

TEST(Catalogue, StoreCommitHistogramSpans50usTo1s) {
  catalogue cat;
  // The unlabelled series exists before any commit so a scrape shows zero.
  EXPECT_EQ(value(cat.serialize(), "tutti_store_commit_seconds_count"), 0);
  cat.observe_store_commit(0.00018);
  cat.observe_store_commit(0.00004);
  cat.observe_store_commit(0.9);
  auto text = cat.serialize();
  EXPECT_TRUE(has(text, "# TYPE tutti_store_commit_seconds histogram")) << text;
  EXPECT_EQ(value(text, R"(tutti_store_commit_seconds_bucket{le="5e-05"})"), 1);
  EXPECT_EQ(value(text, R"(tutti_store_commit_seconds_bucket{le="0.00025"})"), 2);
  EXPECT_EQ(value(text, R"(tutti_store_commit_seconds_bucket{le="0.5"})"), 2);
  EXPECT_EQ(value(text, R"(tutti_store_commit_seconds_bucket{le="1"})"), 3);
  EXPECT_EQ(value(text, R"(tutti_store_commit_seconds_bucket{le="+Inf"})"), 3);
  EXPECT_EQ(value(text, "tutti_store_commit_seconds_count"), 3);
}

TEST(Catalogue, StoreLoggedAssignmentsIsALevel) {
  catalogue cat;
  EXPECT_EQ(value(cat.serialize(), "tutti_store_logged_assignments"), 0);
  cat.set_store_logged_assignments(1200);
  cat.set_store_logged_assignments(300);
  auto text = cat.serialize();
  EXPECT_TRUE(has(text, "# TYPE tutti_store_logged_assignments gauge")) << text;
  EXPECT_EQ(value(text, "tutti_store_logged_assignments"), 300);
}

TEST(Catalogue, ForgetServiceDropsOnlyThatServicesSeries) {
  catalogue cat;
  for (const std::string service : {"web", "db"}) {
    cat.set_replicas_desired(service, 3);
    cat.set_replicas_running(service, 3);
    cat.count_replica_restart(service);
    cat.observe_reconcile(service, 0.01);
    cat.observe_replica_start(service, "docker", 0.3);
    cat.observe_replica_start(service, "process", 0.01);
  }
  cat.count_event("service_deleted");
  cat.count_rpc("delete", "ok", 0.001);

  cat.forget_service("web");
  auto text = cat.serialize();
  EXPECT_FALSE(has(text, R"(service="web")")) << text;
  EXPECT_EQ(value(text, R"(tutti_replicas_desired{service="db"})"), 3);
  EXPECT_EQ(value(text, R"(tutti_replicas_running{service="db"})"), 3);
  EXPECT_EQ(value(text, R"(tutti_replica_restarts_total{service="db"})"), 1);
  EXPECT_EQ(value(text, R"(tutti_reconcile_duration_seconds_count{service="db"})"), 1);
  EXPECT_EQ(value(text, R"(tutti_replica_start_seconds_count{driver="docker",service="db"})"), 1);
  EXPECT_EQ(value(text, R"(tutti_replica_start_seconds_count{driver="process",service="db"})"), 1);
  EXPECT_EQ(value(text, R"(tutti_events_total{kind="service_deleted"})"), 1);
  EXPECT_EQ(value(text, R"(tutti_rpc_requests_total{code="ok",method="delete"})"), 1);

  // A service re-created under the same name starts from zero.
  cat.count_replica_restart("web");
  EXPECT_EQ(value(cat.serialize(), R"(tutti_replica_restarts_total{service="web"})"), 1);
  // Also the series found without a lookup once recorded (replica starts).
  cat.observe_replica_start("web", "docker", 0.3);
  text = cat.serialize();
  EXPECT_EQ(value(text, R"(tutti_replica_start_seconds_count{driver="docker",service="web"})"), 1);
  EXPECT_FALSE(has(text, R"(tutti_replica_start_seconds_count{driver="process",service="web"})"));
  // Forgetting an unknown service is harmless.
  cat.forget_service("never-existed");
}

TEST(Catalogue, MeshSamplesAddUpPerService) {
  catalogue c;
  tutti::metrics::mesh_sample x;
  x.connections = 3;
  x.bytes_in = 100;
  x.bytes_out = 2000;
  x.upstream_errors = 1;
  x.active = 2;
  x.setup_seconds = {0.0002, 0.0003, 0.02};
  c.record_mesh("web", x);
  x.active = 0;
  x.setup_seconds = {};
  c.record_mesh("web", x);
  c.set_replicas_desired("web", 3);
  auto text = c.serialize();
  EXPECT_EQ(value(text, "tutti_mesh_connections_total{service=\"web\"}"), 6);
  EXPECT_EQ(value(text, "tutti_mesh_bytes_total{direction=\"in\",service=\"web\"}"), 200);
  EXPECT_EQ(value(text, "tutti_mesh_bytes_total{direction=\"out\",service=\"web\"}"), 4000);
  EXPECT_EQ(value(text, "tutti_mesh_upstream_errors_total{service=\"web\"}"), 2);
  EXPECT_EQ(value(text, "tutti_mesh_active_connections{service=\"web\"}"), 0);
  EXPECT_EQ(value(text, "tutti_mesh_connect_seconds_count{service=\"web\"}"), 3);
  EXPECT_EQ(value(text, "tutti_mesh_connect_seconds_bucket{service=\"web\",le=\"0.00025\"}"), 1);
  c.forget_mesh("web");
  text = c.serialize();
  EXPECT_FALSE(has(text, "tutti_mesh_connections_total{service=\"web\"}")) << text;
  EXPECT_EQ(value(text, "tutti_replicas_desired{service=\"web\"}"), 3) << "only mesh series go";
}

TEST(Catalogue, ConcurrentRecordingLosesNothing) {
  catalogue cat;
  constexpr int threads = 4;
  constexpr int per_thread = 5000;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&cat, t] {
      for (int i = 0; i < per_thread; ++i) {
        cat.count_replica_restart("web");
        cat.count_event("tick");
        cat.count_rpc("apply", "ok", 0.001);
        cat.observe_reconcile("web", 0.002);
        cat.observe_store_commit(0.0001);
        // A churning service exercises forget_service against recording.
        cat.set_replicas_running("churn-" + std::to_string(t), i);
        if (i % 100 == 0)
          cat.forget_service("churn-" + std::to_string(t));
      }
    });
  }
  // Scrape while recording: serialize must be safe alongside writers.
  for (int i = 0; i < 20; ++i)
    EXPECT_FALSE(cat.serialize().empty());
  for (auto& w : workers)
    w.join();
  auto text = cat.serialize();
  constexpr double total = threads * per_thread;
  EXPECT_EQ(value(text, R"(tutti_replica_restarts_total{service="web"})"), total);
  EXPECT_EQ(value(text, R"(tutti_events_total{kind="tick"})"), total);
  EXPECT_EQ(value(text, R"(tutti_rpc_requests_total{code="ok",method="apply"})"), total);
  EXPECT_EQ(value(text, R"(tutti_rpc_duration_seconds_count{method="apply"})"), total);
  EXPECT_EQ(value(text, R"(tutti_reconcile_duration_seconds_count{service="web"})"), total);
  EXPECT_EQ(value(text, "tutti_store_commit_seconds_count"), total);
}

TEST(Exposer, ServesMetricsOverHttp) {
  catalogue cat;
  cat.set_replicas_desired("web", 42);
  exposer server{cat, "127.0.0.1:0"};
  ASSERT_NE(server.port(), 0);
  long status = 0;
  auto body = http_get("http://127.0.0.1:" + std::to_string(server.port()) + "/metrics", &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(value(body, R"(tutti_replicas_desired{service="web"})"), 42);

  // Each scrape collects afresh.
  cat.count_event("replica_started");
  body = http_get("http://127.0.0.1:" + std::to_string(server.port()) + "/metrics", &status);
  EXPECT_EQ(value(body, R"(tutti_events_total{kind="replica_started"})"), 1);
}

TEST(Exposer, BindingAnAddressInUseThrowsNamingTheAddress) {
  catalogue cat;
  exposer first{cat, "127.0.0.1:0"};
  auto address = "127.0.0.1:" + std::to_string(first.port());
  try {
    exposer second{cat, address};
    FAIL() << "second exposer bound " << address << " which is in use";
  } catch (const std::runtime_error& e) {
    EXPECT_TRUE(has(e.what(), "cannot serve metrics on " + address)) << e.what();
  }
}

TEST(Exposer, OutlivingTheCatalogueIsSafe) {
  auto cat = std::make_unique<catalogue>();
  exposer server{*cat, "127.0.0.1:0"};
  cat.reset();
  long status = 0;
  auto body = http_get("http://127.0.0.1:" + std::to_string(server.port()) + "/metrics", &status);
  EXPECT_EQ(status, 200);
  EXPECT_FALSE(has(body, "tutti_")) << body;
}

TEST(Exposer, StopsPromptly) {
  catalogue cat;
  auto server = std::make_unique<exposer>(cat, "127.0.0.1:0");
  long status = 0;
  http_get("http://127.0.0.1:" + std::to_string(server->port()) + "/metrics", &status);
  // Let civetweb's listener settle into its 2 s poll, the case that used to stall.
  std::this_thread::sleep_for(std::chrono::milliseconds(100)); // -- allowed: puts the listener into its long poll
  auto start = std::chrono::steady_clock::now();
  server.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}
