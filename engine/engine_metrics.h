// engine_metrics.h: what hokm-engine serves on /metrics (Prometheus text)
// and /health, /readyz (JSON, 200 or 503), rendered from an Engine's
// counters and segment.
//
// Thread safety: reads the segment's atomics and counter lines only, so the
// metrics server's thread may call these while the shards run.
#pragma once

#include <cstdint>
#include <string>

#include "core/engine.h"
#include "service/metrics_server.h"

namespace hokm {

// Prometheus text of the engine's counters, ring fill and active games,
// and hokm_build_info.
std::string EngineMetricsText(const Engine& engine);

// {"status":"ok"|"unavailable","ready":..,"reasons":[..],"shards":..,
// "shards_running":..,"active_games":..,"busy":..,"max_change_ring_fill":..}
// Not ok (503) when the engine cannot serve commands: fewer shard threads
// running than shards (starting or stopping), a segment header that is no
// longer a hokm segment's, another process holding the engine claim, or a
// change ring full (every command answered Busy: hokm-sidecar is not
// reading).
service::Health EngineHealth(const Engine& engine, std::uint32_t shards_running);

}  // namespace hokm
