// sidecar_probe_test.cc: loadgen's readers of the sidecar's /metrics and
// /health, and its http:// URLs.
#include "loadgen/sidecar_probe.h"

#include <gtest/gtest.h>

namespace hokm::loadgen {
namespace {

constexpr const char* kMetrics =
    "# TYPE hokm_sidecar_records_total counter\n"
    "hokm_sidecar_records_total{sink=\"redis\"} 10\n"
    "# TYPE hokm_sidecar_sync_lag_ms summary\n"
    "hokm_sidecar_sync_lag_ms{sink=\"redis\",quantile=\"0.5\"} 1.5\n"
    "hokm_sidecar_sync_lag_ms{sink=\"redis\",quantile=\"0.99\"} 4.25\n"
    "hokm_sidecar_sync_lag_ms{sink=\"redis\",quantile=\"0.999\"} 8\n"
    "hokm_sidecar_sync_lag_ms_count{sink=\"redis\"} 100\n"
    "hokm_sidecar_sync_lag_ms{sink=\"postgres\",quantile=\"0.5\"} 20\n"
    "hokm_sidecar_sync_lag_ms{sink=\"postgres\",quantile=\"0.99\"} 60\n"
    "hokm_sidecar_sync_lag_ms{sink=\"postgres\",quantile=\"0.999\"} 90\n"
    "hokm_sidecar_sync_lag_ms{sink=\"postgres\",quantile=\"1\"} 95.5\n"
    "hokm_sidecar_sync_lag_ms_count{sink=\"postgres\"} 100\n";

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

}  // namespace
}  // namespace hokm::loadgen
