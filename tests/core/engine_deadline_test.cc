// engine_deadline_test.cc: turn deadlines of hokm::Engine with an injected
// clock (EngineOptions::monotonic_ns), moved by hand: no sleeps. A passed
// deadline makes the engine play the seat's lowest legal card (or the
// hakem's strongest suit) with on_timeout on the record; a move in time
// restarts the clock; a game without a deadline is never touched.
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cstring>
#include <string>
#include <vector>

#include "core/deadline_heap.h"
#include "core/engine.h"
#include "core/records/change_batch.h"
#include "core/records/record_codec.h"
#include "core/records/replay.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "tests/core/seated_game.h"

namespace hokm {
namespace {

using core::Command;
using core::CommandResult;
using core::CommandType;
using core::RecordType;

constexpr std::uint64_t kMs = 1'000'000;

class EngineDeadlineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = "hokm-deadline-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    (void)shm::Segment::Remove(name_);
  }
  void TearDown() override {
    engine_.reset();
    (void)shm::Segment::Remove(name_);
  }

  Engine& Open(std::uint32_t default_timeout_ms = 0, bool reuse = false) {
    engine_.reset();
    EngineOptions o;
    o.shm_name = name_;
    o.capacity = 64;
    o.ring_bytes = 1 << 20;
    o.command_ring_bytes = 1 << 16;
    o.client_slots = 2;
    o.reuse_existing = reuse;
    o.default_turn_timeout_ms = default_timeout_ms;
    o.monotonic_ns = [this] { return now_; };
    auto e = Engine::Open(o);
    EXPECT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
    reader_ = shm::RingReader(engine_->segment().change_ring(0));
    return *engine_;
  }

  // A game with four players seated (the hakem to name trump).
  std::uint64_t SeatedGame(std::uint32_t timeout_ms, std::uint64_t seed = 5) {
    Command c{};
    c.type = CommandType::kCreateGame;
    c.seed = seed;
    c.turn_timeout_ms = timeout_ms;
    std::memcpy(c.room, "T", 1);
    return hokm::testing::CreateSeatedGame(*engine_, c, 500);
  }

  core::GameState State(std::uint64_t game) {
    core::GameState s{};
    EXPECT_TRUE(engine_->Snapshot(game, s));
    return s;
  }

  std::vector<core::Change> Drain() {
    std::vector<core::Change> out;
    reader_.Peek(
        [&](const shm::RingRecord& r) {
          EXPECT_TRUE(core::ForEachFrame(r.payload, [&](const std::byte* data, std::size_t size) {
            core::Change c{};
            EXPECT_EQ(core::DecodeRecord(data, size, &c, nullptr), core::DecodeError::kOk);
            out.push_back(c);
          }));
        },
        1 << 20);
    reader_.Commit();
    return out;
  }

  std::uint64_t now_ = 1'000 * kMs;
  std::string name_;
  std::unique_ptr<Engine> engine_;
  shm::RingReader reader_;
};

TEST_F(EngineDeadlineTest, APassedDeadlineNamesTheHakemsStrongestSuitOnTimeout) {
  Engine& e = Open();
  const std::uint64_t game = SeatedGame(100);
  const core::GameState before = State(game);
  ASSERT_EQ(before.phase, core::Phase::kChoosingTrump);
  EXPECT_EQ(e.NextDeadlineNs(0), now_ + 100 * kMs);
  (void)Drain();

  now_ += 100 * kMs - 1;  // one ns early: nothing
  EXPECT_EQ(e.ExpireDeadlines(0), 0u);
  EXPECT_TRUE(Drain().empty());

  now_ += 1;
  EXPECT_EQ(e.ExpireDeadlines(0), 1u);
  const auto records = Drain();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records[0].type, RecordType::kTrumpChosen);
  EXPECT_TRUE(records[0].on_timeout);
  EXPECT_EQ(records[0].suit, core::GreedyBot{}.NextCommand(before).suit);
  for (std::size_t i = 1; i < records.size(); ++i) EXPECT_FALSE(records[i].on_timeout);
  EXPECT_EQ(State(game).phase, core::Phase::kPlaying);
  EXPECT_EQ(e.counters(0).Get(EngineCounter::kTurnTimeouts), 1u);
  // The next turn (the hakem leads) has its own full deadline.
  EXPECT_EQ(e.NextDeadlineNs(0), now_ + 100 * kMs);
}

