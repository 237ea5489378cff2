// seed_state_test.cc: the baseline's JSON state document round-trips every
// state a real game passes through, and corrupted documents are refused.
#include "loadgen/baseline/seed_state.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/rules/bots.h"
#include "core/rules/rules.h"

namespace hokm::loadgen {
namespace {

bool SameState(const core::GameState& a, const core::GameState& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

core::GameState Zero() {
  core::GameState s;
  std::memset(static_cast<void*>(&s), 0, sizeof s);
  return s;
}

TEST(SeedStateTest, EveryStateOfAWholeGameRoundTrips) {
  core::GameState s = Zero();
  core::ChangeBuffer out;
  ASSERT_EQ(core::CreateGame(s, (std::uint64_t{1} << 62) + 5, "loadgen", ~std::uint64_t{0} - 3,
                             core::RulesConfig{}, out),
            core::CommandResult::kOk);
  for (int seat = 0; seat < core::kSeats; ++seat) {
    // The largest ids the rules seat (2^63 - 1 and below: bigint in PostgreSQL).
    ASSERT_EQ(
        core::Join(s, seat, (std::uint64_t{1} << 63) - 1 - static_cast<std::uint64_t>(seat), out),
        core::CommandResult::kOk);
  }
  core::RandomBot bot(42);
  int states = 0;
  std::string json;
  for (;;) {
    json.clear();
    EncodeSeedState(s, json);
    ASSERT_EQ(json.rfind("{\"seq\":" + std::to_string(s.seq) + ",", 0), 0u)
        << "seq must lead: " << json;
    core::GameState back;
    ASSERT_TRUE(DecodeSeedState(json, back)) << json;
    ASSERT_TRUE(SameState(s, back)) << json;
    ++states;
    if (core::SeatToAct(s) < 0) break;
    out.Clear();
    ASSERT_EQ(core::Apply(s, bot.NextCommand(s), out), core::CommandResult::kOk);
  }
  EXPECT_EQ(s.phase, core::Phase::kFinished);
  EXPECT_GT(states, 100);
}

TEST(SeedStateTest, CorruptedDocumentsAreRefused) {
  core::GameState s = Zero();
  core::ChangeBuffer out;
  ASSERT_EQ(core::CreateGame(s, 7, "room1", 9, core::RulesConfig{}, out), core::CommandResult::kOk);
  std::string json;
  EncodeSeedState(s, json);
  core::GameState back;
  ASSERT_TRUE(DecodeSeedState(json, back));
  EXPECT_FALSE(DecodeSeedState(json.substr(0, json.size() - 1), back)) << "truncated";
  EXPECT_FALSE(DecodeSeedState(json + " ", back)) << "trailing bytes";
  EXPECT_FALSE(DecodeSeedState("", back));
  std::string bad_phase = json;
  bad_phase.replace(bad_phase.find("\"phase\":1"), 9, "\"phase\":9");
  EXPECT_FALSE(DecodeSeedState(bad_phase, back)) << "phase out of range";
  std::string long_room = json;
  long_room.replace(long_room.find("\"room1\""), 7, "\"room-too-long\"");
  EXPECT_FALSE(DecodeSeedState(long_room, back)) << "room above 8 bytes";
  for (std::size_t i = 0; i < json.size(); ++i) {  // no byte flip crashes the reader
    std::string flipped = json;
    flipped[i] ^= 0x5A;
    (void)DecodeSeedState(flipped, back);
  }
}

TEST(SeedStateTest, GameKeysCarryTheHashTag) { EXPECT_EQ(SeedGameKey(42), "seed:g:{42}"); }

}  // namespace
}  // namespace hokm::loadgen
