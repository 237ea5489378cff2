// live_games.cc: seqlock reads of the game table into public states.
#include "sidecar/live_games.h"

namespace hokm::sidecar {

void SegmentLiveGames::Snapshot(std::vector<LiveGame>& out) const {
  core::GameState game;
  for (std::uint32_t slot = 0; slot < table_.capacity(); ++slot) {
    if (table_.GameIdAt(slot) == 0) continue;  // free: skip the copy
    std::uint64_t game_id = 0;
    if (!table_.Read(slot, game, &game_id) || game_id == 0 || game.phase == core::Phase::kEmpty)
      continue;
    LiveGame& lg = out.emplace_back();
    lg.game_id = game_id;
    lg.state = PublicState::FromGame(game);
  }
}

std::optional<PublicState> SegmentLiveGames::Find(std::uint64_t game_id) const {
  core::GameState game;
  if (table_.ReadGame(game_id, game) != shm::ReadResult::kOk || game.phase == core::Phase::kEmpty)
    return std::nullopt;
  return PublicState::FromGame(game);
}

}  // namespace hokm::sidecar
