// bots_test.cc: RandomBot is legal, uniform and deterministic; GreedyBot
// makes the documented choice in each crafted position.
#include "core/rules/bots.h"

#include <gtest/gtest.h>

#include <map>

#include "core/rules/rules.h"
#include "core_test_util.h"

namespace hokm::core {
namespace {

using testing::C;
using testing::Cards;
using testing::PlayingState;
using testing::SeatedGame;

class GreedyBotTest : public ::testing::Test {
 protected:
  // A hand with trump spades, leader 0, and the given cards already played
  // in turn order; returns the greedy card of the seat to act.
  Card GreedyCard(const std::array<CardMask, 4>& hands,
                  std::initializer_list<std::string_view> played, Suit trump = Suit::kSpades) {
    GameState s = PlayingState(0, trump, hands, 0);
    ChangeBuffer out;
    for (const auto name : played) {
      out.Clear();
      EXPECT_EQ(PlayCard(s, s.turn, C(name), out), CommandResult::kOk) << name;
    }
    const Command cmd = bot_.NextCommand(s);
    EXPECT_EQ(cmd.type, CommandType::kPlayCard);
    EXPECT_EQ(cmd.seat, s.turn);
    EXPECT_EQ(cmd.game_id, s.game_id);
    EXPECT_NE(LegalCards(s, cmd.seat) & Bit(cmd.card), 0u);
    return cmd.card;
  }

