#include "engine/engine_metrics.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "service/prom_text.h"

namespace hokm {

std::string EngineMetricsText(const Engine& engine) {
  service::PromText text;
  // The shards' counter lines in the segment (core/engine.h EngineCounter).
  for (const EngineCounter& counter : kEngineCounters) {
    const std::string name = std::string("hokm_engine_") + counter.name + "_total";
    text.Type(name.c_str(), "counter");
    for (std::uint32_t i = 0; i < engine.shards(); ++i) {
      text.Sample(name.c_str(), static_cast<double>(engine.counters(i).Get(counter.word)),
                  "shard=\"" + std::to_string(i) + "\"");
    }
  }
  text.Type("hokm_engine_change_ring_fill_ratio", "gauge");
  for (std::uint32_t i = 0; i < engine.shards(); ++i) {
    text.Sample("hokm_engine_change_ring_fill_ratio", engine.segment().change_ring(i).FillRatio(),
                "shard=\"" + std::to_string(i) + "\"");
  }
  text.Type("hokm_engine_change_ring_lag_bytes", "gauge");
  for (std::uint32_t i = 0; i < engine.shards(); ++i) {
    text.Sample("hokm_engine_change_ring_lag_bytes",
                static_cast<double>(engine.segment().change_ring(i).Lag()),
                "shard=\"" + std::to_string(i) + "\"");
  }
  text.Gauge("hokm_engine_active_games", static_cast<double>(engine.segment().table().Live()));
  text.Gauge("hokm_engine_table_capacity", engine.segment().table().capacity());
  return text.Take();
}

std::string EngineHealthJson(const Engine& engine) {
  std::uint64_t busy = 0;
  double fill = 0;
  for (std::uint32_t i = 0; i < engine.shards(); ++i) {
    busy += engine.counters(i).Get(EngineCounter::kBusy);
    fill = std::max(fill, engine.segment().change_ring(i).FillRatio());
  }
  char json[256];
  std::snprintf(json, sizeof json,
                "{\"status\":\"ok\",\"shards\":%u,\"active_games\":%llu,\"busy\":%llu,"
                "\"max_change_ring_fill\":%.4f}",
                engine.shards(), static_cast<unsigned long long>(engine.segment().table().Live()),
                static_cast<unsigned long long>(busy), fill);
  return json;
}

}  // namespace hokm
