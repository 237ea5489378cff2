// embedded_runner.h: `--mode embedded` (today the only mode): plays complete
// games with the in-process rules and bots, no engine, ring or sidecar.
#pragma once

#include <cstdint>

#include "loadgen/options.h"
#include "shm/status.h"

namespace hokm::loadgen {

struct RunStats {
  std::uint64_t games = 0;       // games played to GameFinished
  std::uint64_t card_plays = 0;  // accepted PlayCard commands
  std::uint64_t commands = 0;    // every accepted command (create, joins, trumps, plays)
  std::uint64_t records = 0;     // change records the rules emitted
  std::uint64_t team_wins[2] = {0, 0};
  double wall_s = 0;  // playing (and dump formatting), threads start to join
  double dump_s = 0;  // concatenating the dump parts after the run

  void Add(const RunStats& o);
};

// Plays options.games games, ids 1..N, split into options.threads contiguous
// ranges. Game id g is seeded with core::MixSeed(options.seed, g - 1) and its
// random bot with core::MixSeed(game seed, 1), so a game's records do not
// depend on the thread count. Fails if a command is rejected (a rules or bot
// bug) or the dump cannot be written.
Result<RunStats> RunEmbedded(const LoadgenOptions& options);

}  // namespace hokm::loadgen
