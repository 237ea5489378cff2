// metrics.h: hokm-sidecar's /metrics (Prometheus text, service::PromText)
// and /health (JSON) rendered from the reader's, the window's and the
// workers' counters. Metric names and JSON keys are a contract: loadgen,
// the tests and dashboards read them.
//
// Thread safety: reads only what the reader and the workers publish for any
// thread (see reader.h, worker.h).
#pragma once

#include <cstdint>
#include <string>

#include "service/metrics_server.h"
#include "sidecar/pg/pg_sink.h"
#include "sidecar/reader.h"
#include "sidecar/redis/redis_sink.h"
#include "sidecar/window.h"
#include "sidecar/worker.h"

namespace hokm::sidecar {

// The sinks' own counters (hokm_sidecar_redis_*, hokm_sidecar_pg_*,
// hokm_sidecar_dead_letters_total).
std::string RedisSinkStatsText(const RedisSinkStats& s);
std::string PgSinkStatsText(const PgSinkStats& s);

// The whole /metrics page: reader and window, then each family with one
// sample per worker (redis, then postgres), then each sink's counters as of
// its last write.
std::string RenderMetrics(const ChangeReader& reader, const Window& window, const Worker& redis,
                          const Worker& pg);

// The engine as /health sees it: attached (a live process holds the
// claim), beating (its heartbeat was seen to move: hokm-engine beats every
// 100 ms, an engine embedded in another process never does) and how old
// its last heartbeat is.
struct EngineLiveness {
  bool attached = false;
  bool beating = false;
  std::uint64_t heartbeat_age_ns = 0;
};
// An attached, beating engine whose heartbeat is older than this is stuck.
inline constexpr std::uint64_t kEngineHeartbeatStaleNs = 5'000'000'000;

// /health and /readyz: 503 (not ok) with the reasons when the sidecar
// cannot deliver: a corrupt change ring, a breaker not closed, a spill
// queue not empty, or an attached engine's heartbeat stale. JSON: status
// ok | degraded | corrupt, ready, reasons, the lag, corrupt rings, and
// each worker's breaker, lag and spill.
service::Health RenderHealth(const ChangeReader& reader, const Window& window,
                             const EngineLiveness& engine, const Worker& redis, const Worker& pg);

}  // namespace hokm::sidecar
