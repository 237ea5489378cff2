// player_view.cc: a seat's view of a game and its JSON (see player_view.h).
#include "core/player_view.h"

#include <bit>
#include <string>

#include "core/records/text.h"

namespace hokm::core {

PlayerView PlayerView::Of(const GameState& game, int seat) {
  PlayerView v;
  v.seat = static_cast<std::uint8_t>(seat);
  v.player_id = game.player_ids[seat];
  v.hand = game.hands[seat];
  v.state = PublicState::FromGame(game);
  return v;
}

void PlayerView::AppendJson(std::string& out) const {
  out.append("{\"seat\":");
  AppendUint(seat, out);
  out.append(",\"player\":");
  AppendUint(player_id, out);
  out.append(",\"hand\":[");
  bool first = true;
  for (CardMask rest = hand; rest != 0; rest &= rest - 1) {
    if (!first) out.push_back(',');
    first = false;
    AppendUint(static_cast<std::uint64_t>(std::countr_zero(rest)), out);
  }
  out.append("],\"state\":");
  state.AppendJson(out);
  out.push_back('}');
}

Result<PlayerView> ReadPlayerView(const shm::GameTable& table, std::uint64_t game_id, int seat) {
  if (seat < 0 || seat >= kSeats) {
    return Status::InvalidArgument("seat " + std::to_string(seat) + " is not a seat (0..3)");
  }
  GameState game;
  switch (table.ReadGame(game_id, game)) {
    case shm::ReadResult::kOk:
      break;
    case shm::ReadResult::kNoSuchGame:
      return Status::NotFound("no game " + std::to_string(game_id) +
                              " in the table (unknown, or ended and freed)");
    case shm::ReadResult::kBusy:
      return Status::Unavailable("game " + std::to_string(game_id) +
                                 ": its writer held the slot for every read; retry");
  }
  // A slot just allocated holds a blank state until CreateGame is published.
  if (game.phase == Phase::kEmpty)
    return Status::NotFound("game " + std::to_string(game_id) + " is not created yet");
  return PlayerView::Of(game, seat);
}

}  // namespace hokm::core
