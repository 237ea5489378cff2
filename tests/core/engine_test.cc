// engine_test.cc: hokm::Engine over a real segment: records on the change
// ring, state in the slot, typed errors, Busy on a full ring, and commands
// from another thread through the command ring.
#include "core/engine.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/records/change_batch.h"
#include "core/records/record_codec.h"
#include "core/records/replay.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "shm/command_channel.h"

namespace hokm {
namespace {

using core::Command;
using core::CommandResult;
using core::CommandType;
using core::RecordType;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    name_ = "hokm-engine-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    (void)shm::Segment::Remove(name_);
  }
  void TearDown() override {
    engine_.reset();
    (void)shm::Segment::Remove(name_);
  }

  Engine& Open(std::uint64_t ring_bytes = 1 << 20, std::uint32_t shards = 1) {
    EngineOptions o;
    o.shm_name = name_;
    o.capacity = 1000;
    o.shards = shards;
    o.ring_bytes = ring_bytes;
    o.command_ring_bytes = 1 << 16;
    o.client_slots = 4;
    o.reuse_existing = false;
    auto e = Engine::Open(o);
    EXPECT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
    reader_ = shm::RingReader(engine_->segment().change_ring(0));
    return *engine_;
  }

  static Command Create(std::uint64_t seed) {
    Command c{};
    c.type = CommandType::kCreateGame;
    c.seed = seed;
    std::memcpy(c.room, "ROOM", 4);
    return c;
  }
  static Command Join(std::uint64_t game, int seat) {
    Command c{};
    c.type = CommandType::kJoin;
    c.game_id = game;
    c.seat = static_cast<std::uint8_t>(seat);
    c.player_id = 1000 + static_cast<std::uint64_t>(seat);
    return c;
  }

  // Creates a game with four players seated; returns its id.
  std::uint64_t SeatedGame(std::uint64_t seed) {
    const ApplyOutcome created = engine_->Apply(0, Create(seed));
    EXPECT_EQ(created.result, CommandResult::kOk);
    for (int seat = 0; seat < 4; ++seat) {
      EXPECT_EQ(engine_->Apply(0, Join(created.game_id, seat)).result, CommandResult::kOk);
    }
    return created.game_id;
  }

  // Decodes every change record published and not yet read.
  std::vector<core::Change> Drain() {
    std::vector<core::Change> out;
    reader_.Peek(
        [&](const shm::RingRecord& r) {
          EXPECT_EQ(r.type, core::kChangeBatchType);
          EXPECT_TRUE(core::ForEachFrame(r.payload, [&](const std::byte* data, std::size_t size) {
            core::Change c{};
            std::uint64_t ts = 0;
            EXPECT_EQ(core::DecodeRecord(data, size, &c, &ts), core::DecodeError::kOk);
            EXPECT_GT(ts, 0u);
            out.push_back(c);
          }));
        },
        1 << 20);
    reader_.Commit();
    return out;
  }

  std::string name_;
  std::unique_ptr<Engine> engine_;
  shm::RingReader reader_;
};

TEST_F(EngineTest, CreateAndJoinsPublishTheirRecordsInOrder) {
  Engine& e = Open();
  const std::uint64_t game = SeatedGame(42);
  const auto records = Drain();
  // GameCreated, 4 x PlayerJoined, HakemChosen, CardsDealt.
  ASSERT_EQ(records.size(), 7u);
  EXPECT_EQ(records[0].type, RecordType::kGameCreated);
  EXPECT_EQ(records[4].type, RecordType::kPlayerJoined);
  EXPECT_EQ(records[5].type, RecordType::kHakemChosen);
  EXPECT_EQ(records[6].type, RecordType::kCardsDealt);
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].game_id, game);
    EXPECT_EQ(records[i].game_seq, i + 1);
  }
  core::GameState s{};
  ASSERT_TRUE(e.Snapshot(game, s));
  EXPECT_EQ(s.phase, core::Phase::kChoosingTrump);
  EXPECT_EQ(s.seq, 7u);
}

TEST_F(EngineTest, AFullGameEndsWithGameFinishedAndFreesItsSlot) {
  Engine& e = Open();
  const std::uint64_t game = SeatedGame(7);
  core::GreedyBot bot;
  core::GameState s{};
  int commands = 0;
  while (e.Snapshot(game, s) && commands < 10000) {
    const ApplyOutcome o = e.Apply(0, bot.NextCommand(s));
    ASSERT_EQ(o.result, CommandResult::kOk);
    ++commands;
  }
  const auto records = Drain();
  ASSERT_FALSE(records.empty());
  EXPECT_EQ(records.back().type, RecordType::kGameFinished);
  for (std::size_t i = 0; i < records.size(); ++i) EXPECT_EQ(records[i].game_seq, i + 1);
  EXPECT_EQ(e.segment().table().Live(), 0u);
  EXPECT_EQ(e.counters(0).Get(EngineCounter::kGamesEnded), 1u);
  // The finished game's id is gone.
  EXPECT_EQ(e.Apply(0, Join(game, 0)).result, CommandResult::kNoSuchGame);
}

