// metrics.cc: /metrics and /health of hokm-sidecar (see metrics.h).
#include "sidecar/metrics.h"

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <utility>
#include <vector>

#include "core/engine.h"
#include "service/prom_text.h"

namespace hokm::sidecar {
namespace {

std::string SinkLabel(const Worker& w) { return "sink=\"" + std::string(w.name()) + "\""; }

// Metric families with one sample per worker; families must stay
// contiguous, so they are written family by family over the workers.
struct Family {
  const char* name;
  const char* kind;
  const char* help;
  double (*value)(const Worker&);
};
constexpr Family kFamilies[] = {
    {"hokm_sidecar_records_total", "counter", "records the sink has (written or already there)",
     [](const Worker& w) { return double(w.records()); }},
    {"hokm_sidecar_batches_total", "counter", "writes to the sink that succeeded",
     [](const Worker& w) { return double(w.batches()); }},
    {"hokm_sidecar_spilled_records_total", "counter",
     "records written to the sink's spill queue while its store was down",
     [](const Worker& w) { return double(w.spilled()); }},
    {"hokm_sidecar_replayed_records_total", "counter",
     "records replayed from the spill queue once the store answered again",
     [](const Worker& w) { return double(w.replayed()); }},
    {"hokm_sidecar_spill_bytes", "gauge", "bytes in the sink's spill queue",
     [](const Worker& w) { return double(w.spill_bytes()); }},
    {"hokm_sidecar_spill_records", "gauge", "records in the sink's spill queue",
     [](const Worker& w) { return double(w.SpillRecords()); }},
    {"hokm_sidecar_breaker_state", "gauge", "the sink's breaker: 0 closed, 1 open, 2 half-open",
     [](const Worker& w) { return double(w.breaker().StateRelaxed()); }},
    {"hokm_sidecar_breaker_opens_total", "counter", "times the sink's breaker opened",
     [](const Worker& w) { return double(w.breaker().opens_total()); }},
    {"hokm_sidecar_write_failures_total", "counter", "writes and checks of the sink that failed",
     [](const Worker& w) { return double(w.breaker().failures_total()); }},
};

// Summaries of a histogram of microseconds (scale 1e-6: seconds) or of
// plain counts (scale 1).
struct Summary {
  const char* name;
  const char* help;
  const core::LatencyHistogram& (*histogram)(const Worker&);
  double scale;
};
constexpr Summary kSummaries[] = {
    {"hokm_sidecar_sync_lag_quantiles_seconds",
     "time from a record's publication by the engine to the store's acknowledgement, since start "
     "(the same samples as the histogram hokm_sidecar_sync_lag_seconds)",
     [](const Worker& w) -> const core::LatencyHistogram& { return w.lag_us(); }, 1e-6},
    {"hokm_sidecar_write_latency_seconds", "time one write to the store took, since start",
     [](const Worker& w) -> const core::LatencyHistogram& { return w.write_us(); }, 1e-6},
    {"hokm_sidecar_batch_records", "records per write to the store, since start",
     [](const Worker& w) -> const core::LatencyHistogram& { return w.batch_size(); }, 1.0},
};

void Quantiles(service::PromText& t, const char* name, const core::LatencyHistogram& h,
               double scale, const std::string& label) {
  const service::PromText::Quantile quantiles[] = {
      {"0.5", static_cast<double>(h.Quantile(0.5)) * scale},
      {"0.99", static_cast<double>(h.Quantile(0.99)) * scale},
      {"0.999", static_cast<double>(h.Quantile(0.999)) * scale},
  };
  t.SummarySeries(name, quantiles, static_cast<double>(h.Sum()) * scale, h.Count(), label);
}

// The sync lag again as a Prometheus histogram (seconds), cumulative since
// start: unlike the summary's quantiles, two scrapes can be subtracted,
// so a dashboard (or loadgen, for the time after its ramp) gets the lag
// of any window. Bounds: four per power of two from 79 us to 67 s,
// each the exact upper bound of a LatencyHistogram bucket.
void LagHistogram(service::PromText& t, const char* name, const core::LatencyHistogram& lag_us,
                  const std::string& label) {
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  int counted = 0;  // buckets [0, counted) are in `cumulative`
  for (int shift = 2; shift <= 21; ++shift) {
    for (int sub = 3; sub < core::LatencyHistogram::kSub; sub += 4) {
      const int upto = (shift + 1) * core::LatencyHistogram::kSub + sub;
      for (; counted <= upto; ++counted) cumulative += lag_us.BucketCount(counted);
      const std::string le = service::PromText::Number(
          static_cast<double>(core::LatencyHistogram::UpperBound(upto)) / 1e6);
      t.Sample(bucket.c_str(), static_cast<double>(cumulative), label + ",le=\"" + le + "\"");
    }
  }
  const std::uint64_t count = lag_us.Count();
  t.Sample(bucket.c_str(), static_cast<double>(count), label + ",le=\"+Inf\"");
  t.Sample((std::string(name) + "_sum").c_str(), static_cast<double>(lag_us.Sum()) / 1e6, label);
  t.Sample((std::string(name) + "_count").c_str(), static_cast<double>(count), label);
}

// One counter per (name, value, help), in order.
struct CounterLine {
  const char* name;
  std::uint64_t value;
  const char* help;
};
void Counters(service::PromText& t, std::initializer_list<CounterLine> counters) {
  for (const CounterLine& c : counters) t.Counter(c.name, static_cast<double>(c.value), c.help);
}

std::string WorkerHealthJson(const Worker& w, std::uint64_t window_end) {
  char json[512];
  std::snprintf(
      json, sizeof json,
      "{\"breaker\":\"%s\",\"lag_records\":%llu,\"spill_records\":%llu,\"spill_bytes\":%llu,"
      "\"records\":%llu,\"sync_lag_ms_p99\":%.3f,\"last_error\":\"%s\"}",
      Breaker::Name(w.breaker().StateRelaxed()),
      static_cast<unsigned long long>(window_end - std::min(window_end, w.acked())),
      static_cast<unsigned long long>(w.SpillRecords()),
      static_cast<unsigned long long>(w.spill_bytes()),
      static_cast<unsigned long long>(w.records()),
      static_cast<double>(w.lag_us().Quantile(0.99)) / 1000.0, w.LastError().c_str());
  return json;
}

// Why a worker cannot deliver now (appended to `reasons`).
void WorkerReasons(const Worker& w, std::vector<std::string>& reasons) {
  const Breaker::State state = w.breaker().StateRelaxed();
  if (state != Breaker::State::kClosed) {
    const std::string error = w.LastError();
    reasons.push_back(std::string(w.name()) + ": breaker " + Breaker::Name(state) +
                      (error.empty() ? "" : " (" + error + ")"));
  }
  if (!w.SpillEmpty()) {
    reasons.push_back(std::string(w.name()) + ": spilling, " + std::to_string(w.SpillRecords()) +
                      " records in the spill queue");
  }
}

}  // namespace

std::string RedisSinkStatsText(const RedisSinkStats& s) {
  service::PromText t;
  Counters(t, {{"hokm_sidecar_redis_records_applied_total", s.records_applied,
                "records applied to Redis (above the game's stored seq)"},
               {"hokm_sidecar_redis_records_duplicate_total", s.records_duplicate,
                "records Redis already had: skipped"},
               {"hokm_sidecar_redis_entries_total", s.entries, "stream entries added (XADD)"},
               {"hokm_sidecar_redis_commands_total", s.commands, "commands sent to Redis"},
               {"hokm_sidecar_redis_scripts_total", s.scripts, "scripts run in Redis (EVAL)"},
               {"hokm_sidecar_redis_probes_total", s.probes,
                "games whose stored seq was read back from Redis"},
               {"hokm_sidecar_redis_round_trips_total", s.round_trips, "round trips to Redis"},
               {"hokm_sidecar_redis_reconnects_total", s.reconnects, "reconnections to Redis"},
               {"hokm_sidecar_redis_rebuilds_total", s.rebuilds,
                "times Redis was found without a hokm:marker:{T} key (lost data) or with its "
                "masters changed (a failover), and rebuilt"},
               {"hokm_sidecar_redis_rebuilt_games_total", s.rebuilt_games,
                "games rewritten into Redis by rebuilds"}});
  t.Gauge("hokm_sidecar_redis_last_rebuild_seconds", static_cast<double>(s.last_rebuild_us) / 1e6,
          "how long the last rebuild of Redis took");
  return t.Take();
}

std::string PgSinkStatsText(const PgSinkStats& s) {
  service::PromText t;
  Counters(t, {{"hokm_sidecar_pg_rows_inserted_total", s.rows_inserted,
                "game_commands rows inserted into PostgreSQL"},
               {"hokm_sidecar_pg_records_inserted_total", s.moves_inserted,
                "records inserted into PostgreSQL"},
               {"hokm_sidecar_pg_transactions_total", s.transactions,
                "PostgreSQL transactions committed"},
               {"hokm_sidecar_dead_letters_total", s.dead_letters,
                "records routed to the dead_letters table"}});
  return t.Take();
}

std::string RenderMetrics(const ChangeReader& reader, const Window& window, const Worker& redis,
                          const Worker& pg) {
  const Worker* const workers[] = {&redis, &pg};
  service::PromText t;
  t.BuildInfo();
  t.Counter("hokm_sidecar_records_read_total", static_cast<double>(reader.records_read()),
            "records read off the change rings");
  t.Counter("hokm_sidecar_malformed_records_total", static_cast<double>(reader.malformed()),
            "records on the change rings that did not decode");
  const std::uint64_t end = window.End();
  const std::uint64_t done = reader.committed_records();
  t.Gauge("hokm_sidecar_lag_records", static_cast<double>(end - std::min(end, done)),
          "records read but not yet in both stores");
  const std::uint64_t oldest = window.TsAt(done);
  const std::uint64_t now = RealtimeNowNs();
  t.Gauge("hokm_sidecar_lag_seconds",
          oldest && now > oldest ? static_cast<double>(now - oldest) / 1e9 : 0.0,
          "age of the oldest record read but not yet in both stores");
  t.Family("hokm_sidecar_ring_corrupt", "gauge",
           "1 when the shard's change ring holds bytes that are no record (reading stopped there)");
  for (std::uint32_t s = 0; s < reader.shards(); ++s) {
    t.Sample("hokm_sidecar_ring_corrupt",
             reader.corrupt_at(s) != ChangeReader::kNotCorrupt ? 1.0 : 0.0,
             "shard=\"" + std::to_string(s) + "\"");
  }
  t.Family("hokm_sidecar_ring_lag_bytes", "gauge", "bytes of the shard's change ring not yet read");
  for (std::uint32_t s = 0; s < reader.shards(); ++s) {
    t.Sample("hokm_sidecar_ring_lag_bytes", static_cast<double>(reader.ring_lag_bytes(s)),
             "shard=\"" + std::to_string(s) + "\"");
  }
  for (const Family& f : kFamilies) {
    t.Family(f.name, f.kind, f.help);
    for (const Worker* w : workers) t.Sample(f.name, f.value(*w), SinkLabel(*w));
  }
  for (const Summary& s : kSummaries) {
    t.Family(s.name, "summary", s.help);
    for (const Worker* w : workers) Quantiles(t, s.name, s.histogram(*w), s.scale, SinkLabel(*w));
  }
  t.Family("hokm_sidecar_sync_lag_seconds", "histogram",
           "time from a record's publication by the engine to the store's acknowledgement, "
           "since start");
  for (const Worker* w : workers)
    LagHistogram(t, "hokm_sidecar_sync_lag_seconds", w->lag_us(), SinkLabel(*w));
  std::string text = t.Take();
  for (const Worker* w : workers) text += w->ClientStats();
  return text;
}

service::Health RenderHealth(const ChangeReader& reader, const Window& window,
                             const EngineLiveness& engine, const Worker& redis, const Worker& pg) {
  const std::uint64_t end = window.End();
  const std::uint64_t done = reader.committed_records();
  std::vector<std::string> reasons;
  for (std::uint32_t s = 0; s < reader.shards(); ++s) {
    const std::uint64_t at = reader.corrupt_at(s);
    if (at != ChangeReader::kNotCorrupt)
      reasons.push_back("change ring of shard " + std::to_string(s) + " corrupt at position " +
                        std::to_string(at));
  }
  WorkerReasons(redis, reasons);
  WorkerReasons(pg, reasons);
  const bool stale =
      engine.attached && engine.beating && engine.heartbeat_age_ns > kEngineHeartbeatStaleNs;
  if (stale) {
    reasons.push_back("the engine's heartbeat is " +
                      std::to_string(engine.heartbeat_age_ns / 1'000'000'000) +
                      " s old (the engine is attached but stopped beating)");
  }
  service::Health health;
  health.ok = reasons.empty();
  std::string& json = health.json;
  json = "{\"status\":\"";
  json += reader.AnyCorrupt() ? "corrupt" : health.ok ? "ok" : "degraded";
  json += "\",\"ready\":";
  json += health.ok ? "true" : "false";
  json += ",\"engine_attached\":";
  json += engine.attached ? "true" : "false";
  json += ",\"engine_heartbeat_stale\":";
  json += stale ? "true" : "false";
  json += ",\"lag_records\":" + std::to_string(end - std::min(end, done));
  // Not yet in both stores: the window's lag plus what either sink spilled.
  json += ",\"pending_records\":" +
          std::to_string(end - std::min(end, done) + redis.SpillRecords() + pg.SpillRecords());
  json += ",\"corrupt_rings\":[";
  bool first_corrupt = true;
  for (std::uint32_t s = 0; s < reader.shards(); ++s) {
    const std::uint64_t at = reader.corrupt_at(s);
    if (at == ChangeReader::kNotCorrupt) continue;
    json += first_corrupt ? "" : ",";
    json += "{\"shard\":" + std::to_string(s) + ",\"position\":" + std::to_string(at) + "}";
    first_corrupt = false;
  }
  json += "]";
  json += ",\"redis\":" + WorkerHealthJson(redis, end);
  json += ",\"postgres\":" + WorkerHealthJson(pg, end);
  // Our own text and LastError(), which holds no character JSON escapes.
  json += ",\"reasons\":[";
  for (std::size_t i = 0; i < reasons.size(); ++i) json += (i ? ",\"" : "\"") + reasons[i] + "\"";
  json += "]}";
  return health;
}

}  // namespace hokm::sidecar
