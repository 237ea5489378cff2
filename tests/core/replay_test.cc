// replay_test.cc: core/records/replay.h: a game played by the rules and its
// records replayed come out identical, state included; an altered, missing
// or extra record is reported at its seq.
#include "core/records/replay.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/records/record_types.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"

namespace hokm::core {
namespace {

struct Played {
  std::vector<Change> records;
  GameState state{};
};

// A whole game played by the random bot through the rules, every record kept;
// a connection change after the first trump, so every command type but a
// leave and an abandon is in it.
Played PlayGame(std::uint64_t seed) {
  Played g;
  ChangeBuffer out;
  const auto keep = [&](CommandResult r) {
    EXPECT_EQ(r, CommandResult::kOk);
    g.records.insert(g.records.end(), out.begin(), out.end());
    out.Clear();
  };
  RulesConfig config;
  config.target_points = 3;
  keep(CreateGame(g.state, 42, "r1", seed, config, out));
  keep(Join(g.state, 0, 11, out));
  keep(Join(g.state, 1, 12, out));
  keep(Leave(g.state, 1, out));
  for (int seat = 1; seat < kSeats; ++seat) keep(Join(g.state, seat, 20 + seat, out));
  RandomBot bot(seed);
  bool connection = false;
  while (g.state.phase != Phase::kFinished) {
    keep(Apply(g.state, bot.NextCommand(g.state), out));
    if (!connection && g.state.phase == Phase::kPlaying) {
      keep(SetConnected(g.state, 2, false, out));
      connection = true;
    }
  }
  return g;
}

std::size_t IndexOf(const std::vector<Change>& records, RecordType type, int nth = 0) {
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (records[i].type == type && nth-- == 0) return i;
  }
  ADD_FAILURE() << "no such record";
  return 0;
}

TEST(ReplayTest, AGamePlayedByTheRulesReplaysIdentically) {
  const Played g = PlayGame(5);
  const ReplayResult r = ReplayRecords(g.records);
  EXPECT_TRUE(r.identical()) << (r.differences.empty() ? "" : r.differences[0].field);
  EXPECT_EQ(r.stopped_at, 0u);
  EXPECT_EQ(r.regenerated, g.records.size());
  EXPECT_EQ(r.compared, g.records.size());
  std::vector<ReplayDifference> state_diffs;
  DiffStates(g.state, r.state, state_diffs);
  EXPECT_TRUE(state_diffs.empty()) << state_diffs[0].field;
  EXPECT_EQ(r.state.phase, Phase::kFinished);
}

TEST(ReplayTest, CommandsAloneRebuildTheSameState) {
  const Played g = PlayGame(6);
  std::vector<Change> commands;
  std::copy_if(g.records.begin(), g.records.end(), std::back_inserter(commands),
               [](const Change& c) { return FindRecordType(c.type)->command; });
  ASSERT_LT(commands.size(), g.records.size());
  ReplayOptions options;
  options.input = ReplayInput::kCommandsOnly;
  const ReplayResult r = ReplayRecords(commands, options);
  EXPECT_TRUE(r.identical());
  EXPECT_EQ(r.compared, commands.size());
  std::vector<ReplayDifference> state_diffs;
  DiffStates(g.state, r.state, state_diffs);
  EXPECT_TRUE(state_diffs.empty());
  // Read as every record, the same input lacks the records commands caused.
  EXPECT_FALSE(ReplayRecords(commands).identical());
}

TEST(ReplayTest, AnAlteredCausedRecordIsReportedAtItsSeqAndField) {
  Played g = PlayGame(7);
  Change& won = g.records[IndexOf(g.records, RecordType::kTrickWon, 2)];
  const std::uint8_t real = won.seat;
  won.seat = static_cast<std::uint8_t>((real + 1) % kSeats);
  const ReplayResult r = ReplayRecords(g.records);
  ASSERT_EQ(r.difference_count, 1u);
  EXPECT_EQ(r.differences[0].seq, won.game_seq);
  EXPECT_EQ(r.differences[0].field, "seat");
  EXPECT_EQ(r.differences[0].stored, std::to_string(won.seat));
  EXPECT_EQ(r.differences[0].replayed, std::to_string(real));
  EXPECT_EQ(r.stopped_at, 0u);  // the commands were all fine: it went on to the end
  EXPECT_EQ(r.state.phase, Phase::kFinished);
}

TEST(ReplayTest, AnAlteredCardPlayIsRefusedByTheRulesAtItsSeq) {
  Played g = PlayGame(8);
  // The tenth card play replays a card its seat played before: not in hand.
  const Change first = g.records[IndexOf(g.records, RecordType::kCardPlayed, 0)];
  std::size_t at = 0;
  for (int nth = 9;; ++nth) {
    at = IndexOf(g.records, RecordType::kCardPlayed, nth);
    if (g.records[at].seat == first.seat) break;
  }
  g.records[at].card = first.card;
  const ReplayResult r = ReplayRecords(g.records);
  EXPECT_FALSE(r.identical());
  ASSERT_FALSE(r.differences.empty());
  EXPECT_EQ(r.differences[0].seq, g.records[at].game_seq);
  EXPECT_EQ(r.differences[0].field, "command");
  EXPECT_EQ(r.differences[0].replayed, "refused: card_not_in_hand");
  EXPECT_EQ(r.stopped_at, g.records[at].game_seq);
}

TEST(ReplayTest, MissingAndExtraRecordsAreReported) {
  const Played g = PlayGame(9);
  std::vector<Change> missing = g.records;
  const std::size_t dealt = IndexOf(missing, RecordType::kCardsDealt, 3);
  const std::uint32_t seq = missing[dealt].game_seq;
  missing.erase(missing.begin() + static_cast<std::ptrdiff_t>(dealt));
  ReplayResult r = ReplayRecords(missing);
  ASSERT_EQ(r.difference_count, 1u);
  EXPECT_EQ(r.differences[0].seq, seq);
  EXPECT_EQ(r.differences[0].field, "record");
  EXPECT_EQ(r.differences[0].stored, "none");
  EXPECT_EQ(r.differences[0].replayed, "CardsDealt");

  std::vector<Change> extra = g.records;
  Change more = extra.back();
  more.game_seq += 1;
  extra.push_back(more);  // a second GameFinished after the end
  r = ReplayRecords(extra);
  ASSERT_EQ(r.difference_count, 1u);
  EXPECT_EQ(r.differences[0].seq, more.game_seq);
  EXPECT_EQ(r.differences[0].field, "record");
  EXPECT_EQ(r.differences[0].replayed, "none");
}

TEST(ReplayTest, DifferencesBeyondTheLimitAreCountedNotKept) {
  Played g = PlayGame(10);
  for (Change& c : g.records) {
    if (c.type == RecordType::kTrickWon) c.trick_no = 200;
  }
  ReplayOptions options;
  options.max_differences = 3;
  const ReplayResult r = ReplayRecords(g.records, options);
  EXPECT_EQ(r.differences.size(), 3u);
  EXPECT_GT(r.difference_count, 3u);
  EXPECT_EQ(r.differences[0].field, "trick_no");
  EXPECT_EQ(r.differences[0].stored, "200");
}

TEST(ReplayTest, DiffStatesNamesTheField) {
  const Played g = PlayGame(11);
  GameState other = g.state;
  other.points[1] += 1;
  std::vector<ReplayDifference> d;
  DiffStates(g.state, other, d);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].field, "state.points[b]");
}

}  // namespace
}  // namespace hokm::core
