// report.cc: the human summary and the --json report of a loadgen run.
#include "loadgen/report.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace hokm::loadgen {
namespace {

unsigned long long U(std::uint64_t v) { return static_cast<unsigned long long>(v); }

nlohmann::json LagJson(const LagQuantiles& q) {
  return {{"p50", q.p50}, {"p99", q.p99}, {"max", q.max}};
}

}  // namespace

double CardPlaysPerSecond(const RunTotals& t) {
  return t.wall_s > 0 ? static_cast<double>(t.card_plays) / t.wall_s : 0.0;
}

void PrintSummary(std::FILE* out, const LoadgenOptions& o, const RunSummary& s) {
  std::string pacing =
      o.rate > 0 ? "open loop " + std::to_string(static_cast<long long>(o.rate)) + " card plays/s"
                 : std::string("closed loop");
  if (o.ramp_s > 0) {
    char ramp[64];
    std::snprintf(ramp, sizeof ramp, ", games%s started over %.3g s", o.rate > 0 ? " and rate" : "",
                  o.ramp_s);
    pacing += ramp;
  }
  std::fprintf(out,
               "hokm-loadgen: %s, bots %s, %d thread%s, %llu concurrent games, %s, seed %llu\n",
               ModeName(s.mode), BotKindName(o.bots), o.threads, o.threads == 1 ? "" : "s",
               U(o.games), pacing.c_str(), U(o.seed));
  if (const RunTotals* t = s.totals) {
    std::fprintf(out, "  games completed    %llu (started %llu)\n", U(t->games_completed),
                 U(t->games_started));
    std::fprintf(out, "  card plays         %llu\n", U(t->card_plays));
    std::fprintf(out, "  commands           %llu\n", U(t->commands));
    std::fprintf(out, "  change records     %llu\n", U(t->records));
    std::fprintf(out, "  wall time          %.3f s\n", t->wall_s);
    std::fprintf(out, "  card plays per sec %.0f\n", CardPlaysPerSecond(*t));
    const auto& h = t->latency_ns;
    std::fprintf(out, "  apply latency      p50 %llu ns, p99 %llu ns, p999 %llu ns, max %llu ns\n",
                 U(h.Quantile(0.5)), U(h.Quantile(0.99)), U(h.Quantile(0.999)), U(h.Max()));
    std::fprintf(out, "  busy, errors       %llu, %llu\n", U(t->busy), U(t->errors));
    if (t->reconnecting) {
      std::fprintf(out, "  reconnects         %llu, views mismatched %llu\n", U(t->reconnects),
                   U(t->reconnect_mismatches));
    }
    if (t->drained) {
      std::fprintf(
          out,
          "  drain (--drain)    %llu records (%.0f/s over the run), ring lag max %.2f MiB / %llu "
          "records, %llu bytes at the end%s\n",
          U(t->drained_records),
          t->wall_s > 0 ? static_cast<double>(t->drained_records) / t->wall_s : 0.0,
          static_cast<double>(t->max_ring_lag_bytes) / (1 << 20), U(t->max_ring_lag_records),
          U(t->ring_lag_bytes_at_end),
          t->drained_malformed
              ? (", " + std::to_string(t->drained_malformed) + " malformed").c_str()
              : "");
    }
    if (!o.dump_path.empty()) {
      std::fprintf(out, "  dump               %s (merged in %.3f s)\n", o.dump_path.c_str(),
                   t->dump_s);
    }
  }
  if (!s.sync_lag_source.empty()) {
    std::fprintf(
        out,
        "  sync lag (%s) redis p50 %.3f ms, p99 %.3f ms, max %.3f ms; postgres p50 %.3f ms, "
        "p99 %.3f ms, max %.3f ms\n",
        s.sync_lag_source.c_str(), s.sync_lag.redis.p50, s.sync_lag.redis.p99, s.sync_lag.redis.max,
        s.sync_lag.postgres.p50, s.sync_lag.postgres.p99, s.sync_lag.postgres.max);
  }
  if (s.totals != nullptr && s.totals->steady_lag) {
    const RunTotals& t = *s.totals;
    const SyncLag& l = *t.steady_lag;
    std::fprintf(
        out,
        "  sync lag %.0f-%.0f s redis p50 %.3f ms, p99 %.3f ms, max %.3f ms; postgres p50 %.3f ms, "
        "p99 %.3f ms, max %.3f ms (after the ramp, before the end; bucket bounds)\n",
        t.steady_from_s, t.steady_to_s, l.redis.p50, l.redis.p99, l.redis.max, l.postgres.p50,
        l.postgres.p99, l.postgres.max);
  }
  if (s.verify) {
    const VerifyResult& v = *s.verify;
    std::fprintf(
        out,
        "  verify             %s: %llu games; postgres %llu games, %llu moves; redis %llu games; "
        "lost %llu, duplicated %llu, mismatched %llu; %llu compared whole with the engine\n",
        v.ok ? "ok" : "FAILED", U(v.games), U(v.pg_games), U(v.pg_moves), U(v.redis_games),
        U(v.lost), U(v.duplicated), U(v.mismatched), U(v.compared_whole));
  }
}

std::string SummaryJson(const RunSummary& s) {
  static const RunTotals kEmpty;
  const RunTotals& t = s.totals != nullptr ? *s.totals : kEmpty;
  const auto& h = t.latency_ns;
  nlohmann::json j = {
      {"mode", ModeName(s.mode)},
      {"games_completed", t.games_completed},
      {"card_plays", t.card_plays},
      {"records", t.records},
      {"wall_s", t.wall_s},
      {"card_plays_per_sec", CardPlaysPerSecond(t)},
      {"apply_latency_ns",
       {{"p50", h.Quantile(0.5)},
        {"p99", h.Quantile(0.99)},
        {"p999", h.Quantile(0.999)},
        {"max", h.Max()}}},
      {"sync_lag_ms",
       {{"redis", LagJson(s.sync_lag.redis)}, {"postgres", LagJson(s.sync_lag.postgres)}}},
      {"busy", t.busy},
      {"errors", t.errors},
  };
  if (t.reconnecting) {
    j["reconnects"] = t.reconnects;
    j["reconnect_mismatches"] = t.reconnect_mismatches;
  }
  if (s.verify) {
    const VerifyResult& v = *s.verify;
    j["verify"] = {{"games", v.games},
                   {"pg_games", v.pg_games},
                   {"pg_moves", v.pg_moves},
                   {"redis_games", v.redis_games},
                   {"lost", v.lost},
                   {"duplicated", v.duplicated},
                   {"mismatched", v.mismatched},
                   {"ok", v.ok}};
  }
  return j.dump();
}

Status WriteSummaryJson(const std::string& path, const RunSummary& s) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status::IoError("--json: cannot create " + path + ": " + std::strerror(errno));
  out << SummaryJson(s) << '\n';
  out.close();
  if (!out) return Status::IoError("--json: cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace hokm::loadgen