  GreedyBot bot_;
};

TEST_F(GreedyBotTest, FollowsWithTheLowestCardThatWins) {
  EXPECT_EQ(GreedyCard({Cards({"9H"}), Cards({"2H", "TH", "KH", "AC"}), 0, 0}, {"9H"}), C("TH"));
}

TEST_F(GreedyBotTest, FollowsWithItsLowestCardWhenItCannotWin) {
  EXPECT_EQ(GreedyCard({Cards({"KH"}), Cards({"5H", "2H", "AC"}), 0, 0}, {"KH"}), C("2H"));
}

TEST_F(GreedyBotTest, ATrumpOnTheTableCannotBeBeatenByTheLedSuit) {
  EXPECT_EQ(GreedyCard({Cards({"9H"}), Cards({"3S"}), Cards({"TH", "AH", "2C"}), 0}, {"9H", "3S"}),
            C("TH"));
}

TEST_F(GreedyBotTest, VoidInTheLedSuitTrumpsWithItsLowestTrump) {
  EXPECT_EQ(GreedyCard({Cards({"9H"}), Cards({"QS", "4S", "2C", "3D"}), 0, 0}, {"9H"}), C("4S"));
}

TEST_F(GreedyBotTest, VoidOverTrumpsWithTheLowestTrumpThatWins) {
  EXPECT_EQ(
      GreedyCard({Cards({"9H"}), Cards({"5S"}), Cards({"4S", "7S", "AS", "2D"}), 0}, {"9H", "5S"}),
      C("7S"));
}

TEST_F(GreedyBotTest, DiscardsTheLowestRankWithTiesInSuitOrderWhenNothingWins) {
  // Cannot over-trump the queen: the lowest card goes, 3C before 3D.
  EXPECT_EQ(
      GreedyCard({Cards({"9H"}), Cards({"QS"}), Cards({"4S", "3D", "3C", "8S"}), 0}, {"9H", "QS"}),
      C("3C"));
  // No trump at all.
  EXPECT_EQ(GreedyCard({Cards({"9H"}), Cards({"5D", "3C", "KD"}), 0, 0}, {"9H"}), C("3C"));
}

TEST_F(GreedyBotTest, LeadsItsHighestCardPreferringASideSuitOnEqualRank) {
  EXPECT_EQ(GreedyCard({Cards({"KD", "AC", "2S", "AS"}), 0, 0, 0}, {}), C("AC"));
  EXPECT_EQ(GreedyCard({Cards({"KD", "QC", "2S", "AS"}), 0, 0, 0}, {}), C("AS"));
  EXPECT_EQ(GreedyCard({Cards({"KD", "KH", "2C"}), 0, 0, 0}, {}), C("KD"));
}

TEST_F(GreedyBotTest, HakemNamesTheLongestSuitThenTheHigherRankSum) {
  GameState s = SeatedGame(1);
  const int h = s.hakem;
  s.hands[h] = Cards({"2H", "3H", "KD", "AD", "4C"});
  Command cmd = bot_.NextCommand(s);
  EXPECT_EQ(cmd.type, CommandType::kChooseTrump);
  EXPECT_EQ(cmd.seat, h);
  EXPECT_EQ(cmd.game_id, 7u);
  EXPECT_EQ(cmd.suit, Suit::kDiamonds);
  s.hands[h] = Cards({"2H", "3H", "4H", "AD", "AS"});
  EXPECT_EQ(bot_.NextCommand(s).suit, Suit::kHearts);
}

TEST(RandomBotTest, ChoosesUniformlyAmongLegalCards) {
  GameState s = PlayingState(0, Suit::kSpades,
                             {Cards({"9H"}), Cards({"2H", "TH", "KH", "AH", "AS", "2C"}), 0, 0}, 0);
  ChangeBuffer out;
  ASSERT_EQ(PlayCard(s, 0, C("9H"), out), CommandResult::kOk);
  RandomBot bot(17);
  std::map<Card, int> counts;
  constexpr int kDraws = 40'000;
  for (int i = 0; i < kDraws; ++i) {
    const Command cmd = bot.NextCommand(s);
    ASSERT_EQ(cmd.type, CommandType::kPlayCard);
    ASSERT_EQ(cmd.seat, 1);
    ++counts[cmd.card];
  }
  ASSERT_EQ(counts.size(), 4u);  // only the hearts are legal
  for (const auto& [card, n] : counts) {
    EXPECT_EQ(SuitOf(card), Suit::kHearts);
    EXPECT_NEAR(n, kDraws / 4, kDraws / 40) << int(card);  // within 10%
  }
}

TEST(RandomBotTest, PicksEveryCardOfAFullHandIncludingTheHighest) {
  // 52 cards in one hand exercise every 16-bit lane of the selection.
  GameState s = PlayingState(0, Suit::kSpades, {kFullDeck, 0, 0, 0}, 0);
  RandomBot bot(5);
  CardMask seen = 0;
  for (int i = 0; i < 5'000; ++i) seen |= Bit(bot.NextCommand(s).card);
  EXPECT_EQ(seen, kFullDeck);
}

TEST(RandomBotTest, NamesEachTrumpSuitEvenly) {
  GameState s = SeatedGame(2);
  RandomBot bot(3);
  int counts[4] = {};
  for (int i = 0; i < 40'000; ++i) {
    const Command cmd = bot.NextCommand(s);
    ASSERT_EQ(cmd.type, CommandType::kChooseTrump);
    ASSERT_EQ(cmd.seat, s.hakem);
    ASSERT_TRUE(IsValidSuit(cmd.suit));
    ++counts[static_cast<int>(cmd.suit)];
  }
  for (const int n : counts) EXPECT_NEAR(n, 10'000, 1'000);
}

TEST(RandomBotTest, SameSeedSameChoices) {
  GameState s = PlayingState(0, Suit::kSpades, {kFullDeck, 0, 0, 0}, 0);
  RandomBot a(99);
  RandomBot b(99);
  RandomBot c(100);
  int differ = 0;
  for (int i = 0; i < 100; ++i) {
    const Card x = a.NextCommand(s).card;
    EXPECT_EQ(x, b.NextCommand(s).card);
    differ += x != c.NextCommand(s).card;
  }
  EXPECT_GT(differ, 50);
}

// Greedy on seats 0 and 2 against random on 1 and 3, over fixed seeds.
TEST(BotsTest, GreedyTeamBeatsRandomTeam) {
  int greedy_wins = 0;
  constexpr int kGames = 1'000;
  for (int game = 0; game < kGames; ++game) {
    GameState s{};
    ChangeBuffer out;
    ASSERT_EQ(CreateGame(s, game + 1, "vs", game, RulesConfig{}, out), CommandResult::kOk);
    for (int seat = 0; seat < kSeats; ++seat) {
      out.Clear();
      ASSERT_EQ(Join(s, seat, seat + 1, out), CommandResult::kOk);
    }
    GreedyBot greedy;
    RandomBot random(game);
    for (int seat = SeatToAct(s); seat >= 0; seat = SeatToAct(s)) {
      const Command cmd = TeamOf(seat) == 0 ? greedy.NextCommand(s) : random.NextCommand(s);
      out.Clear();
      ASSERT_EQ(Apply(s, cmd, out), CommandResult::kOk);
    }
    greedy_wins += s.winner_team == 0;
  }
  EXPECT_GT(greedy_wins, kGames * 6 / 10) << greedy_wins;
}

}  // namespace
}  // namespace hokm::core
