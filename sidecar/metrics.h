// metrics.h: hokm-sidecar's /metrics (Prometheus text, service::PromText)
// and /health (JSON) rendered from the reader's, the window's and the
// workers' counters. Metric names and JSON keys are a contract: loadgen,
// the tests and dashboards read them.
//
// Thread safety: reads only what the reader and the workers publish for any
// thread (see reader.h, worker.h).
#pragma once

#include <string>

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

// /health: status ok | degraded (a spill queue is not empty) | corrupt, the
// lag, corrupt rings, and each worker's breaker, lag and spill.
std::string RenderHealth(const ChangeReader& reader, const Window& window, bool engine_attached,
                         const Worker& redis, const Worker& pg);

}  // namespace hokm::sidecar
