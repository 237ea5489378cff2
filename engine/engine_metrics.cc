#include "engine/engine_metrics.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <string>

#include "service/prom_text.h"

namespace hokm {

std::string EngineMetricsText(const Engine& engine) {
  service::PromText text;
  struct CounterField {
    const char* name;
    std::atomic<std::uint64_t> ShardCounters::*field;
  };
  static constexpr CounterField kCounters[] = {
      {"hokm_engine_commands_total", &ShardCounters::commands},
      {"hokm_engine_accepted_total", &ShardCounters::accepted},
      {"hokm_engine_rejected_total", &ShardCounters::rejected},
      {"hokm_engine_busy_total", &ShardCounters::busy},
      {"hokm_engine_records_total", &ShardCounters::records},
      {"hokm_engine_games_created_total", &ShardCounters::games_created},
      {"hokm_engine_games_ended_total", &ShardCounters::games_ended},
  };
  for (const CounterField& counter : kCounters) {
    text.Type(counter.name, "counter");
    for (std::uint32_t i = 0; i < engine.shards(); ++i) {
      const auto value = (engine.counters(i).*counter.field).load(std::memory_order_relaxed);
      text.Sample(counter.name, static_cast<double>(value), "shard=\"" + std::to_string(i) + "\"");
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
    busy += engine.counters(i).busy.load(std::memory_order_relaxed);
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
