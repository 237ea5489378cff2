// verify.h: --verify and --verify-only: waits until the sidecar has
// delivered everything, then checks every game loadgen played against
// PostgreSQL (every (game, seq) from 1 to the game's last, exactly once) and
// Redis (each game's seq, phase and points), in batched queries.
//
// What is checked, per layout:
//   product (embedded, shm): game_commands rows (one per command, each
//     covering seqs [seq, seq + n - 1]),
//     the game_sessions row (its status and points once the game ended),
//     seq phase points of the state in the last entry of the hokm:g:{ID}
//     stream;
//   seed baseline: seed_moves rows and the seed:g:{ID} JSON document.
// Counts: lost = rows missing in [1, last seq]; duplicated = rows beyond
// that (a second copy, or a seq the engine never issued); mismatched =
// games whose Redis state (or game_sessions row) differs from the engine's;
// pg_games / redis_games = games found at all. ok: no lost, duplicated or
// mismatched, and every game found in both stores.
//   and the whole public state against the engine's, field by field
//     (compared_whole counts the games; not for --verify-only's games).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/options.h"
#include "loadgen/run_stats.h"
#include "shm/status.h"

namespace hokm::shm {
class Segment;
}  // namespace hokm::shm

namespace hokm::loadgen {

struct VerifyResult {
  std::uint64_t games = 0;
  std::uint64_t pg_games = 0;
  std::uint64_t pg_moves = 0;
  std::uint64_t redis_games = 0;
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t mismatched = 0;
  std::uint64_t compared_whole = 0;  // games whose whole Redis state was compared
  bool ok = false;
};

// Polls until every change ring of `segment` (when given) is empty and the
// sidecar's /health reports no lag and empty spill queues, for at most
// options.verify_timeout_s. When /health does not answer, empty rings (or
// no segment, for --verify-only) are enough: a sidecar run with
// --drain-and-exit may be gone. Unavailable on timeout, saying what was
// still pending.
Status WaitForSidecarDrain(const LoadgenOptions& options, const shm::Segment* segment);

// Checks `games` in the stores of `mode`'s layout. Fails only when a store
// cannot be reached or a query fails; what is wrong in the data is counted.
// Each game's whole Redis state is compared with the engine's, field by
// field (sidecar::PublicState::FromGame): with `segment` the engine's state
// now for games still live in it, else the final state loadgen mirrored
// (GameRecord::final_state). A Redis that lost data and was not rebuilt
// shows here.
Result<VerifyResult> VerifyGames(const LoadgenOptions& options, Mode mode,
                                 const std::vector<GameRecord>& games,
                                 const shm::Segment* segment = nullptr);

// --save-games: one header line naming the mode, then one line per game:
// "<game_id> <last_seq> <phase number> <points_a> <points_b>".
Status SaveGames(const std::string& path, Mode mode, const std::vector<GameRecord>& games);
struct SavedGames {
  Mode mode = Mode::kEmbedded;
  std::vector<GameRecord> games;
};
Result<SavedGames> LoadGames(const std::string& path);

// "waiting", "choosing_trump", "playing", "finished", "abandoned" (Redis's
// phase field), "" for kEmpty.
const char* RedisPhaseName(core::Phase phase);

}  // namespace hokm::loadgen