TEST_F(EngineDeadlineTest, APassedDeadlinePlaysTheLowestLegalCardOnTimeout) {
  Engine& e = Open();
  const std::uint64_t game = SeatedGame(50);
  core::GreedyBot bot;
  ASSERT_EQ(e.Apply(0, bot.NextCommand(State(game))).result, CommandResult::kOk);  // trump
  ASSERT_EQ(e.Apply(0, bot.NextCommand(State(game))).result, CommandResult::kOk);  // a lead
  const core::GameState s = State(game);
  ASSERT_EQ(s.trick_size, 1);
  (void)Drain();

  now_ += 50 * kMs;
  ASSERT_EQ(e.ExpireDeadlines(0), 1u);
  const auto records = Drain();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records[0].type, RecordType::kCardPlayed);
  EXPECT_TRUE(records[0].on_timeout);
  EXPECT_EQ(records[0].seat, s.turn);
  // The lowest legal card: lowest rank among the legal ones.
  const core::CardMask legal = core::LegalCards(s, s.turn);
  ASSERT_NE(legal & core::Bit(records[0].card), 0u);
  for (core::CardMask m = legal; m != 0; m &= m - 1) {
    EXPECT_LE(core::RankOf(records[0].card), core::RankOf(std::countr_zero(m)));
  }
  EXPECT_EQ(records[0].card, core::TimeoutCommand(s).card);
  EXPECT_EQ(State(game).trick_size, 2);
}

TEST_F(EngineDeadlineTest, AMoveInTimeRestartsTheClock) {
  Engine& e = Open();
  const std::uint64_t game = SeatedGame(100);
  core::GreedyBot bot;
  now_ += 90 * kMs;
  ASSERT_EQ(e.Apply(0, bot.NextCommand(State(game))).result, CommandResult::kOk);  // in time
  EXPECT_EQ(e.NextDeadlineNs(0), now_ + 100 * kMs);
  now_ += 90 * kMs;  // 180 ms after the first turn began, 90 into this one
  EXPECT_EQ(e.ExpireDeadlines(0), 0u);
  // A reconnect does not give the seat more time.
  Command reconnect{};
  reconnect.type = CommandType::kSetConnected;
  reconnect.game_id = game;
  reconnect.seat = State(game).turn;
  reconnect.connected = true;
  ASSERT_EQ(e.Apply(0, reconnect).result, CommandResult::kOk);
  now_ += 10 * kMs;
  EXPECT_EQ(e.ExpireDeadlines(0), 1u);
  const auto records = Drain();
  int on_timeout = 0;
  for (const core::Change& c : records) on_timeout += c.on_timeout ? 1 : 0;
  EXPECT_EQ(on_timeout, 1);
}

TEST_F(EngineDeadlineTest, AGameWithoutADeadlineIsNeverPlayedFor) {
  Engine& e = Open();
  const std::uint64_t game = SeatedGame(0);
  EXPECT_EQ(e.NextDeadlineNs(0), 0u);
  const core::GameState before = State(game);
  now_ += 86'400'000 * kMs;
  EXPECT_EQ(e.ExpireDeadlines(0), 0u);
  EXPECT_EQ(e.ServeOnce(0), 0u);
  EXPECT_EQ(State(game).seq, before.seq);
  EXPECT_EQ(e.counters(0).Get(EngineCounter::kTurnTimeouts), 0u);
}

