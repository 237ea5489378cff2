// engine_metrics.h: what hokm-engine serves on /metrics (Prometheus text)
// and /health (JSON), rendered from an Engine's counters and segment.
#pragma once

#include <string>

#include "core/engine.h"

namespace hokm {

// Prometheus text of the engine's counters, ring fill and active games.
std::string EngineMetricsText(const Engine& engine);
// {"status":"ok","shards":..,"active_games":..,"busy":..,"max_change_ring_fill":..}
std::string EngineHealthJson(const Engine& engine);

}  // namespace hokm
