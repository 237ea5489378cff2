// report.h: hokm-loadgen's outputs of a run: the human summary and the
// `--json` file.
#pragma once

#include <cstdio>
#include <string>

#include "loadgen/embedded_runner.h"
#include "loadgen/options.h"
#include "shm/status.h"

namespace hokm::loadgen {

// card_plays / wall_s (0 when wall_s is 0).
double CardPlaysPerSecond(const RunStats& stats);

// A few aligned lines: games, card plays, records, wall time, rate.
void PrintSummary(std::FILE* out, const LoadgenOptions& options, const RunStats& stats);

// The JSON object written by --json: {"games", "card_plays",
// "card_plays_per_sec", "wall_s"} plus "mode", "bots", "threads", "seed",
// "records", "commands", "team_wins" for whoever compares runs.
std::string SummaryJson(const LoadgenOptions& options, const RunStats& stats);

// Writes SummaryJson (and a newline) to path.
Status WriteSummaryJson(const std::string& path, const LoadgenOptions& options,
                        const RunStats& stats);

}  // namespace hokm::loadgen
