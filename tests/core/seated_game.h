// seated_game.h: a game created on an in-process Engine with its four seats
// taken, for the tests that start from a seated game (engine deadlines,
// player views, hokmctl's PlayGame).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "core/engine.h"

namespace hokm::testing {

// Applies `create` (a kCreateGame command) on shard 0, then seats players
// first_player .. first_player + 3 in seats 0..3, every command accepted.
// Returns the game's id.
inline std::uint64_t CreateSeatedGame(Engine& engine, const core::Command& create,
                                      std::uint64_t first_player) {
  const ApplyOutcome created = engine.Apply(0, create);
  EXPECT_EQ(created.result, core::CommandResult::kOk);
  for (int seat = 0; seat < 4; ++seat) {
    core::Command j{};
    j.type = core::CommandType::kJoin;
    j.game_id = created.game_id;
    j.seat = static_cast<std::uint8_t>(seat);
    j.player_id = first_player + static_cast<std::uint64_t>(seat);
    EXPECT_EQ(engine.Apply(0, j).result, core::CommandResult::kOk);
  }
  return created.game_id;
}

}  // namespace hokm::testing
