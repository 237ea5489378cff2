// player_view_test.cc: a seat's view of a game (core/player_view.h) through
// Engine::PlayerView and through a second mapping of the segment, as a
// client process of hokm-engine reads it: the seat's own hand and nothing
// of any other seat's cards, the game's public state, the card played, and
// typed errors for an unknown game or a bad seat.
#include "core/player_view.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "core/engine.h"
#include "core/rules/bots.h"
#include "core/rules/card.h"
#include "tests/core/seated_game.h"

namespace hokm {
namespace {

using core::Command;
using core::CommandResult;
using core::CommandType;
using core::PlayerView;

class PlayerViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = "hokm-player-view-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    (void)shm::Segment::Remove(name_);
    EngineOptions o;
    o.shm_name = name_;
    o.capacity = 64;
    o.ring_bytes = 1 << 20;
    o.command_ring_bytes = 1 << 16;
    o.client_slots = 2;
    o.reuse_existing = false;
    auto e = Engine::Open(o);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
  }
  void TearDown() override {
    engine_.reset();
    (void)shm::Segment::Remove(name_);
  }

  // Creates a game and seats players 1000..1003: the hakem is chosen and
  // holds its first five cards.
  std::uint64_t SeatedGame() {
    Command c{};
    c.type = CommandType::kCreateGame;
    c.seed = 42;
    std::memcpy(c.room, "VIEW", 4);
    return hokm::testing::CreateSeatedGame(*engine_, c, 1000);
  }

  core::GameState State(std::uint64_t game_id) {
    core::GameState s{};
    EXPECT_TRUE(engine_->Snapshot(game_id, s));
    return s;
  }

  // Plays the bots' moves until a card lies on the table; returns the seat
  // that played it.
  int PlayUntilACardIsOnTheTable(std::uint64_t game_id) {
    core::GreedyBot bot;
    for (;;) {
      const core::GameState s = State(game_id);
      const Command c = bot.NextCommand(s);
      EXPECT_EQ(engine_->Apply(0, c).result, CommandResult::kOk);
      if (c.type == CommandType::kPlayCard) return c.seat;
    }
  }

  std::string name_;
  std::unique_ptr<Engine> engine_;
};

// The numbers of the JSON's "hand" array, as a card mask.
core::CardMask HandInJson(const std::string& json) {
  const std::size_t at = json.find("\"hand\":[");
  EXPECT_NE(at, std::string::npos) << json;
  EXPECT_EQ(json.find("\"hand\":[", at + 1), std::string::npos) << "one hand only: " << json;
  core::CardMask m = 0;
  std::size_t i = at + 8;
  while (i < json.size() && json[i] != ']') {
    if (json[i] == ',') {
      ++i;
      continue;
    }
    std::size_t used = 0;
    const int card = std::stoi(json.substr(i), &used);
    m |= core::Bit(static_cast<core::Card>(card));
    i += used;
  }
  return m;
}

TEST_F(PlayerViewTest, EachSeatSeesItsOwnHandAndNoOtherSeatsCards) {
  const std::uint64_t game = SeatedGame();
  const core::GameState s = State(game);
  ASSERT_EQ(s.phase, core::Phase::kChoosingTrump);
  for (int seat = 0; seat < core::kSeats; ++seat) {
    const Result<PlayerView> v = engine_->PlayerView(game, seat);
    ASSERT_TRUE(v.ok()) << v.status().message();
    EXPECT_EQ(v->seat, seat);
    EXPECT_EQ(v->player_id, 1000u + static_cast<std::uint64_t>(seat));
    EXPECT_EQ(v->hand, s.hands[seat]);
    // Before trump is named only the hakem holds cards (five).
    EXPECT_EQ(core::CountCards(v->hand), seat == s.hakem ? 5 : 0);
    for (int other = 0; other < core::kSeats; ++other) {
      if (other != seat) {
        EXPECT_EQ(v->hand & (s.hands[other] | s.pending[other]), 0u);
      }
    }
    EXPECT_EQ(v->hand & s.pending[seat], 0u) << "cards not dealt yet are not shown";
    EXPECT_EQ(v->state, core::PublicState::FromGame(s));

    std::string json;
    v->AppendJson(json);
    EXPECT_EQ(HandInJson(json), s.hands[seat]) << json;
    std::string state_json;
    core::PublicState::FromGame(s).AppendJson(state_json);
    EXPECT_EQ(json.rfind("{\"seat\":" + std::to_string(seat) +
                             ",\"player\":" + std::to_string(1000 + seat) + ",\"hand\":[",
                         0),
              0u)
        << json;
    EXPECT_NE(json.find(",\"state\":" + state_json + "}"), std::string::npos) << json;
  }
}

TEST_F(PlayerViewTest, APlayedCardLeavesTheHandAndLiesOnTheTableForEverySeat) {
  const std::uint64_t game = SeatedGame();
  const int seat = PlayUntilACardIsOnTheTable(game);
  const core::GameState s = State(game);
  const core::Card card = s.trick[seat];
  ASSERT_TRUE(core::IsValidCard(card));
  const Result<PlayerView> mine = engine_->PlayerView(game, seat);
  ASSERT_TRUE(mine.ok());
  EXPECT_EQ(mine->hand & core::Bit(card), 0u);
  EXPECT_EQ(mine->hand, s.hands[seat]);
  EXPECT_EQ(mine->state.table[seat], card);
  EXPECT_EQ(mine->state.phase, core::PublicState::Phase::kPlaying);
  EXPECT_EQ(mine->state.turn, (seat + 1) % 4);
  const int next = (seat + 1) % 4;
  const Result<PlayerView> theirs = engine_->PlayerView(game, next);
  ASSERT_TRUE(theirs.ok());
  EXPECT_EQ(theirs->hand, s.hands[next]);
  EXPECT_EQ(theirs->state.table[seat], card);
  EXPECT_EQ(theirs->state, mine->state);
}

TEST_F(PlayerViewTest, AClientMappingOfTheSegmentReadsTheSameView) {
  const std::uint64_t game = SeatedGame();
  (void)PlayUntilACardIsOnTheTable(game);
  auto client = shm::Segment::Attach(name_);
  ASSERT_TRUE(client.ok()) << client.status().message();
  for (int seat = 0; seat < core::kSeats; ++seat) {
    const Result<PlayerView> direct = core::ReadPlayerView(client->table(), game, seat);
    const Result<PlayerView> embedded = engine_->PlayerView(game, seat);
    ASSERT_TRUE(direct.ok() && embedded.ok());
    EXPECT_EQ(direct.value(), embedded.value());
  }
}

TEST_F(PlayerViewTest, UnknownGameAndBadSeatAreTypedErrors) {
  const std::uint64_t game = SeatedGame();
  const Result<PlayerView> unknown = engine_->PlayerView(game + (1u << 20), 0);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(engine_->PlayerView(0, 0).status().code(), Status::Code::kNotFound);
  for (const int seat : {-1, 4, 255}) {
    const Result<PlayerView> bad = engine_->PlayerView(game, seat);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument) << seat;
  }
  // A game that ended is freed: its view is gone with it.
  Command abandon{};
  abandon.type = CommandType::kAbandon;
  abandon.game_id = game;
  ASSERT_EQ(engine_->Apply(0, abandon).result, CommandResult::kOk);
  EXPECT_EQ(engine_->PlayerView(game, 0).status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace hokm
