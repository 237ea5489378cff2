// live_games.h: the live games of an engine's segment, as the Redis sink's
// rebuild after a loss reads them (redis_sink.h, "Losing Redis").
//
// Reads the game table slot by slot with its seqlock (game_table.h): the
// engine is never paused, and a slot its writer keeps busy for every
// attempt is left out (its next record repairs it alone: the sink finds
// the game's stream missing).
//
// Thread safety: const methods; the segment must stay mapped.
#pragma once

#include "shm/game_table.h"
#include "sidecar/redis_sink.h"

namespace hokm::sidecar {

class SegmentLiveGames final : public LiveGames {
 public:
  explicit SegmentLiveGames(const shm::GameTable& table) : table_(table) {}

  void Snapshot(std::vector<LiveGame>& out) const override;
  std::optional<PublicState> Find(std::uint64_t game_id) const override;

 private:
  const shm::GameTable& table_;
};

}  // namespace hokm::sidecar
