// rules_property_test.cc: whole games by bots, checked record by record
// against the invariants of docs/DESIGN.md §4 and §10 by an independent tally.
#include <gtest/gtest.h>

#include <bit>

#include "alloc_counter.h"
#include "core/rules/bots.h"
#include "core/rules/random.h"
#include "core/rules/rules.h"
#include "tests/core/stream_checker.h"

namespace hokm::core {
namespace {

struct Totals {
  long games = 0;
  long card_plays = 0;
  long kots = 0;
};

// Plays one game with the given bot for all four seats, checking every
// record; returns false on the first failure.
template <typename Bot>
bool PlayCheckedGame(std::uint64_t game_id, std::uint64_t seed, const RulesConfig& config, Bot& bot,
                     Totals& totals) {
  GameState s{};
  ChangeBuffer out;
  StreamChecker checker(config);
  checker.set_game_id(game_id);
  const auto check_all = [&] {
    for (const Change& c : out) {
      if (!checker.Check(c)) return false;
    }
    return true;
  };
  if (CreateGame(s, game_id, "prop", seed, config, out) != CommandResult::kOk || !check_all()) {
    ADD_FAILURE() << "create";
    return false;
  }
  for (int seat = 0; seat < kSeats; ++seat) {
    out.Clear();
    if (Join(s, seat, 1000 + seat, out) != CommandResult::kOk || !check_all()) return false;
  }
  // A hand has at most 53 commands; a game at most target * 2 - 1 hands.
  const int max_commands = 53 * (2 * config.target_points) + 1;
  int commands = 0;
  while (SeatToAct(s) >= 0) {
    if (++commands > max_commands) {
      ADD_FAILURE() << "game " << game_id << " does not end";
      return false;
    }
    const Command cmd = bot.NextCommand(s);
    if (cmd.type == CommandType::kPlayCard) {
      EXPECT_NE(LegalCards(s, cmd.seat) & Bit(cmd.card), 0u);
    }
    out.Clear();
    const CommandResult r = Apply(s, cmd, out);
    if (r != CommandResult::kOk) {
      ADD_FAILURE() << "game " << game_id << ": " << CommandResultName(r);
      return false;
    }
    if (!check_all()) return false;
  }
  EXPECT_TRUE(checker.finished());
  EXPECT_EQ(s.phase, Phase::kFinished);
  EXPECT_GE(s.points[s.winner_team], config.target_points);
  totals.games += 1;
  totals.card_plays += checker.card_plays();
  totals.kots += checker.kots();
  return !::testing::Test::HasFailure();
}

TEST(RulesPropertyTest, HundredThousandRandomGamesKeepEveryInvariant) {
  Totals totals;
  for (std::uint64_t i = 0; i < 100'000; ++i) {
    RulesConfig config;
    // A quarter of the games let the hakem be drawn at random.
    if (i % 4 == 3) config.first_hakem = FirstHakem::kSeededRandom;
    RandomBot bot(MixSeed(42, i));
    if (!PlayCheckedGame(i + 1, MixSeed(7, i), config, bot, totals)) {
      FAIL() << "stopped at game " << i + 1;
    }
  }
  EXPECT_EQ(totals.games, 100'000);
  EXPECT_GT(totals.kots, 0);  // sweeps happen, so the kot paths were checked
  RecordProperty("card_plays", std::to_string(totals.card_plays));
}

TEST(RulesPropertyTest, VariantsAndGreedyBotsKeepEveryInvariant) {
  Totals totals;
  for (std::uint64_t i = 0; i < 5'000; ++i) {
    RulesConfig config;
    config.play_all_tricks = i % 2 == 0;
    config.target_points = static_cast<std::uint8_t>(1 + i % 11);
    config.kot_points_hakem_team = static_cast<std::uint8_t>(1 + i % 5);
    config.kot_points_opponents = static_cast<std::uint8_t>(1 + i % 7);
    if (i % 3 == 0) {
      GreedyBot bot;
      ASSERT_TRUE(PlayCheckedGame(i + 1, MixSeed(9, i), config, bot, totals)) << i;
    } else {
      RandomBot bot(i);
      ASSERT_TRUE(PlayCheckedGame(i + 1, MixSeed(9, i), config, bot, totals)) << i;
    }
  }
  EXPECT_GT(totals.kots, 0);
}

TEST(RulesPropertyTest, AWholeGameOfRulesAndBotsNeverAllocates) {
  GameState s{};
  ChangeBuffer out;
  RandomBot bot(1);
  const long before = testing::AllocationCount();
  for (std::uint64_t game = 0; game < 100; ++game) {
    s = GameState{};
    out.Clear();
    ASSERT_EQ(CreateGame(s, game + 1, "alloc", game, RulesConfig{}, out), CommandResult::kOk);
    for (int seat = 0; seat < kSeats; ++seat) {
      out.Clear();
      ASSERT_EQ(Join(s, seat, seat + 1, out), CommandResult::kOk);
    }
    while (SeatToAct(s) >= 0) {
      out.Clear();
      ASSERT_EQ(Apply(s, bot.NextCommand(s), out), CommandResult::kOk);
    }
  }
  EXPECT_EQ(testing::AllocationCount() - before, 0);
}

}  // namespace
}  // namespace hokm::core
