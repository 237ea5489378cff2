// main.cc: hokm-loadgen: plays thousands of concurrent Hokm games with bots
// through the embedded engine, a running hokm-engine, the pure rules, or the
// Redis-centred baseline; reports rates and latencies and, with --verify,
// proves the stores hold every move exactly once. See `hokm-loadgen --help`.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>

#include "loadgen/clock.h"
#include "loadgen/drivers/load_run.h"
#include "loadgen/options.h"
#include "loadgen/report.h"
#include "loadgen/verify/sidecar_probe.h"
#include "loadgen/verify/verify.h"
#include "service/cli.h"
#include "service/log.h"

namespace {

using namespace hokm::loadgen;
using hokm::Result;

int Fail(const std::string& message) {
  hokm::service::LogError(message);
  return 1;
}

// The sync lag of the run: the sidecar's figures for the engine modes
// (zeros and a warning when its /metrics does not answer), the baseline's
// own PostgreSQL lag (its Redis write is the command itself: lag 0).
void FillSyncLag(const LoadgenOptions& o, const RunTotals* totals, RunSummary& s) {
  if (s.mode == Mode::kSeedBaseline) {
    if (totals == nullptr) return;
    const auto& h = totals->pg_lag_us;
    s.sync_lag.postgres = {static_cast<double>(h.Quantile(0.5)) / 1e3,
                           static_cast<double>(h.Quantile(0.99)) / 1e3,
                           static_cast<double>(h.Max()) / 1e3};
    s.sync_lag_source = "seed-baseline";
    return;
  }
  if (s.mode == Mode::kRules || o.drain) return;
  auto url = ParseHttpUrl(o.sidecar_metrics);
  Result<std::string> page =
      url.ok() ? HttpGet(*url, std::chrono::milliseconds(2000)) : Result<std::string>(url.status());
  Result<SyncLag> lag = page.ok() ? ParseSyncLag(*page) : Result<SyncLag>(page.status());
  if (!lag.ok()) {
    hokm::service::LogWarn(
        hokm::service::Printf("no sync lag from the sidecar at %s (%s); reporting zeros",
                              o.sidecar_metrics.c_str(), lag.status().message().c_str()));
    return;
  }
  s.sync_lag = *lag;
  s.sync_lag_source = "sidecar";
}

}  // namespace

int main(int argc, char** argv) {
  LoadgenOptions options;
  CLI::App app{
      "hokm-loadgen: plays thousands of concurrent Hokm games with computer players through\n"
      "the embedded engine (--mode embedded), a running hokm-engine (--mode shm), the pure\n"
      "rules (--mode rules) or the Redis-centred baseline (--baseline seed), and reports card\n"
      "plays per second, apply latency and sync lag; --verify checks the stores afterwards."};
  AddOptions(app, &options);
  hokm::service::CommonFlags common;
  hokm::service::AddCommonFlags(app, "hokm-loadgen", &common);
  if (auto exit_code = hokm::service::ParseCommandLine(app, argc, argv, common)) return *exit_code;
  // A combination of flags CLI11 cannot check is a usage error too.
  if (std::string e = FinalizeOptions(options); !e.empty()) {
    std::fprintf(stderr, "hokm-loadgen: %s\n", e.c_str());
    return hokm::service::kExitUsage;
  }
  InstallStopSignals();
  InitClock();

  RunSummary summary;
  summary.mode = options.mode;

  if (!options.verify_only_path.empty()) {
    auto saved = LoadGames(options.verify_only_path);
    if (!saved.ok()) return Fail(saved.status().message());
    summary.mode = saved->mode;
    if (summary.mode != Mode::kSeedBaseline) {
      if (hokm::Status s = WaitForSidecarDrain(options, nullptr); !s.ok()) {
        hokm::service::LogWarn(s.message() + "; verifying what is there");
      }
    }
    auto v = VerifyGames(options, summary.mode, saved->games);
    if (!v.ok()) return Fail(v.status().message());
    summary.verify = *v;
    PrintSummary(stdout, options, summary);
    if (!options.json_path.empty()) {
      if (hokm::Status s = WriteSummaryJson(options.json_path, summary); !s.ok())
        return Fail(s.message());
    }
    return v->ok ? 0 : 1;
  }

  LoadRun run(options);
  if (hokm::Status s = run.Open(); !s.ok()) return Fail(s.message());
  auto played = run.Play();
  if (!played.ok()) return Fail(played.status().message());
  const RunTotals& totals = **played;
  summary.totals = &totals;

  if (!options.save_games_path.empty()) {
    if (hokm::Status s = SaveGames(options.save_games_path, options.mode, totals.games); !s.ok()) {
      return Fail(s.message());
    }
  }
  if (options.verify && options.mode != Mode::kSeedBaseline) {
    if (hokm::Status s = WaitForSidecarDrain(options, run.segment()); !s.ok()) {
      hokm::service::LogWarn(s.message() + "; verifying what is there");
    }
  }
  FillSyncLag(options, &totals, summary);
  if (options.verify) {
    auto v = VerifyGames(options, options.mode, totals.games, run.segment());
    if (!v.ok()) return Fail(v.status().message());
    summary.verify = *v;
    // A reconnected player who saw the wrong hand or state fails the run.
    if (totals.reconnect_mismatches != 0) summary.verify->ok = false;
  }
  PrintSummary(stdout, options, summary);
  if (!options.json_path.empty()) {
    if (hokm::Status s = WriteSummaryJson(options.json_path, summary); !s.ok())
      return Fail(s.message());
  }
  if (summary.verify && !summary.verify->ok) return 1;
  return 0;
}
