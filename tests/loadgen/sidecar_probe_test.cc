// sidecar_probe_test.cc: loadgen's readers of the sidecar's /metrics and
// /health, and its http:// URLs.
#include "loadgen/verify/sidecar_probe.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "service/metrics_server.h"

namespace hokm::loadgen {
namespace {

// As sidecar/metrics.cc writes it: seconds, which the probe reads in ms.
constexpr const char* kMetrics =
    "# TYPE hokm_sidecar_records_total counter\n"
    "hokm_sidecar_records_total{sink=\"redis\"} 10\n"
    "# TYPE hokm_sidecar_sync_lag_quantiles_seconds summary\n"
    "hokm_sidecar_sync_lag_quantiles_seconds{sink=\"redis\",quantile=\"0.5\"} 0.0015\n"
    "hokm_sidecar_sync_lag_quantiles_seconds{sink=\"redis\",quantile=\"0.99\"} 0.00425\n"
    "hokm_sidecar_sync_lag_quantiles_seconds{sink=\"redis\",quantile=\"0.999\"} 0.008\n"
    "hokm_sidecar_sync_lag_quantiles_seconds_sum{sink=\"redis\"} 0.2\n"
    "hokm_sidecar_sync_lag_quantiles_seconds_count{sink=\"redis\"} 100\n"
    "hokm_sidecar_sync_lag_quantiles_seconds{sink=\"postgres\",quantile=\"0.5\"} 0.02\n"
    "hokm_sidecar_sync_lag_quantiles_seconds{sink=\"postgres\",quantile=\"0.99\"} 0.06\n"
    "hokm_sidecar_sync_lag_quantiles_seconds{sink=\"postgres\",quantile=\"0.999\"} 0.09\n"
    "hokm_sidecar_sync_lag_quantiles_seconds{sink=\"postgres\",quantile=\"1\"} 0.0955\n"
    "hokm_sidecar_sync_lag_quantiles_seconds_sum{sink=\"postgres\"} 3\n"
    "hokm_sidecar_sync_lag_quantiles_seconds_count{sink=\"postgres\"} 100\n";

TEST(SidecarProbeTest, SyncLagQuantilesPerSink) {
  auto lag = ParseSyncLag(kMetrics);
  ASSERT_TRUE(lag.ok()) << lag.status().message();
  EXPECT_DOUBLE_EQ(lag->redis.p50, 1.5);
  EXPECT_DOUBLE_EQ(lag->redis.p99, 4.25);
  EXPECT_DOUBLE_EQ(lag->redis.max, 8) << "no quantile 1: the highest one stands in for max";
  EXPECT_DOUBLE_EQ(lag->postgres.p50, 20);
  EXPECT_DOUBLE_EQ(lag->postgres.p99, 60);
  EXPECT_DOUBLE_EQ(lag->postgres.max, 95.5);
}

TEST(SidecarProbeTest, APageWithoutSyncLagIsAnError) {
  EXPECT_FALSE(ParseSyncLag("hokm_engine_commands_total{shard=\"0\"} 5\n").ok());
  EXPECT_FALSE(ParseSyncLag("").ok());
}

// A histogram page as sidecar/metrics.cc writes it (fewer buckets; le in
// seconds: 1, 10 and 100 ms).
std::string HistogramPage(std::uint64_t r1, std::uint64_t r2, std::uint64_t r3, std::uint64_t rinf,
                          std::uint64_t p1, std::uint64_t p2, std::uint64_t p3,
                          std::uint64_t pinf) {
  std::string page = "# TYPE hokm_sidecar_sync_lag_seconds histogram\n";
  const auto add = [&](const char* sink, const char* le, std::uint64_t n) {
    page += std::string("hokm_sidecar_sync_lag_seconds_bucket{sink=\"") + sink + "\",le=\"" + le +
            "\"} " + std::to_string(n) + "\n";
  };
  add("redis", "0.001", r1);
  add("redis", "0.01", r2);
  add("redis", "0.1", r3);
  add("redis", "+Inf", rinf);
  page += "hokm_sidecar_sync_lag_seconds_count{sink=\"redis\"} " + std::to_string(rinf) + "\n";
  add("postgres", "0.001", p1);
  add("postgres", "0.01", p2);
  add("postgres", "0.1", p3);
  add("postgres", "+Inf", pinf);
  return page;
}

TEST(SidecarProbeTest, LagHistogramsAreReadPerSink) {
  auto h = ParseSyncLagHistograms(std::string(kMetrics) + HistogramPage(5, 8, 9, 9, 0, 1, 2, 2));
  ASSERT_TRUE(h.ok()) << h.status().message();
  ASSERT_EQ(h->redis.buckets.size(), 4u) << "_count is not a bucket";
  EXPECT_DOUBLE_EQ(h->redis.buckets[1].first, 10);
  EXPECT_EQ(h->redis.buckets[1].second, 8u);
  EXPECT_TRUE(std::isinf(h->redis.buckets[3].first));
  EXPECT_EQ(h->postgres.buckets[3].second, 2u);
  EXPECT_FALSE(ParseSyncLagHistograms(kMetrics).ok()) << "a page without histograms";
}

TEST(SidecarProbeTest, WindowQuantilesCountOnlyTheSamplesBetweenTwoScrapes) {
  // Before: 100 redis samples, all <= 1 ms.
  auto before = ParseSyncLagHistograms(HistogramPage(100, 100, 100, 100, 0, 0, 50, 50));
  // Added in the window: redis 90 <= 1, 9 in (1, 10], 1 in (10, 100];
  // postgres 100 in (10, 100].
  auto after = ParseSyncLagHistograms(HistogramPage(190, 199, 200, 200, 0, 0, 150, 150));
  ASSERT_TRUE(before.ok() && after.ok());
  auto lag = WindowSyncLag(*before, *after);
  ASSERT_TRUE(lag.ok()) << lag.status().message();
  EXPECT_DOUBLE_EQ(lag->redis.p50, 1);
  EXPECT_DOUBLE_EQ(lag->redis.p99, 10) << "the 99th of 100 added samples is in (1, 10]";
  EXPECT_DOUBLE_EQ(lag->redis.max, 100);
  EXPECT_DOUBLE_EQ(lag->postgres.p50, 100);
  EXPECT_DOUBLE_EQ(lag->postgres.max, 100);

  // The whole history (no first scrape) sees the 100 earlier samples too.
  auto whole = WindowQuantiles({}, after->redis);
  ASSERT_TRUE(whole.ok());
  EXPECT_DOUBLE_EQ(whole->p99, 10);
  EXPECT_DOUBLE_EQ(whole->p50, 1);

  // Nothing added: zeros. A sample past the last finite bound: that bound.
  auto same = WindowQuantiles(after->redis, after->redis);
  ASSERT_TRUE(same.ok());
  EXPECT_DOUBLE_EQ(same->max, 0);
  auto overflow = ParseSyncLagHistograms(HistogramPage(190, 199, 200, 201, 0, 0, 150, 150));
  ASSERT_TRUE(overflow.ok());
  auto tail = WindowQuantiles(after->redis, overflow->redis);
  ASSERT_TRUE(tail.ok());
  EXPECT_DOUBLE_EQ(tail->max, 100);
}

TEST(SidecarProbeTest, WindowOfARestartedSidecarIsAnError) {
  auto before = ParseSyncLagHistograms(HistogramPage(100, 100, 100, 100, 0, 0, 50, 50));
  auto after = ParseSyncLagHistograms(HistogramPage(10, 10, 10, 10, 0, 0, 5, 5));
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_FALSE(WindowSyncLag(*before, *after).ok());
  LagHistogram other = after->redis;
  other.buckets[0].first = 2;
  EXPECT_FALSE(WindowQuantiles(before->redis, other).ok()) << "different bucket bounds";
}

TEST(SidecarProbeTest, HealthSaysWhetherEverythingIsDelivered) {
  auto h = ParseSidecarHealth(
      R"({"status":"ok","engine_attached":true,"lag_records":0,"redis":{"breaker":"closed","lag_records":0,)"
      R"("spill_records":0},"postgres":{"breaker":"closed","lag_records":3,"spill_records":0}})");
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_TRUE(h->Drained());
  EXPECT_TRUE(h->engine_attached);
  auto spilled = ParseSidecarHealth(
      R"({"lag_records":0,"redis":{"spill_records":7},"postgres":{"spill_records":0}})");
  ASSERT_TRUE(spilled.ok());
  EXPECT_FALSE(spilled->Drained());
  EXPECT_FALSE(ParseSidecarHealth("{\"lag_records\":0}").ok());
  EXPECT_FALSE(ParseSidecarHealth("not json").ok());
}

TEST(SidecarProbeTest, HttpUrls) {
  auto u = ParseHttpUrl("http://127.0.0.1:9465/metrics");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 9465);
  EXPECT_EQ(u->path, "/metrics");
  EXPECT_EQ(HealthUrlOf(*u).path, "/health");
  auto bare = ParseHttpUrl("http://localhost");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->port, 80);
  EXPECT_EQ(bare->path, "/");
  EXPECT_FALSE(ParseHttpUrl("https://127.0.0.1/metrics").ok());
  EXPECT_FALSE(ParseHttpUrl("http://127.0.0.1:0/metrics").ok());
  EXPECT_FALSE(ParseHttpUrl("http://:9465/metrics").ok());
}

