// sidecar_probe.h: what loadgen reads from hokm-sidecar over HTTP on
// loopback: the sync-lag quantiles from /metrics and the drain state from
// /health (the JSON of sidecar/metrics.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shm/status.h"

namespace hokm::loadgen {

struct HttpUrl {
  std::string host;
  std::uint16_t port = 80;
  std::string path = "/";
};

// http://host[:port][/path]. Only plain HTTP (the sidecar serves loopback).
Result<HttpUrl> ParseHttpUrl(std::string_view url);

// GET the URL (HTTP/1.0); the body when the status is 200, or 503 too with
// accept_unavailable (the sidecar's /health: its JSON says why it is not
// ready, and a sidecar that answers is up).
Result<std::string> HttpGet(const HttpUrl& url, std::chrono::milliseconds timeout,
                            bool accept_unavailable = false);

struct LagQuantiles {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};
struct SyncLag {
  LagQuantiles redis;
  LagQuantiles postgres;
};

// Reads the summary hokm_sidecar_sync_lag_quantiles_seconds{sink=...,
// quantile=...} from a Prometheus text page, in ms. max is quantile "1" (or
// a ..._max sample) when the sidecar exports one, else its highest quantile
// (0.999). InvalidArgument when the page has no sync-lag samples.
Result<SyncLag> ParseSyncLag(std::string_view metrics_text);

// One sink's cumulative sync-lag histogram, as the sidecar exports it
// (hokm_sidecar_sync_lag_seconds): (le in ms, samples <= le), ascending,
// the last le +Inf.
struct LagHistogram {
  std::vector<std::pair<double, std::uint64_t>> buckets;
};
struct SyncLagHistograms {
  LagHistogram redis;
  LagHistogram postgres;
};

// Reads hokm_sidecar_sync_lag_seconds_bucket{sink=...,le=...} from a
// Prometheus text page (le turned into ms). InvalidArgument when either
// sink has none.
Result<SyncLagHistograms> ParseSyncLagHistograms(std::string_view metrics_text);

// The quantiles of the samples recorded between two scrapes of the same
// sidecar (`before` may be empty: from its start). Each figure is the
// upper bound of the bucket it falls in (at most 19% above the sample);
// max is that of the highest bucket that gained a sample. Zeros when no
// sample was added; InvalidArgument when the bucket bounds differ or a
// count went down (the sidecar restarted in between).
Result<LagQuantiles> WindowQuantiles(const LagHistogram& before, const LagHistogram& after);
Result<SyncLag> WindowSyncLag(const SyncLagHistograms& before, const SyncLagHistograms& after);

struct SidecarHealth {
  std::uint64_t lag_records = 0;  // read from the rings, not yet in both stores
  std::uint64_t redis_spill_records = 0;
  std::uint64_t postgres_spill_records = 0;
  bool engine_attached = false;

  bool Drained() const {
    return lag_records == 0 && redis_spill_records == 0 && postgres_spill_records == 0;
  }
};

// Parses the sidecar's /health JSON.
Result<SidecarHealth> ParseSidecarHealth(std::string_view json);

// The /health URL beside a /metrics URL (the path's last part replaced).
HttpUrl HealthUrlOf(HttpUrl metrics_url);

}  // namespace hokm::loadgen
