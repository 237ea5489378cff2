// engine_metrics.cc: hokm-engine's /metrics and /health (see
// engine_metrics.h).
#include "engine/engine_metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "service/prom_text.h"

namespace hokm {
namespace {

// HELP of hokm_engine_<name>_total, by EngineCounter word.
const char* CounterHelp(std::size_t word) {
  switch (word) {
    case EngineCounter::kCommands:
      return "commands the shard took off its command ring, since the segment was created";
    case EngineCounter::kAccepted:
      return "commands applied, since the segment was created";
    case EngineCounter::kRejected:
      return "commands refused by the rules or for an unknown game";
    case EngineCounter::kBusy:
      return "commands answered Busy because the shard's change ring was full";
    case EngineCounter::kRecords:
      return "change records published on the shard's change ring";
    case EngineCounter::kGamesCreated:
      return "games created";
    case EngineCounter::kGamesEnded:
      return "games that finished or were abandoned";
    case EngineCounter::kTurnTimeouts:
      return "moves the engine made for a seat whose turn deadline passed";
    default:
      return "engine counter";
  }
}

std::string ShardLabel(std::uint32_t shard) { return "shard=\"" + std::to_string(shard) + "\""; }

// A change ring this full answers every command Busy.
constexpr double kRingFull = 0.99;

}  // namespace

std::string EngineMetricsText(const Engine& engine) {
  service::PromText text;
  text.BuildInfo();
  // The shards' counter lines in the segment (core/engine.h EngineCounter).
  for (const EngineCounter& counter : kEngineCounters) {
    const std::string name = std::string("hokm_engine_") + counter.name + "_total";
    text.Family(name.c_str(), "counter", CounterHelp(counter.word));
    for (std::uint32_t i = 0; i < engine.shards(); ++i) {
      text.Sample(name.c_str(), static_cast<double>(engine.counters(i).Get(counter.word)),
                  ShardLabel(i));
    }
  }
  text.Family("hokm_engine_change_ring_fill_ratio", "gauge",
              "share of the shard's change ring not yet read by hokm-sidecar (0 to 1)");
  for (std::uint32_t i = 0; i < engine.shards(); ++i) {
    text.Sample("hokm_engine_change_ring_fill_ratio", engine.segment().change_ring(i).FillRatio(),
                ShardLabel(i));
  }
  text.Family("hokm_engine_change_ring_lag_bytes", "gauge",
              "bytes of the shard's change ring not yet read by hokm-sidecar");
  for (std::uint32_t i = 0; i < engine.shards(); ++i) {
    text.Sample("hokm_engine_change_ring_lag_bytes",
                static_cast<double>(engine.segment().change_ring(i).Lag()), ShardLabel(i));
  }
  text.Gauge("hokm_engine_active_games", static_cast<double>(engine.segment().table().Live()),
             "games in the segment's table");
  text.Gauge("hokm_engine_table_capacity", engine.segment().table().capacity(),
             "game slots in the segment's table");
  return text.Take();
}

service::Health EngineHealth(const Engine& engine, std::uint32_t shards_running) {
  std::uint64_t busy = 0;
  double fill = 0;
  std::vector<std::string> reasons;
  const shm::Segment& segment = engine.segment();
  if (segment.header().magic != shm::kSegmentMagic) {
    reasons.push_back("the segment header is not a hokm segment's any more (overwritten)");
  }
  if (segment.engine_pid() != ::getpid()) {
    reasons.push_back("the segment's engine claim is held by pid " +
                      std::to_string(segment.engine_pid()) + ", not this process");
  }
  if (shards_running < engine.shards()) {
    reasons.push_back(std::to_string(shards_running) + " of " + std::to_string(engine.shards()) +
                      " shard threads running");
  }
  for (std::uint32_t i = 0; i < engine.shards(); ++i) {
    busy += engine.counters(i).Get(EngineCounter::kBusy);
    const double shard_fill = segment.change_ring(i).FillRatio();
    fill = std::max(fill, shard_fill);
    if (shard_fill >= kRingFull) {
      reasons.push_back("change ring of shard " + std::to_string(i) +
                        " full: commands answered Busy (is hokm-sidecar reading?)");
    }
  }
  service::Health health;
  health.ok = reasons.empty();
  char json[256];
  std::snprintf(json, sizeof json,
                "{\"status\":\"%s\",\"ready\":%s,\"shards\":%u,\"shards_running\":%u,"
                "\"active_games\":%llu,\"busy\":%llu,\"max_change_ring_fill\":%.4f,\"reasons\":[",
                health.ok ? "ok" : "unavailable", health.ok ? "true" : "false", engine.shards(),
                shards_running, static_cast<unsigned long long>(segment.table().Live()),
                static_cast<unsigned long long>(busy), fill);
  health.json = json;
  for (std::size_t i = 0; i < reasons.size(); ++i) {
    // The reasons are our own text: no character JSON would escape.
    health.json += (i ? ",\"" : "\"") + reasons[i] + "\"";
  }
  health.json += "]}";
  return health;
}

}  // namespace hokm
