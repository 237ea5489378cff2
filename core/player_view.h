// player_view.h: what one seat's player may see of a game: the game's
// public state (core/records/public_state.h) and that seat's own hand, and
// nothing of any other seat's cards. A reconnecting player's screen.
//
// One function computes it from a game state (PlayerView::Of), and one
// reads it straight from the segment's game table (ReadPlayerView: a
// seqlock read of the game's slot, no engine round trip). Engine::PlayerView
// (core/engine.h), for a frontend embedding the engine, and a client process
// of hokm-engine, which maps the segment already, both call ReadPlayerView,
// so the two cannot differ.
//
// JSON (field order fixed; cards ascending, numbers as in schemas/hokm.fbs):
//
//   {"seat":1,"player":12,"hand":[3,17,30],"state":{<PublicState JSON>}}
//
// Thread safety: PlayerView is a plain value; ReadPlayerView may be called
// from any thread of any process that maps the segment, at any time (it
// never blocks the writer).
#pragma once

#include <cstdint>
#include <string>

#include "core/records/public_state.h"
#include "core/rules/card.h"
#include "core/rules/game_state.h"
#include "shm/game_table.h"
#include "shm/status.h"

namespace hokm::core {

struct PlayerView {
  std::uint8_t seat = 0;
  std::uint64_t player_id = 0;  // 0: the seat is empty
  CardMask hand = 0;            // the seat's cards now (not those dealt after trump is named)
  PublicState state;            // updated_ms 0: the engine keeps no clock

  // The view of `seat` of `game`. REQUIRES: seat < kSeats, game.phase != kEmpty.
  static PlayerView Of(const GameState& game, int seat);

  // Appends the JSON above to out.
  void AppendJson(std::string& out) const;

  bool operator==(const PlayerView&) const = default;
};

// The view of `seat` of game `game_id` as the table holds it now.
// InvalidArgument: seat not in 0..3; NotFound: no such game (unknown id, or
// the game ended and its slot was freed: its end is in its records);
// Unavailable: the writer held the slot for every attempt (retry).
Result<PlayerView> ReadPlayerView(const shm::GameTable& table, std::uint64_t game_id, int seat);

}  // namespace hokm::core
