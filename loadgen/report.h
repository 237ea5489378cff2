// report.h: hokm-loadgen's outputs of a run: the progress line, the human
// summary and the `--json` report.
//
// The JSON report has exactly these keys (issue 5): mode, games_completed,
// card_plays, records, wall_s, card_plays_per_sec, apply_latency_ns {p50,
// p99, p999, max}, sync_lag_ms {redis {p50, p99, max}, postgres {p50, p99,
// max}}, busy, errors, and with --verify, verify {games, pg_games, pg_moves,
// redis_games, lost, duplicated, mismatched, ok}; with --disconnect-rate
// also reconnects and reconnect_mismatches (a mismatch makes verify not ok).
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "loadgen/options.h"
#include "loadgen/run_stats.h"
#include "loadgen/verify/sidecar_probe.h"
#include "loadgen/verify/verify.h"
#include "shm/status.h"

namespace hokm::loadgen {

struct RunSummary {
  Mode mode = Mode::kEmbedded;
  const RunTotals* totals = nullptr;  // null for --verify-only
  SyncLag sync_lag;                   // zeros when unknown
  std::string sync_lag_source;        // "sidecar", "seed-baseline", "" (none)
  std::optional<VerifyResult> verify;
};

// card_plays / wall_s (0 when wall_s is 0).
double CardPlaysPerSecond(const RunTotals& totals);

// A few aligned lines: games, card plays, records, wall time, rate,
// latency, sync lag, drain figures, verification.
void PrintSummary(std::FILE* out, const LoadgenOptions& options, const RunSummary& summary);

// The JSON object written by --json.
std::string SummaryJson(const RunSummary& summary);
Status WriteSummaryJson(const std::string& path, const RunSummary& summary);

}  // namespace hokm::loadgen