TEST_F(EngineTest, IllegalCommandPublishesNothingAndLeavesTheStateAlone) {
  Engine& e = Open();
  const std::uint64_t game = SeatedGame(3);
  (void)Drain();
  core::GameState before{}, after{};
  ASSERT_TRUE(e.Snapshot(game, before));
  Command play{};
  play.type = CommandType::kPlayCard;
  play.game_id = game;
  play.seat = before.hakem;
  play.card = 0;
  // Trump has not been named: playing is the wrong phase.
  EXPECT_EQ(e.Apply(0, play).result, CommandResult::kWrongPhase);
  EXPECT_EQ(e.Apply(0, Join(game, 1)).result, CommandResult::kWrongPhase);
  ASSERT_TRUE(e.Snapshot(game, after));
  std::vector<core::ReplayDifference> differences;
  core::DiffStates(before, after, differences);
  EXPECT_TRUE(differences.empty()) << differences.front().field;
  EXPECT_TRUE(Drain().empty());
  EXPECT_EQ(e.counters(0).Get(EngineCounter::kRejected), 2u);
}

TEST_F(EngineTest, UnknownGameIsNoSuchGame) {
  Engine& e = Open();
  EXPECT_EQ(e.Apply(0, Join(12345, 0)).result, CommandResult::kNoSuchGame);
  EXPECT_EQ(e.Apply(0, Join(0, 0)).result, CommandResult::kNoSuchGame);
}

TEST_F(EngineTest, FullChangeRingAnswersBusyAndLosesNothing) {
  Engine& e = Open(/*ring_bytes=*/1 << 12);
  // Create games until the ring refuses; nothing is read meanwhile.
  std::vector<std::uint64_t> games;
  ApplyOutcome o;
  for (int i = 0; i < 1000; ++i) {
    o = e.Apply(0, Create(static_cast<std::uint64_t>(i)));
    if (o.result != CommandResult::kOk) break;
    games.push_back(o.game_id);
  }
  ASSERT_EQ(o.result, CommandResult::kBusy);
  EXPECT_EQ(e.counters(0).Get(EngineCounter::kBusy), 1u);
  // The refused create left no game behind.
  EXPECT_EQ(e.segment().table().Live(), games.size());
  core::GameState s{};
  ASSERT_TRUE(e.Snapshot(games[0], s));
  EXPECT_EQ(s.seq, 1u);
  // A refused join leaves the game as it was.
  EXPECT_EQ(e.Apply(0, Join(games[0], 0)).result, CommandResult::kBusy);
  ASSERT_TRUE(e.Snapshot(games[0], s));
  EXPECT_EQ(s.player_ids[0], 0u);
  // Every accepted record is there, and once drained the ring takes more.
  const auto records = Drain();
  EXPECT_EQ(records.size(), games.size());
  EXPECT_EQ(e.Apply(0, Join(games[0], 0)).result, CommandResult::kOk);
}

TEST_F(EngineTest, CommandsFromAnotherThreadGetTheirAnswers) {
  Engine& e = Open();
  std::atomic<bool> done{false};
  std::vector<shm::CommandResponse> answers;
  std::thread client([&] {
    auto c = shm::CommandClient::Register(e.segment());
    ASSERT_TRUE(c.ok()) << c.status().message();
    auto send = [&](std::uint64_t id, const Command& cmd) {
      while (core::SendCommand(*c, id, cmd) != shm::WriteResult::kOk) std::this_thread::yield();
      shm::CommandResponse r{};
      while (!c->TryReceive(r)) std::this_thread::yield();
      answers.push_back(r);
      return r;
    };
    const auto created = send(1, Create(9));
    send(2, Join(created.game_id, 0));
    send(3, Join(created.game_id, 0));  // seat taken
    done = true;
  });
  for (int i = 0; i < 10'000'000 && !done.load(); ++i) e.ServeOnce(0);
  client.join();
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[0].request_id, 1u);
  EXPECT_EQ(core::ResultOf(answers[0]), CommandResult::kOk);
  EXPECT_EQ(answers[0].game_seq, 1u);
  EXPECT_EQ(core::ResultOf(answers[1]), CommandResult::kOk);
  EXPECT_EQ(answers[1].game_seq, 2u);
  EXPECT_EQ(core::ResultOf(answers[2]), CommandResult::kSeatTaken);
}

