// rules_test.cc: every Hokm rule and every rule error of core/rules/rules.h, each
// reached directly through a crafted GameState where that is shorter.
#include "core/rules/rules.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "core/rules/bots.h"
#include "core/rules/random.h"
#include "core_test_util.h"

namespace hokm::core {
namespace {

using testing::C;
using testing::Cards;
using testing::PlayingState;
using testing::SameChange;
using testing::SeatedGame;
using testing::StateBytes;

class RulesTest : public ::testing::Test {
 protected:
  // Plays cards in turn order from s.turn, clearing out_ before each; the
  // records of the last play stay in out_.
  void Play(GameState& s, std::initializer_list<std::string_view> cards) {
    for (const auto name : cards) {
      out_.Clear();
      ASSERT_EQ(PlayCard(s, s.turn, C(name), out_), CommandResult::kOk) << name;
    }
  }

  // Expects cmd to fail with want and to leave s and out_ untouched.
  template <typename Fn>
  void ExpectRejected(GameState& s, CommandResult want, Fn&& cmd) {
    out_.Clear();
    Change sentinel{};
    sentinel.game_seq = 12345;
    out_.items[0] = sentinel;
    const StateBytes before(s);
    EXPECT_EQ(cmd(s, out_), want) << CommandResultName(want);
    EXPECT_TRUE(StateBytes(s) == before) << "state changed on " << CommandResultName(want);
    EXPECT_EQ(out_.count, 0);
    EXPECT_EQ(out_.items[0].game_seq, 12345u);
  }

