// metrics.cc: /metrics and /health of hokm-sidecar (see metrics.h).
#include "sidecar/metrics.h"

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <utility>

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
  double (*value)(const Worker&);
};
constexpr Family kFamilies[] = {
    {"hokm_sidecar_records_total", "counter", [](const Worker& w) { return double(w.records()); }},
    {"hokm_sidecar_batches_total", "counter", [](const Worker& w) { return double(w.batches()); }},
    {"hokm_sidecar_spilled_records_total", "counter",
     [](const Worker& w) { return double(w.spilled()); }},
    {"hokm_sidecar_replayed_records_total", "counter",
     [](const Worker& w) { return double(w.replayed()); }},
    {"hokm_sidecar_spill_bytes", "gauge", [](const Worker& w) { return double(w.spill_bytes()); }},
    {"hokm_sidecar_spill_records", "gauge",
     [](const Worker& w) { return double(w.SpillRecords()); }},
    {"hokm_sidecar_breaker_state", "gauge",
     [](const Worker& w) { return double(w.breaker().StateRelaxed()); }},
    {"hokm_sidecar_breaker_opens_total", "counter",
     [](const Worker& w) { return double(w.breaker().opens_total()); }},
    {"hokm_sidecar_write_failures_total", "counter",
     [](const Worker& w) { return double(w.breaker().failures_total()); }},
};

// Summaries: quantiles in ms of a histogram of microseconds (or plain counts).
struct Summary {
  const char* name;
  const core::LatencyHistogram& (*histogram)(const Worker&);
  double scale;
};
constexpr Summary kSummaries[] = {
    {"hokm_sidecar_sync_lag_ms",
     [](const Worker& w) -> const core::LatencyHistogram& { return w.lag_us(); }, 1e-3},
    {"hokm_sidecar_write_latency_ms",
     [](const Worker& w) -> const core::LatencyHistogram& { return w.write_us(); }, 1e-3},
    {"hokm_sidecar_batch_records",
     [](const Worker& w) -> const core::LatencyHistogram& { return w.batch_size(); }, 1.0},
};

void Quantiles(service::PromText& t, const char* name, const core::LatencyHistogram& h,
               double scale, const std::string& label) {
  for (const char* q : {"0.5", "0.99", "0.999"}) {
    t.Sample(name, static_cast<double>(h.Quantile(std::stod(q))) * scale,
             label + ",quantile=\"" + q + "\"");
  }
  t.Sample((std::string(name) + "_count").c_str(), static_cast<double>(h.Count()), label);
}

// The sync lag again as a Prometheus histogram (ms), cumulative since
// start: unlike the summary's quantiles, two scrapes can be subtracted,
// so a dashboard (or loadgen, for the time after its ramp) gets the lag
// of any window. Bounds: four per power of two from 0.079 ms to 67 s,
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
      char le[32];
      std::snprintf(le, sizeof le, "%g",
                    static_cast<double>(core::LatencyHistogram::UpperBound(upto)) / 1000.0);
      t.Sample(bucket.c_str(), static_cast<double>(cumulative), label + ",le=\"" + le + "\"");
    }
  }
  const std::uint64_t count = lag_us.Count();
  t.Sample(bucket.c_str(), static_cast<double>(count), label + ",le=\"+Inf\"");
  t.Sample((std::string(name) + "_sum").c_str(),
           lag_us.Mean() * static_cast<double>(count) / 1000.0, label);
  t.Sample((std::string(name) + "_count").c_str(), static_cast<double>(count), label);
}

// One counter per (name, value), in order.
void Counters(service::PromText& t,
              std::initializer_list<std::pair<const char*, std::uint64_t>> counters) {
  for (const auto& [name, value] : counters) t.Counter(name, static_cast<double>(value));
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

}  // namespace