// Found by fuzz_command_request (fuzz/): a CommandRequest whose
// kCreateGame carries config.play_all_tricks = 0x66 (and connected = 0xff),
// bytes any attached process can write. Reading such a bool was undefined
// behaviour in the rules; it must be refused without touching anything.
TEST_F(EngineTest, RequestWhoseBoolsAreNeitherZeroNorOneIsRefusedWithoutEffect) {
  Engine& e = Open();
  const std::uint8_t kRequest[sizeof(shm::CommandRequest)] = {
      0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e, 0xff, 0x00,
      0x00, 0x00, 0x00, 0x41, 0x00, 0x00, 0x00, 0x7a, 0x7a, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x66, 0x75, 0x7a, 0x7a};
  shm::Ring commands = e.segment().command_ring(0);
  ASSERT_EQ(commands.TryWrite(shm::kCommandRequestType, kRequest, sizeof kRequest),
            shm::WriteResult::kOk);
  EXPECT_EQ(e.ServeOnce(0), 1u);
  EXPECT_EQ(e.counters(0).Get(EngineCounter::kRejected), 1u);
  EXPECT_EQ(e.counters(0).Get(EngineCounter::kAccepted), 0u);
  EXPECT_EQ(e.segment().table().Live(), 0u);
  EXPECT_TRUE(Drain().empty());

  // The same for a bool of an existing game's command, answered to its client.
  const std::uint64_t game = SeatedGame(3);
  EXPECT_FALSE(Drain().empty());
  core::GameState s{};
  ASSERT_TRUE(e.Snapshot(game, s));
  const std::uint32_t seq = s.seq;
  Command connected{};
  connected.type = CommandType::kSetConnected;
  connected.game_id = game;
  connected.seat = 1;
  const unsigned char z = 'z';
  std::memcpy(&connected.connected, &z, 1);
  auto client = shm::CommandClient::Register(e.segment());
  ASSERT_TRUE(client.ok()) << client.status().message();
  ASSERT_EQ(core::SendCommand(*client, 7, connected), shm::WriteResult::kOk);
  EXPECT_EQ(e.ServeOnce(0), 1u);
  shm::CommandResponse answer{};
  ASSERT_TRUE(client->TryReceive(answer));
  EXPECT_EQ(answer.request_id, 7u);
  EXPECT_EQ(core::ResultOf(answer), CommandResult::kInvalidCommand);
  EXPECT_TRUE(Drain().empty());
  ASSERT_TRUE(e.Snapshot(game, s));
  EXPECT_EQ(s.seq, seq);  // nothing applied
}

TEST_F(EngineTest, GamesAreCreatedInTheShardThatAppliesTheCommand) {
  Engine& e = Open(1 << 20, /*shards=*/2);
  const ApplyOutcome a = e.Apply(0, Create(1));
  const ApplyOutcome b = e.Apply(1, Create(2));
  ASSERT_EQ(a.result, CommandResult::kOk);
  ASSERT_EQ(b.result, CommandResult::kOk);
  EXPECT_EQ(e.ShardOf(a.game_id), 0u);
  EXPECT_EQ(e.ShardOf(b.game_id), 1u);
  // Another shard's game is refused, untouched.
  EXPECT_EQ(e.Apply(0, Join(b.game_id, 0)).result, CommandResult::kInvalidCommand);
}