  ChangeBuffer out_;
};

// ---- CreateGame ----------------------------------------------------------

TEST_F(RulesTest, CreateGameEmitsGameCreatedWithSeqOne) {
  GameState s{};
  RulesConfig config;
  config.target_points = 3;
  ASSERT_EQ(CreateGame(s, 42, "abc", 1234, config, out_), CommandResult::kOk);
  EXPECT_EQ(s.phase, Phase::kWaitingForPlayers);
  EXPECT_EQ(s.game_id, 42u);
  EXPECT_EQ(s.seed, 1234u);
  EXPECT_EQ(s.rng, 1234u);
  EXPECT_EQ(s.seq, 1u);
  EXPECT_EQ(s.hand_no, 0);
  EXPECT_EQ(s.trump, Suit::kNone);
  EXPECT_EQ(SeatToAct(s), -1);
  ASSERT_EQ(out_.count, 1);
  const Change& c = out_.items[0];
  EXPECT_EQ(c.type, RecordType::kGameCreated);
  EXPECT_EQ(c.game_id, 42u);
  EXPECT_EQ(c.game_seq, 1u);
  EXPECT_EQ(c.seed, 1234u);
  EXPECT_EQ(c.config.target_points, 3);
  EXPECT_EQ(std::string(c.room, 3), "abc");
  EXPECT_EQ(c.room[3], '\0');
}

TEST_F(RulesTest, CreateGameAcceptsAnEightByteRoomAndTheConfigBounds) {
  GameState s{};
  RulesConfig config;
  config.target_points = 127;
  config.kot_points_hakem_team = 1;
  config.kot_points_opponents = 127;
  config.first_hakem = FirstHakem::kSeededRandom;
  ASSERT_EQ(CreateGame(s, 1, "ABCDEFGH", 5, config, out_), CommandResult::kOk);
  EXPECT_EQ(std::string(s.room, 8), "ABCDEFGH");
}

TEST_F(RulesTest, CreateGameRejectsAnInvalidConfig) {
  const auto with = [](auto edit) {
    RulesConfig c;
    edit(c);
    return c;
  };
  const RulesConfig bad[] = {
      with([](RulesConfig& c) { c.target_points = 0; }),
      with([](RulesConfig& c) { c.target_points = 128; }),
      with([](RulesConfig& c) { c.kot_points_hakem_team = 0; }),
      with([](RulesConfig& c) { c.kot_points_hakem_team = 200; }),
      with([](RulesConfig& c) { c.kot_points_opponents = 0; }),
      with([](RulesConfig& c) { c.kot_points_opponents = 128; }),
      with([](RulesConfig& c) { c.first_hakem = static_cast<FirstHakem>(2); }),
  };
  for (const RulesConfig& config : bad) {
    GameState s{};
    ExpectRejected(s, CommandResult::kInvalidConfig, [&](GameState& g, ChangeBuffer& o) {
      return CreateGame(g, 1, "r", 1, config, o);
    });
  }
  GameState s{};
  ExpectRejected(s, CommandResult::kInvalidConfig, [](GameState& g, ChangeBuffer& o) {
    return CreateGame(g, 1, "NINEBYTES", 1, RulesConfig{}, o);
  });
  // Found by fuzz_command_request: a room that is not UTF-8 made a game
  // whose GameCreated record the sidecar dead-letters (its room goes to
  // PostgreSQL text and JSON). Overlong, surrogate and cut-short sequences too.
  for (const std::string_view room :
       {std::string_view("\xff\xfe"), std::string_view("ab\xc3"), std::string_view("\xc0\xaf"),
        std::string_view("\xed\xa0\x80")}) {
    ExpectRejected(s, CommandResult::kInvalidConfig, [&](GameState& g, ChangeBuffer& o) {
      return CreateGame(g, 1, room, 1, RulesConfig{}, o);
    });
  }
  EXPECT_EQ(CreateGame(s, 1, "\xc3\xa9t\xc3\xa9", 1, RulesConfig{}, out_),
            CommandResult::kOk);  // "été"
}

TEST_F(RulesTest, CreateGameOnALiveGameIsWrongPhaseAndOnAnEndedOneGameOver) {
  GameState s = SeatedGame(1);
  ExpectRejected(s, CommandResult::kWrongPhase, [](GameState& g, ChangeBuffer& o) {
    return CreateGame(g, 1, "r", 1, RulesConfig{}, o);
  });
  s.phase = Phase::kFinished;
  ExpectRejected(s, CommandResult::kGameOver, [](GameState& g, ChangeBuffer& o) {
    return CreateGame(g, 1, "r", 1, RulesConfig{}, o);
  });
  s.phase = Phase::kAbandoned;
  // kGameOver is checked before the config.
  ExpectRejected(s, CommandResult::kGameOver, [](GameState& g, ChangeBuffer& o) {
    RulesConfig bad;
    bad.target_points = 0;
    return CreateGame(g, 1, "r", 1, bad, o);
  });
}

// ---- Join / Leave / SetConnected / Abandon -------------------------------

TEST_F(RulesTest, JoinSeatsThePlayerAndEmitsPlayerJoined) {
  GameState s{};
  ASSERT_EQ(CreateGame(s, 9, "r", 1, RulesConfig{}, out_), CommandResult::kOk);
  out_.Clear();
  ASSERT_EQ(Join(s, 2, 555, out_), CommandResult::kOk);
  EXPECT_EQ(s.player_ids[2], 555u);
  ASSERT_EQ(out_.count, 1);
  EXPECT_EQ(out_.items[0].type, RecordType::kPlayerJoined);
  EXPECT_EQ(out_.items[0].seat, 2);
  EXPECT_EQ(out_.items[0].player_id, 555u);
  EXPECT_EQ(out_.items[0].game_seq, 2u);
  EXPECT_EQ(out_.items[0].game_id, 9u);
  EXPECT_EQ(s.phase, Phase::kWaitingForPlayers);
}

TEST_F(RulesTest, FourthJoinChoosesTheHakemAndDealsHimFiveCards) {
  GameState s{};
  ASSERT_EQ(CreateGame(s, 9, "r", 77, RulesConfig{}, out_), CommandResult::kOk);
  for (int seat : {3, 1, 0}) {
    out_.Clear();
    ASSERT_EQ(Join(s, seat, 10 + seat, out_), CommandResult::kOk);
    EXPECT_EQ(out_.count, 1);
  }
  out_.Clear();
  ASSERT_EQ(Join(s, 2, 12, out_), CommandResult::kOk);
  ASSERT_EQ(out_.count, 3);
  EXPECT_EQ(out_.items[0].type, RecordType::kPlayerJoined);
  EXPECT_EQ(out_.items[1].type, RecordType::kHakemChosen);
  EXPECT_EQ(out_.items[1].seat, s.hakem);
  EXPECT_EQ(out_.items[1].hand_no, 1);
  EXPECT_EQ(out_.items[2].type, RecordType::kCardsDealt);
  EXPECT_EQ(out_.items[2].seat, s.hakem);
  EXPECT_EQ(out_.items[2].cards, s.hands[s.hakem]);
  EXPECT_EQ(CountCards(s.hands[s.hakem]), 5);
  EXPECT_EQ(out_.items[2].game_seq, 7u);
  EXPECT_EQ(s.seq, 7u);

  EXPECT_EQ(s.phase, Phase::kChoosingTrump);
  EXPECT_EQ(s.hand_no, 1);
  EXPECT_EQ(SeatToAct(s), s.hakem);
  CardMask all = 0;
  int total = 0;
  for (int seat = 0; seat < kSeats; ++seat) {
    const int want_pending = seat == s.hakem ? 8 : 13;
    EXPECT_EQ(CountCards(s.pending[seat]), want_pending);
    if (seat != s.hakem) {
      EXPECT_EQ(s.hands[seat], 0u);
    }
    all |= s.hands[seat] | s.pending[seat];
    total += CountCards(s.hands[seat]) + CountCards(s.pending[seat]);
  }
  EXPECT_EQ(all, kFullDeck);
  EXPECT_EQ(total, 52);
}

TEST_F(RulesTest, JoinRejectsEachErrorInTheAgreedOrder) {
  GameState s{};
  ASSERT_EQ(CreateGame(s, 9, "r", 1, RulesConfig{}, out_), CommandResult::kOk);
  out_.Clear();
  ASSERT_EQ(Join(s, 0, 100, out_), CommandResult::kOk);

  const auto join = [](int seat, std::uint64_t player) {
    return [=](GameState& g, ChangeBuffer& o) { return Join(g, seat, player, o); };
  };
  ExpectRejected(s, CommandResult::kInvalidSeat, join(4, 200));
  ExpectRejected(s, CommandResult::kInvalidSeat, join(-1, 200));
  ExpectRejected(s, CommandResult::kInvalidSeat, join(4, 0));  // seat before player
  ExpectRejected(s, CommandResult::kInvalidPlayer, join(1, 0));
  ExpectRejected(s, CommandResult::kInvalidPlayer, join(0, 0));  // player before seat taken
  // Found by fuzz_command_request: ids above PostgreSQL's bigint were
  // seated, and their PlayerJoined records dead-lettered by the sidecar.
  ExpectRejected(s, CommandResult::kInvalidPlayer, join(1, kMaxPlayerId + 1));
  ExpectRejected(s, CommandResult::kInvalidPlayer, join(1, ~std::uint64_t{0}));
  ExpectRejected(s, CommandResult::kSeatTaken, join(0, 200));
  ExpectRejected(s, CommandResult::kSeatTaken, join(0, 100));  // taken before already seated
  ExpectRejected(s, CommandResult::kAlreadySeated, join(1, 100));

  GameState playing = SeatedGame(1);
  ExpectRejected(playing, CommandResult::kWrongPhase, join(0, 999));
  ExpectRejected(playing, CommandResult::kInvalidSeat, join(7, 999));
  GameState empty{};
  ExpectRejected(empty, CommandResult::kWrongPhase, join(0, 999));
  GameState over = SeatedGame(1);
  over.phase = Phase::kFinished;
  ExpectRejected(over, CommandResult::kGameOver, join(9, 0));
  EXPECT_EQ(Join(s, 1, kMaxPlayerId, out_), CommandResult::kOk);  // the largest id is fine
}

TEST_F(RulesTest, LeaveFreesTheSeatWhileWaitingOnly) {
  GameState s{};
  ASSERT_EQ(CreateGame(s, 9, "r", 1, RulesConfig{}, out_), CommandResult::kOk);
  out_.Clear();
  ASSERT_EQ(Join(s, 1, 100, out_), CommandResult::kOk);
  out_.Clear();
  ASSERT_EQ(Leave(s, 1, out_), CommandResult::kOk);
  ASSERT_EQ(out_.count, 1);
  EXPECT_EQ(out_.items[0].type, RecordType::kPlayerLeft);
  EXPECT_EQ(out_.items[0].seat, 1);
  EXPECT_EQ(out_.items[0].player_id, 100u);
  EXPECT_EQ(out_.items[0].game_seq, 3u);
  EXPECT_EQ(s.player_ids[1], 0u);
  // The seat and the player are free again.
  out_.Clear();
  EXPECT_EQ(Join(s, 2, 100, out_), CommandResult::kOk);

  const auto leave = [](int seat) {
    return [=](GameState& g, ChangeBuffer& o) { return Leave(g, seat, o); };
  };
  ExpectRejected(s, CommandResult::kSeatEmpty, leave(1));
  ExpectRejected(s, CommandResult::kInvalidSeat, leave(4));
  GameState playing = SeatedGame(1);
  ExpectRejected(playing, CommandResult::kWrongPhase, leave(0));
  playing.phase = Phase::kAbandoned;
  ExpectRejected(playing, CommandResult::kGameOver, leave(0));
}

TEST_F(RulesTest, SetConnectedEmitsPlayerConnectionInEveryLivePhase) {
  GameState s{};
  ASSERT_EQ(CreateGame(s, 9, "r", 1, RulesConfig{}, out_), CommandResult::kOk);
  out_.Clear();
  ASSERT_EQ(Join(s, 3, 100, out_), CommandResult::kOk);
  out_.Clear();
  ASSERT_EQ(SetConnected(s, 3, false, out_), CommandResult::kOk);
  ASSERT_EQ(out_.count, 1);
  EXPECT_EQ(out_.items[0].type, RecordType::kPlayerConnection);
  EXPECT_EQ(out_.items[0].seat, 3);
  EXPECT_EQ(out_.items[0].player_id, 100u);
  EXPECT_FALSE(out_.items[0].connected);

  GameState trump = SeatedGame(3);
  out_.Clear();
  ASSERT_EQ(SetConnected(trump, 0, true, out_), CommandResult::kOk);
  EXPECT_TRUE(out_.items[0].connected);
  EXPECT_EQ(out_.items[0].player_id, 101u);
  EXPECT_EQ(trump.phase, Phase::kChoosingTrump);

  GameState playing = PlayingState(0, Suit::kSpades,
                                   {Cards({"2C"}), Cards({"3C"}), Cards({"4C"}), Cards({"5C"})}, 0);
  out_.Clear();
  ASSERT_EQ(SetConnected(playing, 2, true, out_), CommandResult::kOk);
  EXPECT_EQ(out_.items[0].game_seq, 41u);

  const auto set = [](int seat) {
    return [=](GameState& g, ChangeBuffer& o) { return SetConnected(g, seat, true, o); };
  };
  ExpectRejected(s, CommandResult::kSeatEmpty, set(0));
  ExpectRejected(s, CommandResult::kInvalidSeat, set(-2));
  GameState empty{};
  ExpectRejected(empty, CommandResult::kWrongPhase, set(0));
  playing.phase = Phase::kFinished;
  ExpectRejected(playing, CommandResult::kGameOver, set(0));
}

TEST_F(RulesTest, AbandonEndsTheGameAndEverythingAfterIsGameOver) {
  GameState s =
      PlayingState(0, Suit::kSpades, {Cards({"2C"}), Cards({"3C"}), Cards({"4C"}), Cards({"5C"})},
                   0, {2, 1}, {4, 5});
  ASSERT_EQ(Abandon(s, out_), CommandResult::kOk);
  EXPECT_EQ(s.phase, Phase::kAbandoned);
  ASSERT_EQ(out_.count, 1);
  EXPECT_EQ(out_.items[0].type, RecordType::kGameAbandoned);
  EXPECT_EQ(out_.items[0].hand_no, 3);
  EXPECT_EQ(out_.items[0].points[0], 4);
  EXPECT_EQ(out_.items[0].points[1], 5);
  EXPECT_EQ(SeatToAct(s), -1);

  ExpectRejected(s, CommandResult::kGameOver,
                 [](GameState& g, ChangeBuffer& o) { return Abandon(g, o); });
  ExpectRejected(s, CommandResult::kGameOver,
                 [](GameState& g, ChangeBuffer& o) { return PlayCard(g, 0, C("2C"), o); });
  ExpectRejected(s, CommandResult::kGameOver,
                 [](GameState& g, ChangeBuffer& o) { return ChooseTrump(g, 0, Suit::kClubs, o); });
  GameState empty{};
  ExpectRejected(empty, CommandResult::kWrongPhase,
                 [](GameState& g, ChangeBuffer& o) { return Abandon(g, o); });

  GameState waiting{};
  ASSERT_EQ(CreateGame(waiting, 1, "r", 1, RulesConfig{}, out_), CommandResult::kOk);
  out_.Clear();
  EXPECT_EQ(Abandon(waiting, out_), CommandResult::kOk);
  GameState choosing = SeatedGame(5);
  out_.Clear();
  EXPECT_EQ(Abandon(choosing, out_), CommandResult::kOk);
  EXPECT_EQ(out_.items[0].hand_no, 1);
}

// ---- ChooseTrump ---------------------------------------------------------

TEST_F(RulesTest, ChooseTrumpDealsTheRestHakemFirstAndHakemLeads) {
  GameState s = SeatedGame(11);
  const int h = s.hakem;
  const GameState before = s;
  ASSERT_EQ(ChooseTrump(s, h, Suit::kHearts, out_), CommandResult::kOk);
  ASSERT_EQ(out_.count, 5);
  EXPECT_EQ(out_.items[0].type, RecordType::kTrumpChosen);
  EXPECT_EQ(out_.items[0].seat, h);
  EXPECT_EQ(out_.items[0].suit, Suit::kHearts);
  for (int i = 0; i < kSeats; ++i) {
    const Change& d = out_.items[1 + i];
    const int seat = (h + i) % 4;
    EXPECT_EQ(d.type, RecordType::kCardsDealt);
    EXPECT_EQ(d.seat, seat);
    EXPECT_EQ(d.cards, before.pending[seat]);
    EXPECT_EQ(CountCards(d.cards), i == 0 ? 8 : 13);
    EXPECT_EQ(d.game_seq, before.seq + 2 + i);
    EXPECT_EQ(CountCards(s.hands[seat]), 13);
    EXPECT_EQ(s.pending[seat], 0u);
  }
  EXPECT_EQ(s.hands[h], before.hands[h] | before.pending[h]);
  EXPECT_EQ(s.phase, Phase::kPlaying);
  EXPECT_EQ(s.trump, Suit::kHearts);
  EXPECT_EQ(s.turn, h);
  EXPECT_EQ(s.leader, h);
  EXPECT_EQ(SeatToAct(s), h);
  EXPECT_EQ(LegalCards(s, h), s.hands[h]);
}

TEST_F(RulesTest, ChooseTrumpRejectsEachErrorInTheAgreedOrder) {
  GameState s = SeatedGame(11);
  const int other = (s.hakem + 1) % 4;
  const auto choose = [](int seat, Suit suit) {
    return [=](GameState& g, ChangeBuffer& o) { return ChooseTrump(g, seat, suit, o); };
  };
  ExpectRejected(s, CommandResult::kNotHakem, choose(other, Suit::kClubs));
  ExpectRejected(s, CommandResult::kInvalidSuit, choose(other, Suit::kNone));
  ExpectRejected(s, CommandResult::kInvalidSuit, choose(s.hakem, static_cast<Suit>(4)));
  ExpectRejected(s, CommandResult::kInvalidSeat, choose(4, Suit::kNone));
  GameState playing = PlayingState(0, Suit::kSpades,
                                   {Cards({"2C"}), Cards({"3C"}), Cards({"4C"}), Cards({"5C"})}, 0);
  ExpectRejected(playing, CommandResult::kWrongPhase, choose(0, Suit::kClubs));
  ExpectRejected(playing, CommandResult::kInvalidSuit, choose(0, Suit::kNone));
  playing.phase = Phase::kFinished;
  ExpectRejected(playing, CommandResult::kGameOver, choose(9, Suit::kNone));
}

// ---- PlayCard ------------------------------------------------------------

TEST_F(RulesTest, PlayCardRejectsEachErrorInTheAgreedOrder) {
  GameState s = PlayingState(
      0, Suit::kSpades,
      {Cards({"5H", "2C"}), Cards({"KH", "3C"}), Cards({"AC", "4D"}), Cards({"9H", "5C"})}, 0);
  const auto play = [](int seat, Card card) {
    return [=](GameState& g, ChangeBuffer& o) { return PlayCard(g, seat, card, o); };
  };
  ExpectRejected(s, CommandResult::kNotYourTurn, play(1, C("KH")));
  ExpectRejected(s, CommandResult::kNotYourTurn, play(1, C("AS")));  // turn before hand
  ExpectRejected(s, CommandResult::kCardNotInHand, play(0, C("AS")));
  ExpectRejected(s, CommandResult::kInvalidCard, play(0, 52));
  ExpectRejected(s, CommandResult::kInvalidCard, play(0, kNoCard));
  ExpectRejected(s, CommandResult::kInvalidSeat, play(4, 52));  // seat before card
  Play(s, {"5H"});
  ExpectRejected(s, CommandResult::kMustFollowSuit, play(1, C("3C")));
  ExpectRejected(s, CommandResult::kCardNotInHand, play(1, C("5H")));  // already on the table
  ExpectRejected(s, CommandResult::kNotYourTurn, play(0, C("2C")));

  GameState trump = SeatedGame(3);
  ExpectRejected(trump, CommandResult::kWrongPhase,
                 play(trump.hakem, std::countr_zero(trump.hands[trump.hakem])));
  ExpectRejected(trump, CommandResult::kInvalidCard, play(trump.hakem, 60));
  GameState waiting{};
  ASSERT_EQ(CreateGame(waiting, 1, "r", 1, RulesConfig{}, out_), CommandResult::kOk);
  ExpectRejected(waiting, CommandResult::kWrongPhase, play(0, 0));
  s.phase = Phase::kFinished;
  ExpectRejected(s, CommandResult::kGameOver, play(7, 99));
}

TEST_F(RulesTest, CardPlayedMovesTheCardToTheTableAndPassesTheTurn) {
  GameState s = PlayingState(
      2, Suit::kSpades,
      {Cards({"5H", "2C"}), Cards({"KH", "3C"}), Cards({"AC", "4D"}), Cards({"9H", "5C"})}, 2);
  ASSERT_EQ(PlayCard(s, 2, C("4D"), out_), CommandResult::kOk);
  ASSERT_EQ(out_.count, 1);
  EXPECT_EQ(out_.items[0].type, RecordType::kCardPlayed);
  EXPECT_EQ(out_.items[0].seat, 2);
  EXPECT_EQ(out_.items[0].card, C("4D"));
  EXPECT_EQ(out_.items[0].game_seq, 41u);
  EXPECT_EQ(s.hands[2], Cards({"AC"}));
  EXPECT_EQ(s.trick[2], C("4D"));
  EXPECT_EQ(s.trick_size, 1);
  EXPECT_EQ(s.turn, 3);
  EXPECT_EQ(s.leader, 2);
  EXPECT_EQ(SeatToAct(s), 3);
  // Seat 3 has no diamonds: anything goes.
  EXPECT_EQ(LegalCards(s, 3), Cards({"9H", "5C"}));
  EXPECT_EQ(LegalCards(s, 0), 0u);  // not its turn
}

TEST_F(RulesTest, LegalCardsAreTheLedSuitWhenHeld) {
  GameState s = PlayingState(
      0, Suit::kSpades,
      {Cards({"5H", "2C"}), Cards({"KH", "3C", "JH"}), Cards({"AC"}), Cards({"9H", "5C"})}, 0);
  EXPECT_EQ(LegalCards(s, 0), Cards({"5H", "2C"}));
  Play(s, {"5H"});
  EXPECT_EQ(LegalCards(s, 1), Cards({"KH", "JH"}));
}

TEST_F(RulesTest, TrickGoesToTheHighestCardOfTheLedSuit) {
  GameState s = PlayingState(
      0, Suit::kSpades,
      {Cards({"5H", "2C"}), Cards({"KH", "3C"}), Cards({"AC", "4D"}), Cards({"9H", "5C"})}, 0);
  Play(s, {"5H", "KH", "AC"});  // the ace of clubs is off-suit: it cannot win
  out_.Clear();
  ASSERT_EQ(PlayCard(s, 3, C("9H"), out_), CommandResult::kOk);
  ASSERT_EQ(out_.count, 2);
  EXPECT_EQ(out_.items[0].type, RecordType::kCardPlayed);
  const Change& won = out_.items[1];
  EXPECT_EQ(won.type, RecordType::kTrickWon);
  EXPECT_EQ(won.seat, 1);
  EXPECT_EQ(won.trick_no, 1);
  EXPECT_EQ(won.tricks[0], 0);
  EXPECT_EQ(won.tricks[1], 1);
  EXPECT_EQ(won.game_seq, 45u);
  EXPECT_EQ(s.turn, 1);
  EXPECT_EQ(s.leader, 1);
  EXPECT_EQ(s.trick_size, 0);
  EXPECT_EQ(s.trick_no, 1);
  for (const Card c : s.trick) EXPECT_EQ(c, kNoCard);
  EXPECT_EQ(LegalCards(s, 1), Cards({"3C"}));
}

TEST_F(RulesTest, HighestTrumpWinsTheTrick) {
  GameState s = PlayingState(
      0, Suit::kSpades,
      {Cards({"AH", "2C"}), Cards({"2S", "3C"}), Cards({"KH", "4D"}), Cards({"5S", "5C"})}, 0);
  Play(s, {"AH", "2S", "KH", "5S"});
  ASSERT_EQ(out_.count, 2);
  EXPECT_EQ(out_.items[1].seat, 3);
  EXPECT_EQ(s.tricks[1], 1);
  EXPECT_EQ(s.turn, 3);
}

TEST_F(RulesTest, LeadingTrumpWinsWithTheHighestTrump) {
  GameState s = PlayingState(
      1, Suit::kDiamonds,
      {Cards({"AH", "2C"}), Cards({"3D", "3C"}), Cards({"QD", "4D"}), Cards({"AS", "5C"})}, 1);
  Play(s, {"3D", "QD", "AS", "AH"});
  EXPECT_EQ(out_.items[1].seat, 2);
  EXPECT_EQ(s.tricks[0], 1);
}

TEST_F(RulesTest, HandEndsWhenATeamTakesSevenTricksAndTheHakemStays) {
  GameState s = PlayingState(
      0, Suit::kSpades,
      {Cards({"AS", "2C"}), Cards({"2H", "3C"}), Cards({"3H", "4D"}), Cards({"4H", "5C"})}, 0,
      {6, 3}, {2, 1});
  Play(s, {"AS", "2H", "3H", "4H"});
  ASSERT_EQ(out_.count, 5);
  const Change& won = out_.items[1];
  EXPECT_EQ(won.type, RecordType::kTrickWon);
  EXPECT_EQ(won.trick_no, 10);
  EXPECT_EQ(won.tricks[0], 7);
  EXPECT_EQ(won.tricks[1], 3);
  const Change& scored = out_.items[2];
  EXPECT_EQ(scored.type, RecordType::kHandScored);
  EXPECT_EQ(scored.hand_no, 3);
  EXPECT_EQ(scored.seat, 0);
  EXPECT_EQ(scored.suit, Suit::kSpades);
  EXPECT_EQ(scored.winner_team, 0);
  EXPECT_EQ(scored.points_awarded, 1);
  EXPECT_EQ(scored.points[0], 3);
  EXPECT_EQ(scored.points[1], 1);
  EXPECT_FALSE(scored.kot);
  EXPECT_EQ(out_.items[3].type, RecordType::kHakemChosen);
  EXPECT_EQ(out_.items[3].seat, 0);
  EXPECT_EQ(out_.items[3].hand_no, 4);
  EXPECT_EQ(out_.items[4].type, RecordType::kCardsDealt);
  EXPECT_EQ(out_.items[4].seat, 0);
  EXPECT_EQ(CountCards(out_.items[4].cards), 5);
  EXPECT_EQ(out_.items[4].game_seq, 48u);

  EXPECT_EQ(s.phase, Phase::kChoosingTrump);
  EXPECT_EQ(s.hakem, 0);
  EXPECT_EQ(s.hand_no, 4);
  EXPECT_EQ(s.trump, Suit::kNone);
  EXPECT_EQ(s.trick_no, 0);
  EXPECT_EQ(s.tricks[0], 0);
  EXPECT_EQ(s.tricks[1], 0);
  EXPECT_EQ(s.points[0], 3);
  EXPECT_EQ(SeatToAct(s), 0);
  CardMask all = 0;
  for (int seat = 0; seat < kSeats; ++seat) all |= s.hands[seat] | s.pending[seat];
  EXPECT_EQ(all, kFullDeck);
}

TEST_F(RulesTest, HakemPassesToTheNextSeatWhenTheOpponentsWinTheHand) {
  GameState s = PlayingState(
      0, Suit::kSpades,
      {Cards({"2H", "2C"}), Cards({"AS", "3C"}), Cards({"3H", "4D"}), Cards({"4H", "5C"})}, 1,
      {3, 6}, {2, 1});
  Play(s, {"AS", "3H", "4H", "2H"});
  ASSERT_EQ(out_.count, 5);
  EXPECT_EQ(out_.items[2].winner_team, 1);
  EXPECT_EQ(out_.items[2].seat, 0);  // the hakem of the scored hand
  EXPECT_EQ(out_.items[3].type, RecordType::kHakemChosen);
  EXPECT_EQ(out_.items[3].seat, 1);
  EXPECT_EQ(s.hakem, 1);
  EXPECT_EQ(s.points[1], 2);
  EXPECT_EQ(CountCards(s.hands[1]), 5);
}

TEST_F(RulesTest, HakemPassesFromSeatThreeToSeatZero) {
  GameState s = PlayingState(
      3, Suit::kSpades,
      {Cards({"AS", "2C"}), Cards({"2H", "3C"}), Cards({"3H", "4D"}), Cards({"4H", "5C"})}, 0,
      {6, 2});
  Play(s, {"AS", "2H", "3H", "4H"});
  EXPECT_EQ(out_.items[3].seat, 0);
  EXPECT_EQ(s.hakem, 0);
}

TEST_F(RulesTest, KotByTheHakemTeamScoresTwo) {
  GameState s = PlayingState(
      2, Suit::kSpades,
      {Cards({"AS", "2C"}), Cards({"2H", "3C"}), Cards({"3H", "4D"}), Cards({"4H", "5C"})}, 0,
      {6, 0}, {1, 1});
  Play(s, {"AS", "2H", "3H", "4H"});
  const Change& scored = out_.items[2];
  EXPECT_TRUE(scored.kot);
  EXPECT_EQ(scored.points_awarded, 2);
  EXPECT_EQ(scored.points[0], 3);
  EXPECT_EQ(s.hakem, 2);
}

TEST_F(RulesTest, KotByTheOpponentsScoresThree) {
  GameState s = PlayingState(
      1, Suit::kSpades,
      {Cards({"AS", "2C"}), Cards({"2H", "3C"}), Cards({"3H", "4D"}), Cards({"4H", "5C"})}, 0,
      {6, 0}, {1, 1});
  Play(s, {"AS", "2H", "3H", "4H"});
  const Change& scored = out_.items[2];
  EXPECT_TRUE(scored.kot);
  EXPECT_EQ(scored.winner_team, 0);
  EXPECT_EQ(scored.points_awarded, 3);
  EXPECT_EQ(scored.points[0], 4);
  EXPECT_EQ(s.hakem, 2);
}

TEST_F(RulesTest, KotPointsComeFromTheConfig) {
  RulesConfig config;
  config.kot_points_hakem_team = 5;
  config.kot_points_opponents = 9;
  config.target_points = 100;
  GameState s = PlayingState(
      1, Suit::kSpades,
      {Cards({"2H", "2C"}), Cards({"AS", "3C"}), Cards({"3H", "4D"}), Cards({"4H", "5C"})}, 1,
      {0, 6}, {0, 0}, config);
  Play(s, {"AS", "3H", "4H", "2H"});
  EXPECT_EQ(out_.items[2].points_awarded, 5);
  GameState t = PlayingState(
      0, Suit::kSpades,
      {Cards({"2H", "2C"}), Cards({"AS", "3C"}), Cards({"3H", "4D"}), Cards({"4H", "5C"})}, 1,
      {0, 6}, {0, 0}, config);
  Play(t, {"AS", "3H", "4H", "2H"});
  EXPECT_EQ(out_.items[2].points_awarded, 9);
}

TEST_F(RulesTest, ReachingTheTargetFinishesTheGame) {
  GameState s = PlayingState(
      0, Suit::kSpades,
      {Cards({"AS", "2C"}), Cards({"2H", "3C"}), Cards({"3H", "4D"}), Cards({"4H", "5C"})}, 0,
      {6, 4}, {6, 5});
  Play(s, {"AS", "2H", "3H", "4H"});
  ASSERT_EQ(out_.count, 4);
  EXPECT_EQ(out_.items[2].type, RecordType::kHandScored);
  const Change& fin = out_.items[3];
  EXPECT_EQ(fin.type, RecordType::kGameFinished);
  EXPECT_EQ(fin.winner_team, 0);
  EXPECT_EQ(fin.points[0], 7);
  EXPECT_EQ(fin.points[1], 5);
  EXPECT_EQ(fin.game_seq, 47u);
  EXPECT_EQ(s.phase, Phase::kFinished);
  EXPECT_EQ(s.winner_team, 0);
  EXPECT_EQ(SeatToAct(s), -1);
  EXPECT_EQ(LegalCards(s, 0), 0u);
  ExpectRejected(s, CommandResult::kGameOver,
                 [](GameState& g, ChangeBuffer& o) { return PlayCard(g, 0, C("2C"), o); });
  ExpectRejected(s, CommandResult::kGameOver,
                 [](GameState& g, ChangeBuffer& o) { return SetConnected(g, 0, true, o); });
}

TEST_F(RulesTest, AKotMayOvershootTheTarget) {
  GameState s = PlayingState(
      0, Suit::kSpades,
      {Cards({"2H", "2C"}), Cards({"AS", "3C"}), Cards({"3H", "4D"}), Cards({"4H", "5C"})}, 1,
      {0, 6}, {3, 5});
  Play(s, {"AS", "3H", "4H", "2H"});
  ASSERT_EQ(out_.count, 4);
  EXPECT_EQ(out_.items[3].winner_team, 1);
  EXPECT_EQ(out_.items[3].points[1], 8);
}

TEST_F(RulesTest, PlayAllTricksGoesOnPastSevenAndEndsAfterThirteen) {
  RulesConfig config;
  config.play_all_tricks = true;
  GameState s = PlayingState(
      0, Suit::kSpades,
      {Cards({"AS", "KS"}), Cards({"2H", "3H"}), Cards({"3D", "4D"}), Cards({"4C", "5C"})}, 0,
      {6, 5}, {0, 0}, config);
  Play(s, {"AS", "2H", "3D", "4C"});
  ASSERT_EQ(out_.count, 2);  // 7 tricks: the hand goes on
  EXPECT_EQ(s.tricks[0], 7);
  EXPECT_EQ(s.phase, Phase::kPlaying);
  EXPECT_EQ(s.turn, 0);
  Play(s, {"KS", "3H", "4D", "5C"});
  ASSERT_EQ(out_.count, 5);
  EXPECT_EQ(out_.items[1].trick_no, 13);
  EXPECT_EQ(out_.items[2].winner_team, 0);
  EXPECT_EQ(out_.items[2].points_awarded, 1);
  EXPECT_FALSE(out_.items[2].kot);

  GameState t =
      PlayingState(1, Suit::kSpades, {Cards({"2H"}), Cards({"AS"}), Cards({"3H"}), Cards({"4H"})},
                   1, {5, 7}, {0, 0}, config);
  Play(t, {"AS", "3H", "4H", "2H"});
  EXPECT_EQ(out_.items[2].winner_team, 1);
  EXPECT_EQ(out_.items[2].points[1], 1);
  EXPECT_EQ(t.hakem, 1);
}

TEST_F(RulesTest, PlayAllTricksKotMeansThirteenToNothing) {
  RulesConfig config;
  config.play_all_tricks = true;
  GameState s =
      PlayingState(3, Suit::kSpades, {Cards({"2H"}), Cards({"AS"}), Cards({"3H"}), Cards({"4H"})},
                   1, {0, 12}, {0, 0}, config);
  Play(s, {"AS", "3H", "4H", "2H"});
  EXPECT_TRUE(out_.items[2].kot);
  EXPECT_EQ(out_.items[2].points_awarded, 2);
}

// ---- First hakem, dealing, determinism ----------------------------------

TEST_F(RulesTest, FirstAceDealtFaceUpNamesTheHakemAndTheHandUsesTheNextShuffle) {
  std::set<int> hakems;
  for (std::uint64_t seed = 1; seed <= 64; ++seed) {
    std::uint64_t rng = seed;
    Card face_up[kCardsInDeck];
    ShuffleDeck(rng, face_up);
    int first_ace = 0;
    while (RankOf(face_up[first_ace]) != 12) ++first_ace;
    Card deck[kCardsInDeck];
    ShuffleDeck(rng, deck);

    const GameState s = SeatedGame(seed);
    const int h = first_ace % 4;
    ASSERT_EQ(s.hakem, h) << "seed " << seed;
    hakems.insert(h);
    CardMask want[4] = {};
    for (int i = 0; i < 5; ++i) want[h] |= Bit(deck[i]);
    EXPECT_EQ(s.hands[h], want[h]);
    CardMask pending = 0;
    for (int i = 5; i < 13; ++i) pending |= Bit(deck[i]);
    EXPECT_EQ(s.pending[h], pending);
    for (int i = 1; i < 4; ++i) {
      CardMask m = 0;
      for (int k = 13 * i; k < 13 * i + 13; ++k) m |= Bit(deck[k]);
      EXPECT_EQ(s.pending[(h + i) % 4], m);
    }
  }
  EXPECT_EQ(hakems.size(), 4u);
}

TEST_F(RulesTest, SeededRandomHakemIsDrawnFromTheSeed) {
  RulesConfig config;
  config.first_hakem = FirstHakem::kSeededRandom;
  std::set<int> hakems;
  for (std::uint64_t seed = 1; seed <= 64; ++seed) {
    std::uint64_t rng = seed;
    const int want = static_cast<int>(RandomBelow(rng, 4));
    const GameState s = SeatedGame(seed, config);
    EXPECT_EQ(s.hakem, want);
    EXPECT_EQ(SeatedGame(seed, config).hakem, s.hakem);
    hakems.insert(s.hakem);
  }
  EXPECT_EQ(hakems.size(), 4u);
}

TEST_F(RulesTest, ShuffleDeckIsAPermutation) {
  std::uint64_t rng = 5;
  for (int round = 0; round < 100; ++round) {
    Card deck[kCardsInDeck];
    ShuffleDeck(rng, deck);
    CardMask m = 0;
    for (const Card c : deck) m |= Bit(c);
    EXPECT_EQ(m, kFullDeck);
  }
}

std::vector<Change> RandomGameStream(std::uint64_t seed, std::uint64_t bot_seed) {
  std::vector<Change> stream;
  GameState s{};
  ChangeBuffer out;
  const auto keep = [&] { stream.insert(stream.end(), out.begin(), out.end()); };
  EXPECT_EQ(CreateGame(s, 3, "det", seed, RulesConfig{}, out), CommandResult::kOk);
  keep();
  for (int seat = 0; seat < kSeats; ++seat) {
    out.Clear();
    EXPECT_EQ(Join(s, seat, 50 + seat, out), CommandResult::kOk);
    keep();
  }
  RandomBot bot(bot_seed);
  while (SeatToAct(s) >= 0) {
    out.Clear();
    EXPECT_EQ(Apply(s, bot.NextCommand(s), out), CommandResult::kOk);
    keep();
  }
  return stream;
}

TEST_F(RulesTest, SameSeedAndCommandsGiveTheSameStream) {
  const std::vector<Change> a = RandomGameStream(2024, 9);
  const std::vector<Change> b = RandomGameStream(2024, 9);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(SameChange(a[i], b[i])) << i;
  const std::vector<Change> c = RandomGameStream(2025, 9);
  bool differs = c.size() != a.size();
  for (std::size_t i = 0; !differs && i < a.size(); ++i) differs = !SameChange(a[i], c[i]);
  EXPECT_TRUE(differs);
}

// ---- Apply and names -----------------------------------------------------

TEST_F(RulesTest, ApplyDispatchesEveryCommandType) {
  GameState s{};
  Command cmd{};
  cmd.type = CommandType::kCreateGame;
  cmd.game_id = 77;
  cmd.seed = 8;
  cmd.config = RulesConfig{};
  std::memcpy(cmd.room, "ABCDEFGH", 8);  // all 8 bytes used: no terminator
  ASSERT_EQ(Apply(s, cmd, out_), CommandResult::kOk);
  EXPECT_EQ(s.game_id, 77u);
  EXPECT_EQ(std::string(out_.items[0].room, 8), "ABCDEFGH");

  cmd = Command{};
  cmd.type = CommandType::kJoin;
  cmd.game_id = 77;
  cmd.seat = 1;
  cmd.player_id = 5;
  out_.Clear();
  ASSERT_EQ(Apply(s, cmd, out_), CommandResult::kOk);
  EXPECT_EQ(s.player_ids[1], 5u);

  cmd.type = CommandType::kSetConnected;
  cmd.connected = true;
  out_.Clear();
  ASSERT_EQ(Apply(s, cmd, out_), CommandResult::kOk);
  EXPECT_EQ(out_.items[0].type, RecordType::kPlayerConnection);

  cmd.type = CommandType::kLeave;
  out_.Clear();
  ASSERT_EQ(Apply(s, cmd, out_), CommandResult::kOk);
  EXPECT_EQ(s.player_ids[1], 0u);

  GameState g = SeatedGame(4);
  cmd = Command{};
  cmd.type = CommandType::kChooseTrump;
  cmd.seat = g.hakem;
  cmd.suit = Suit::kDiamonds;
  out_.Clear();
  ASSERT_EQ(Apply(g, cmd, out_), CommandResult::kOk);
  EXPECT_EQ(g.trump, Suit::kDiamonds);

  cmd.type = CommandType::kPlayCard;
  cmd.card = static_cast<Card>(std::countr_zero(g.hands[g.hakem]));
  out_.Clear();
  ASSERT_EQ(Apply(g, cmd, out_), CommandResult::kOk);
  EXPECT_EQ(g.trick_size, 1);

  cmd.type = CommandType::kAbandon;
  out_.Clear();
  ASSERT_EQ(Apply(g, cmd, out_), CommandResult::kOk);
  EXPECT_EQ(g.phase, Phase::kAbandoned);

  cmd.type = static_cast<CommandType>(99);
  GameState h = SeatedGame(4);
  ExpectRejected(h, CommandResult::kInvalidCommand,
                 [&](GameState& st, ChangeBuffer& o) { return Apply(st, cmd, o); });
}

TEST(RulesNamesTest, ResultAndRecordNamesAreStable) {
  EXPECT_STREQ(CommandResultName(CommandResult::kOk), "ok");
  EXPECT_STREQ(CommandResultName(CommandResult::kNotYourTurn), "not_your_turn");
  EXPECT_STREQ(CommandResultName(CommandResult::kMustFollowSuit), "must_follow_suit");
  EXPECT_STREQ(CommandResultName(CommandResult::kGameOver), "game_over");
  EXPECT_STREQ(CommandResultName(CommandResult::kInvalidCommand), "invalid_command");
  std::set<std::string> names;
  for (int r = 0; r < kCommandResultCount; ++r) {
    names.insert(CommandResultName(static_cast<CommandResult>(r)));
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kCommandResultCount));
  EXPECT_EQ(names.count("unknown"), 0u);
  EXPECT_STREQ(CommandResultName(static_cast<CommandResult>(200)), "unknown");

  EXPECT_STREQ(RecordTypeName(RecordType::kGameCreated), "GameCreated");
  EXPECT_STREQ(RecordTypeName(RecordType::kPlayerConnection), "PlayerConnection");
  std::set<std::string> types;
  for (int t = 1; t <= kRecordTypeCount; ++t)
    types.insert(RecordTypeName(static_cast<RecordType>(t)));
  EXPECT_EQ(types.size(), static_cast<std::size_t>(kRecordTypeCount));
  EXPECT_EQ(types.count("Unknown"), 0u);
}

}  // namespace
}  // namespace hokm::core