TEST_F(EngineDeadlineTest, TheEngineDefaultAppliesUnlessTheCreateCommandSaysOtherwise) {
  Engine& e = Open(/*default_timeout_ms=*/30);
  const std::uint64_t by_default = SeatedGame(0);
  const std::uint64_t own = SeatedGame(70);
  const std::uint64_t none = SeatedGame(core::kNoTurnTimeout);
  EXPECT_EQ(State(by_default).turn_timeout_ms, 30u);
  EXPECT_EQ(State(own).turn_timeout_ms, 70u);
  EXPECT_EQ(State(none).turn_timeout_ms, 0u);
  const auto records = Drain();
  std::vector<std::uint32_t> created;
  for (const core::Change& c : records) {
    if (c.type == RecordType::kGameCreated) created.push_back(c.turn_timeout_ms);
  }
  EXPECT_EQ(created, (std::vector<std::uint32_t>{30, 70, 0}));
  now_ += 30 * kMs;
  EXPECT_EQ(e.ExpireDeadlines(0), 1u);  // by_default's hakem only
  EXPECT_EQ(State(by_default).phase, core::Phase::kPlaying);
  EXPECT_EQ(State(own).phase, core::Phase::kChoosingTrump);
  EXPECT_EQ(State(none).phase, core::Phase::kChoosingTrump);
}

TEST_F(EngineDeadlineTest, ATooLongTimeoutIsAnInvalidConfig) {
  Engine& e = Open();
  Command c{};
  c.type = CommandType::kCreateGame;
  c.turn_timeout_ms = core::kMaxTurnTimeoutMs + 1;
  EXPECT_EQ(e.Apply(0, c).result, CommandResult::kInvalidConfig);
}

TEST_F(EngineDeadlineTest, AGameLeftToTheClockEndsAndReplaysWithItsFlags) {
  Engine& e = Open();
  const std::uint64_t game = SeatedGame(20);
  std::vector<core::Change> records = Drain();
  int moves = 0;
  core::GameState s{};
  while (e.Snapshot(game, s) && moves < 2000) {
    now_ += 20 * kMs;
    ASSERT_EQ(e.ServeOnce(0), 1u);
    ++moves;
  }
  const auto rest = Drain();
  records.insert(records.end(), rest.begin(), rest.end());
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back().type, RecordType::kGameFinished);
  EXPECT_EQ(e.NextDeadlineNs(0), 0u);  // a finished game leaves no timer
  EXPECT_EQ(e.counters(0).Get(EngineCounter::kTurnTimeouts), static_cast<std::uint64_t>(moves));
  // The rules regenerate every record, flags included (replay.h).
  const core::ReplayResult replay = core::ReplayRecords(records);
  EXPECT_EQ(replay.difference_count, 0u);
  EXPECT_EQ(replay.state.phase, core::Phase::kFinished);
}

TEST_F(EngineDeadlineTest, ARestartedEngineGivesPendingTurnsAFreshDeadline) {
  Open();
  const std::uint64_t game = SeatedGame(40);
  now_ += 30 * kMs;
  Engine& e = Open(0, /*reuse=*/true);  // the same segment, its games kept
  EXPECT_EQ(e.NextDeadlineNs(0), now_ + 40 * kMs);
  now_ += 40 * kMs;
  EXPECT_EQ(e.ExpireDeadlines(0), 1u);
  EXPECT_EQ(State(game).phase, core::Phase::kPlaying);
}

TEST(DeadlineHeapTest, KeepsTheEarliestOnTopThroughSetsAndErases) {
  core::DeadlineHeap heap(16);
  const std::uint64_t deadlines[] = {50, 10, 70, 30, 90, 20, 60, 40};
  for (std::uint32_t k = 0; k < 8; ++k) heap.Set({deadlines[k], k + 1, 0, k});
  EXPECT_EQ(heap.top().deadline_ns, 10u);
  heap.Set({95, 2, 0, 1});  // key 1 moves from 10 to 95
  EXPECT_EQ(heap.top().deadline_ns, 20u);
  heap.Erase(5);  // 20
  heap.Erase(5);  // absent: nothing
  EXPECT_EQ(heap.size(), 7u);
  std::vector<std::uint64_t> order;
  while (!heap.empty()) {
    order.push_back(heap.top().deadline_ns);
    EXPECT_TRUE(heap.Contains(heap.top().key));
    heap.Erase(heap.top().key);
  }
  EXPECT_EQ(order, (std::vector<std::uint64_t>{30, 40, 50, 60, 70, 90, 95}));
}

}  // namespace
}  // namespace hokm