TEST_F(EngineTest, AnEngineInAnotherProcessIsRefusedWhileThisOneLives) {
  Open();
  const std::string parent = std::to_string(::getpid());
  const pid_t child = ::fork();
  if (child == 0) {
    EngineOptions o;
    o.shm_name = name_;
    o.capacity = 1000;
    o.ring_bytes = 1 << 20;
    o.command_ring_bytes = 1 << 16;
    o.client_slots = 4;
    auto second = Engine::Open(o);
    // 0: refused, naming the live engine's pid.
    ::_exit(!second.ok() && second.status().message().find(parent) != std::string::npos ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the second engine was not refused with the first one's pid";
}

TEST_F(EngineTest, EnginesOfNodes1And2StartedAtTheSameInstantNeverIssueTheSameId) {
  // Two engine hosts, each with its own segment and node id, creating and
  // abandoning games as fast as they can in lockstep: the same slots in the
  // same 10 ms ticks, told apart by the node alone.
  std::vector<std::unique_ptr<Engine>> engines;
  for (const std::uint32_t node : {1u, 2u}) {
    const std::string name = name_ + "-node" + std::to_string(node);
    (void)shm::Segment::Remove(name);
    EngineOptions o;
    o.shm_name = name;
    o.capacity = 16;
    o.ring_bytes = 1 << 20;
    o.command_ring_bytes = 1 << 16;
    o.client_slots = 4;
    o.reuse_existing = false;
    o.node_id = node;
    auto e = Engine::Open(o);
    ASSERT_TRUE(e.ok()) << e.status().message();
    EXPECT_EQ((*e)->segment().node_id(), node);
    engines.push_back(std::move(e).value());
  }
  std::set<std::uint64_t> ids[2];
  for (int i = 0; i < 500; ++i) {
    for (int n = 0; n < 2; ++n) {
      Engine& e = *engines[n];
      const ApplyOutcome created = e.Apply(0, Create(static_cast<std::uint64_t>(i)));
      ASSERT_EQ(created.result, CommandResult::kOk);
      EXPECT_EQ(shm::NodeOf(created.game_id), static_cast<std::uint32_t>(n + 1));
      EXPECT_TRUE(ids[n].insert(created.game_id).second) << "node " << n + 1 << " repeated an id";
      Command abandon{};
      abandon.type = CommandType::kAbandon;
      abandon.game_id = created.game_id;
      ASSERT_EQ(e.Apply(0, abandon).result, CommandResult::kOk);  // its slot is free again
      ASSERT_EQ(e.segment().table().Live(), 0u);
    }
  }
  std::vector<std::uint64_t> both;
  std::set_intersection(ids[0].begin(), ids[0].end(), ids[1].begin(), ids[1].end(),
                        std::back_inserter(both));
  EXPECT_TRUE(both.empty()) << both.size() << " ids issued by both engines";
  for (int n = 0; n < 2; ++n) {
    const std::string name = engines[n]->segment().name();
    engines[n].reset();
    (void)shm::Segment::Remove(name);
  }
}

TEST_F(EngineTest, RestoredGameContinuesWithItsNextSeqInItsOwnSlot) {
  // A game played part-way on one engine, its records kept (as PostgreSQL
  // keeps them); the segment then lost.
  Engine& first = Open();
  const std::uint64_t id = SeatedGame(5);
  core::RandomBot bot(2);
  for (int k = 0; k < 30; ++k) {
    core::GameState s{};
    ASSERT_TRUE(first.Snapshot(id, s));
    ASSERT_EQ(first.Apply(0, bot.NextCommand(s)).result, CommandResult::kOk);
  }
  const std::vector<core::Change> records = Drain();
  core::GameState before{};
  ASSERT_TRUE(first.Snapshot(id, before));
  engine_.reset();
  ASSERT_TRUE(shm::Segment::Remove(name_).ok());

  Engine& e = Open();
  // A record altered on purpose: left out, nothing placed.
  std::vector<core::Change> altered = records;
  altered.back().seat = static_cast<std::uint8_t>((altered.back().seat + 1) % 4);
  EXPECT_EQ(e.RestoreGame(id, altered).result, RestoreResult::kReplayDiffers);
  EXPECT_EQ(e.segment().table().Live(), 0u);

  const RestoreOutcome o = e.RestoreGame(id, records);
  ASSERT_EQ(o.result, RestoreResult::kRestored);
  EXPECT_EQ(o.game_seq, records.back().game_seq);
  e.FinishRestore();
  core::GameState after{};
  ASSERT_TRUE(e.Snapshot(id, after));
  std::vector<core::ReplayDifference> differences;
  core::DiffStates(before, after, differences);
  EXPECT_TRUE(differences.empty()) << differences.front().field;
  EXPECT_EQ(e.RestoreGame(id, records).result, RestoreResult::kSlotTaken);

  // The game goes on from its next seq; a new game gets a higher id.
  core::GameState s{};
  ASSERT_TRUE(e.Snapshot(id, s));
  const ApplyOutcome next = e.Apply(0, bot.NextCommand(s));
  ASSERT_EQ(next.result, CommandResult::kOk);
  const std::vector<core::Change> more = Drain();
  ASSERT_FALSE(more.empty());
  EXPECT_EQ(more.front().game_seq, records.back().game_seq + 1);
  const ApplyOutcome created = e.Apply(0, Create(6));
  ASSERT_EQ(created.result, CommandResult::kOk);
  EXPECT_GT(created.game_id, id);
  EXPECT_NE(shm::GameTable::SlotOf(created.game_id), shm::GameTable::SlotOf(id));
}

TEST_F(EngineTest, AnEndedGameIsNotRestored) {
  Engine& first = Open();
  const std::uint64_t id = SeatedGame(8);
  core::RandomBot bot(4);
  for (;;) {
    core::GameState s{};
    if (!first.Snapshot(id, s)) break;  // finished: its slot was freed
    ASSERT_EQ(first.Apply(0, bot.NextCommand(s)).result, CommandResult::kOk);
  }
  const std::vector<core::Change> records = Drain();
  engine_.reset();
  ASSERT_TRUE(shm::Segment::Remove(name_).ok());
  Engine& e = Open();
  EXPECT_EQ(e.RestoreGame(id, records).result, RestoreResult::kEnded);
  EXPECT_EQ(e.RestoreGame(id, {}).result, RestoreResult::kNoRecords);
  EXPECT_EQ(e.segment().table().Live(), 0u);
}

}  // namespace
}  // namespace hokm
