// engine_games.h: games played on an in-process Engine for the hokmctl
// tests, the sidecar then delivering them to the stores.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/engine.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "tests/core/seated_game.h"

namespace hokm::ctl::testing {

struct GameSpec {
  std::uint64_t seed = 1;          // CreateGame's seed
  std::uint64_t first_player = 1;  // the four players are first_player .. first_player + 3
  std::uint64_t bot_seed = 1;      // the RandomBot's
  int moves = -1;                  // bot moves; < 0: to the game's end
  std::string_view room;           // empty: none
};

// Creates a game on shard 0 of `engine`, seats four players and plays the
// bot's moves, every one of them accepted. Returns the game's id.
inline std::uint64_t PlayGame(Engine& engine, const GameSpec& spec) {
  core::Command c{};
  c.type = core::CommandType::kCreateGame;
  c.seed = spec.seed;
  // memcpy's source may not be null, which an empty view's data() is.
  if (!spec.room.empty()) {
    std::memcpy(c.room, spec.room.data(), std::min(spec.room.size(), sizeof c.room));
  }
  const std::uint64_t game_id = hokm::testing::CreateSeatedGame(engine, c, spec.first_player);
  core::RandomBot bot(spec.bot_seed);
  for (int k = 0; spec.moves < 0 || k < spec.moves; ++k) {
    core::GameState s{};
    EXPECT_TRUE(engine.Snapshot(game_id, s));
    EXPECT_GE(core::SeatToAct(s), 0);
    if (core::SeatToAct(s) < 0) break;
    const ApplyOutcome o = engine.Apply(0, bot.NextCommand(s));
    EXPECT_EQ(o.result, core::CommandResult::kOk);
    if (o.phase == core::Phase::kFinished) break;
  }
  return game_id;
}

}  // namespace hokm::ctl::testing
