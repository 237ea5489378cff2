// public_state_test.cc: the public state two ways must agree. Applying a
// game's records one by one (what the Redis sink does) and reading the
// engine's GameState (what the rebuild after a Redis loss does) give the
// same PublicState after every command of real games played by the rules.
#include <gtest/gtest.h>

#include <flatbuffers/flatbuffers.h>

#include "core/records/record_codec.h"
#include "core/rules/bots.h"
#include "core/rules/random.h"
#include "core/rules/rules.h"
#include "sidecar/public_state.h"
#include "sidecar/record_batch.h"

namespace hokm::sidecar {
namespace {

using core::CommandResult;

// Applies a command's records to `from_records` through their FlatBuffers
// bytes, as the sink receives them.
void ApplyRecords(const core::ChangeBuffer& out, PublicState& from_records) {
  flatbuffers::FlatBufferBuilder fbb;
  for (const core::Change& c : out) {
    core::EncodeRecord(c, 1'000'000 * c.game_seq, fbb);
    const RecordRef ref = VerifyRecord(fbb.GetBufferPointer(), fbb.GetSize(), 1);
    ASSERT_NE(ref.record, nullptr);
    ASSERT_EQ(CheckRecord(ref), nullptr);
    from_records.Apply(*ref.record);
  }
}

// Both views agree; updated_ms is the records' alone (the engine keeps no clock).
::testing::AssertionResult Agree(const core::GameState& game, const PublicState& from_records) {
  PublicState from_game = PublicState::FromGame(game);
  from_game.updated_ms = from_records.updated_ms;
  if (from_game == from_records) return ::testing::AssertionSuccess();
  std::string a, b;
  from_game.AppendJson(a);
  from_records.AppendJson(b);
  return ::testing::AssertionFailure() << "from the game:    " << a << "\nfrom the records: " << b;
}

struct Played {
  int games = 0, abandoned = 0, left = 0, commands = 0;
};

// One game by `bot`, checked after every command. Every fifth game has a
// player leave and rejoin; every seventh is abandoned part-way.
template <typename Bot>
void PlayAndCompare(std::uint64_t i, const core::RulesConfig& config, Bot& bot, Played& played) {
  core::GameState s{};
  core::ChangeBuffer out;
  PublicState from_records;
  const std::string room = i % 3 == 0   ? "ROOM" + std::to_string(i % 10'000)
                           : i % 3 == 1 ? ""
                                        : "8charsXY";
  ASSERT_EQ(core::CreateGame(s, i + 1, room, core::MixSeed(11, i), config, out),
            CommandResult::kOk);
  ApplyRecords(out, from_records);
  ASSERT_TRUE(Agree(s, from_records)) << "after create, game " << i;
  for (int seat = 0; seat < 4; ++seat) {
    out.Clear();
    ASSERT_EQ(core::Join(s, seat, 100 + seat, out), CommandResult::kOk);
    ApplyRecords(out, from_records);
    ASSERT_TRUE(Agree(s, from_records)) << "after join " << seat << ", game " << i;
    if (i % 5 == 0 && seat == 2) {
      out.Clear();
      ASSERT_EQ(core::Leave(s, 1, out), CommandResult::kOk);
      ApplyRecords(out, from_records);
      ASSERT_TRUE(Agree(s, from_records)) << "after leave, game " << i;
      out.Clear();
      ASSERT_EQ(core::Join(s, 1, 200, out), CommandResult::kOk);
      ApplyRecords(out, from_records);
      ++played.left;
    }
  }
  const int abandon_at = i % 7 == 0 ? static_cast<int>(i % 90) : -1;
  for (int n = 0; core::SeatToAct(s) >= 0; ++n) {
    ASSERT_LT(n, 2'000) << "game " << i << " does not end";
    out.Clear();
    if (n == abandon_at) {
      ASSERT_EQ(core::Abandon(s, out), CommandResult::kOk);
      ++played.abandoned;
    } else {
      ASSERT_EQ(core::Apply(s, bot.NextCommand(s), out), CommandResult::kOk);
    }
    ApplyRecords(out, from_records);
    ASSERT_TRUE(Agree(s, from_records)) << "after command " << n << ", game " << i;
    ++played.commands;
  }
  EXPECT_TRUE(from_records.Ended());
  ++played.games;
}

TEST(PublicStateTest, TheEnginesGameAndItsRecordsGiveTheSameStateAfterEveryCommand) {
  Played played;
  for (std::uint64_t i = 0; i < 2'000; ++i) {
    core::RulesConfig config;
    config.play_all_tricks = i % 4 == 1;
    config.target_points = static_cast<std::uint8_t>(1 + i % 7);
    if (i % 2 == 0) config.first_hakem = core::FirstHakem::kSeededRandom;
    if (i % 3 == 0) {
      core::GreedyBot bot;
      PlayAndCompare(i, config, bot, played);
    } else {
      core::RandomBot bot(core::MixSeed(5, i));
      PlayAndCompare(i, config, bot, played);
    }
    if (HasFatalFailure()) return;
  }
  EXPECT_EQ(played.games, 2'000);
  EXPECT_GT(played.abandoned, 100);
  EXPECT_GT(played.left, 100);
  EXPECT_GT(played.commands, 100'000);
}

TEST(PublicStateTest, AFreshGameIsWaitingWithNoHakemTurnOrTrump) {
  core::GameState s{};
  core::ChangeBuffer out;
  ASSERT_EQ(core::CreateGame(s, 9, "abc", 1, core::RulesConfig{}, out), CommandResult::kOk);
  const PublicState p = PublicState::FromGame(s);
  EXPECT_EQ(p.phase, PublicState::Phase::kWaiting);
  EXPECT_EQ(p.room_view(), "abc");
  EXPECT_EQ(p.target, 7);
  EXPECT_EQ(p.seq, 1u);
  EXPECT_EQ(p.hakem, PublicState::kNone);
  EXPECT_EQ(p.turn, PublicState::kNone);
  EXPECT_EQ(p.trump, PublicState::kNone);
  EXPECT_EQ(p.leader, PublicState::kNone);
  EXPECT_EQ(p.table, (std::array<std::int8_t, 4>{-1, -1, -1, -1}));
}

}  // namespace
}  // namespace hokm::sidecar