TEST(SidecarProbeTest, NobodyListeningIsUnavailable) {
  auto u = ParseHttpUrl("http://127.0.0.1:1/metrics");
  ASSERT_TRUE(u.ok());
  auto page = HttpGet(*u, std::chrono::milliseconds(500));
  EXPECT_FALSE(page.ok());
}

TEST(SidecarProbeTest, HttpGetReadsAPageAndRefusesAnythingBut200) {
  std::string error;
  auto server = service::MetricsServer::Start(
      0, [] { return std::string(kMetrics); }, [] { return std::string("{\"status\":\"ok\"}"); },
      &error);
  ASSERT_NE(server, nullptr) << error;
  const std::string base = "http://127.0.0.1:" + std::to_string(server->port());
  auto metrics = ParseHttpUrl(base + "/metrics");
  ASSERT_TRUE(metrics.ok());
  auto page = HttpGet(*metrics, std::chrono::seconds(10));
  ASSERT_TRUE(page.ok()) << page.status().message();
  EXPECT_EQ(*page, kMetrics);
  auto health = HttpGet(HealthUrlOf(*metrics), std::chrono::seconds(10));
  ASSERT_TRUE(health.ok()) << health.status().message();
  EXPECT_EQ(*health, "{\"status\":\"ok\"}");
  auto missing = ParseHttpUrl(base + "/nothing-here");
  ASSERT_TRUE(missing.ok());
  auto refused = HttpGet(*missing, std::chrono::seconds(10));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("404"), std::string::npos)
      << refused.status().message();
}

}  // namespace
}  // namespace hokm::loadgen