std::string RedisSinkStatsText(const RedisSinkStats& s) {
  service::PromText t;
  Counters(t, {{"hokm_sidecar_redis_records_applied_total", s.records_applied},
               {"hokm_sidecar_redis_records_duplicate_total", s.records_duplicate},
               {"hokm_sidecar_redis_entries_total", s.entries},
               {"hokm_sidecar_redis_commands_total", s.commands},
               {"hokm_sidecar_redis_scripts_total", s.scripts},
               {"hokm_sidecar_redis_probes_total", s.probes},
               {"hokm_sidecar_redis_round_trips_total", s.round_trips},
               {"hokm_sidecar_redis_reconnects_total", s.reconnects},
               {"hokm_sidecar_redis_rebuilds_total", s.rebuilds},
               {"hokm_sidecar_redis_rebuilt_games_total", s.rebuilt_games}});
  t.Gauge("hokm_sidecar_redis_last_rebuild_seconds", static_cast<double>(s.last_rebuild_us) / 1e6);
  return t.Take();
}

std::string PgSinkStatsText(const PgSinkStats& s) {
  service::PromText t;
  Counters(t, {{"hokm_sidecar_pg_rows_inserted_total", s.rows_inserted},
               {"hokm_sidecar_pg_records_inserted_total", s.moves_inserted},
               {"hokm_sidecar_pg_transactions_total", s.transactions},
               {"hokm_sidecar_dead_letters_total", s.dead_letters}});
  return t.Take();
}

std::string RenderMetrics(const ChangeReader& reader, const Window& window, const Worker& redis,
                          const Worker& pg) {
  const Worker* const workers[] = {&redis, &pg};
  service::PromText t;
  t.Counter("hokm_sidecar_records_read_total", static_cast<double>(reader.records_read()));
  t.Counter("hokm_sidecar_malformed_records_total", static_cast<double>(reader.malformed()));
  const std::uint64_t end = window.End();
  const std::uint64_t done = reader.committed_records();
  t.Gauge("hokm_sidecar_lag_records", static_cast<double>(end - std::min(end, done)));
  const std::uint64_t oldest = window.TsAt(done);
  const std::uint64_t now = RealtimeNowNs();
  t.Gauge("hokm_sidecar_lag_ms",
          oldest && now > oldest ? static_cast<double>(now - oldest) / 1e6 : 0.0);
  t.Type("hokm_sidecar_ring_corrupt", "gauge");
  for (std::uint32_t s = 0; s < reader.shards(); ++s) {
    t.Sample("hokm_sidecar_ring_corrupt",
             reader.corrupt_at(s) != ChangeReader::kNotCorrupt ? 1.0 : 0.0,
             "shard=\"" + std::to_string(s) + "\"");
  }
  t.Type("hokm_sidecar_ring_lag_bytes", "gauge");
  for (std::uint32_t s = 0; s < reader.shards(); ++s) {
    t.Sample("hokm_sidecar_ring_lag_bytes", static_cast<double>(reader.ring_lag_bytes(s)),
             "shard=\"" + std::to_string(s) + "\"");
  }
  for (const Family& f : kFamilies) {
    t.Type(f.name, f.kind);
    for (const Worker* w : workers) t.Sample(f.name, f.value(*w), SinkLabel(*w));
  }
  for (const Summary& s : kSummaries) {
    t.Type(s.name, "summary");
    for (const Worker* w : workers) Quantiles(t, s.name, s.histogram(*w), s.scale, SinkLabel(*w));
  }
  t.Type("hokm_sidecar_sync_lag_histogram_ms", "histogram");
  for (const Worker* w : workers)
    LagHistogram(t, "hokm_sidecar_sync_lag_histogram_ms", w->lag_us(), SinkLabel(*w));
  std::string text = t.Take();
  for (const Worker* w : workers) text += w->ClientStats();
  return text;
}

std::string RenderHealth(const ChangeReader& reader, const Window& window, bool engine_attached,
                         const Worker& redis, const Worker& pg) {
  const std::uint64_t end = window.End();
  const std::uint64_t done = reader.committed_records();
  std::string json = "{\"status\":\"";
  const bool degraded = !redis.SpillEmpty() || !pg.SpillEmpty();
  json += reader.AnyCorrupt() ? "corrupt" : degraded ? "degraded" : "ok";
  json += "\",\"engine_attached\":";
  json += engine_attached ? "true" : "false";
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
  json += "}";
  return json;
}

}  // namespace hokm::sidecar
