// rebuild_source.h: what the Redis sink's rebuild after a loss reads
// (redis_sink.h, "Losing Redis"): live games from an engine's segment,
// ended games and ratings from PostgreSQL.
//
// Live games: the game table slot by slot with its seqlock (game_table.h):
// the engine is never paused, and a slot its writer keeps busy for every
// attempt is left out (its next record repairs it alone: the sink finds
// the game's stream missing).
//
// Ended games: the latest 2,000 game_sessions ended within the window
// (each replay reads a whole game from PostgreSQL), each replayed
// from its command records in PostgreSQL through the rules
// (core/records/replay.h: create, join, leave, trump, card, abandon,
// connection) to its final GameState, then PublicState::FromGame. A game
// whose replay does not reproduce each stored command at its seq, and
// its stored last seq, is left out and counted.
//
// Thread safety: const methods, one caller at a time (one PostgreSQL
// connection, opened on demand); the segment must stay mapped.
#pragma once

#include <memory>
#include <string>

#include "shm/game_table.h"
#include "sidecar/redis/redis_sink.h"
#include "sidecar/url.h"

namespace hokm::sidecar {

class StoreRebuildSource final : public RebuildSource {
 public:
  StoreRebuildSource(const shm::GameTable& table, PgUrl pg_url);
  ~StoreRebuildSource() override;

  void LiveGames(std::vector<RebuiltGame>& out) const override;
  std::optional<PublicState> FindLive(std::uint64_t game_id) const override;
  Status EndedGames(std::chrono::milliseconds within, std::optional<std::uint64_t> only,
                    std::vector<RebuiltGame>& out) const override;
  Status Ratings(std::vector<PlayerRating>& out) const override;

  // Ended games the last EndedGames left out: their replay did not
  // reach their stored last seq.
  std::uint64_t unreplayable() const { return unreplayable_; }
  // Why the last EndedGames or Ratings failed; empty when they did not.
  const std::string& last_error() const { return last_error_; }

 private:
  struct Pg;
  const shm::GameTable& table_;
  PgUrl pg_url_;
  mutable std::unique_ptr<Pg> pg_;
  mutable std::uint64_t unreplayable_ = 0;
  mutable std::string last_error_;
};

}  // namespace hokm::sidecar
