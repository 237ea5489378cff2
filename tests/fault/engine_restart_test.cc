// engine_restart_test.cc: hokm-engine SIGKILLed under load and restarted:
// it re-attaches to the segment, every game continues to its end, and every
// record published before the kill is read, each game's stream gapless.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/command_wire.h"
#include "core/records/change_batch.h"
#include "core/records/record_codec.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "shm/command_channel.h"
#include "shm/segment.h"
#include "tests/fault/engine_process.h"
#include "tests/integration/process_util.h"

namespace hokm {
namespace {

using proc::AttachWhenServing;

using Clock = std::chrono::steady_clock;
using core::CommandResult;

pid_t StartEngine(const std::string& name) {
  return proc::Spawn({HOKM_ENGINE_BIN, "--shm-name", name, "--capacity", "2000", "--ring-mb", "16",
                      "--metrics-port", "0"});
}

// Every change record read from the ring, per game: seq -> bytes.
struct Collected {
  std::map<std::uint64_t, std::map<std::uint32_t, std::string>> games;
  std::uint64_t conflicts = 0;  // the same (game, seq) with other bytes
  std::uint64_t duplicates = 0;

  void Read(shm::RingReader& reader) {
    reader.Peek(
        [&](const shm::RingRecord& r) {
          ASSERT_EQ(r.type, core::kChangeBatchType);
          ASSERT_TRUE(core::ForEachFrame(r.payload, [&](const std::byte* data, std::size_t size) {
            core::Change c{};
            ASSERT_EQ(core::DecodeRecord(data, size, &c), core::DecodeError::kOk);
            // ts_ns differs between a record and its replay; compare the rest.
            std::string key(reinterpret_cast<const char*>(&c), sizeof c);
            auto [it, inserted] = games[c.game_id].emplace(c.game_seq, key);
            if (!inserted) {
              ++duplicates;
              if (it->second != key) ++conflicts;
            }
          }));
        },
        1 << 16);
    reader.Commit();
  }
};

TEST(EngineRestartTest, KilledEngineRestartsAndEveryGameContinues) {
  const std::string name = "hokm-fault-" + std::to_string(::getpid());
  (void)shm::Segment::Remove(name);
  pid_t engine = StartEngine(name);
  auto segment = AttachWhenServing(name, engine);
  ASSERT_TRUE(segment) << "hokm-engine (" << HOKM_ENGINE_BIN << ") did not start serving";

  auto client = shm::CommandClient::Register(*segment);
  ASSERT_TRUE(client.ok()) << client.status().message();
  shm::RingReader reader(segment->change_ring(0));
  Collected collected;

  // Sends one command and waits for its answer; nullopt if none came.
  std::uint64_t next_request = 1;
  auto call = [&](const core::Command& cmd) -> std::optional<shm::CommandResponse> {
    const std::uint64_t id = next_request++;
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    while (core::SendCommand(*client, id, cmd) != shm::WriteResult::kOk) {
      if (Clock::now() > deadline) return std::nullopt;
      collected.Read(reader);
    }
    shm::CommandResponse r{};
    while (Clock::now() < deadline) {
      if (client->TryReceive(r) && r.request_id == id) return r;
      collected.Read(reader);
    }
    client->AbandonInFlight();
    return std::nullopt;
  };

  constexpr int kGames = 16;
  std::vector<std::uint64_t> games;
  for (int g = 0; g < kGames; ++g) {
    core::Command create{};
    create.type = core::CommandType::kCreateGame;
    create.seed = 1000 + static_cast<std::uint64_t>(g);
    auto r = call(create);
    ASSERT_TRUE(r && core::ResultOf(*r) == CommandResult::kOk);
    games.push_back(r->game_id);
    for (int seat = 0; seat < 4; ++seat) {
      core::Command join{};
      join.type = core::CommandType::kJoin;
      join.game_id = r->game_id;
      join.seat = static_cast<std::uint8_t>(seat);
      join.player_id = 1 + static_cast<std::uint64_t>(g * 4 + seat);
      auto j = call(join);
      ASSERT_TRUE(j && core::ResultOf(*j) == CommandResult::kOk);
    }
  }

  // Round-robin moves over all games (GreedyBot is a function of the state,
  // so a move retried after the kill is the same move). Kill the engine
  // after 1,000 answered moves, restart it, and play on.
  core::GreedyBot bot;
  int answered = 0, unanswered = 0;
  bool killed = false;
  std::vector<bool> finished(kGames, false);
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  for (int live = kGames; live > 0 && Clock::now() < deadline;) {
    live = 0;
    for (int g = 0; g < kGames; ++g) {
      if (finished[g]) continue;
      core::GameState s{};
      if (segment->table().ReadGame(games[g], s) != shm::ReadResult::kOk) {
        finished[g] = true;  // freed: the game ended
        continue;
      }
      ++live;
      auto r = call(bot.NextCommand(s));
      if (r) {
        ++answered;
      } else {
        ++unanswered;
      }
      if (!killed && answered == 1000) {
        ASSERT_EQ(::kill(engine, SIGKILL), 0);
        int status = 0;
        ASSERT_EQ(::waitpid(engine, &status, 0), engine);
        killed = true;
        engine = StartEngine(name);
        auto again = AttachWhenServing(name, engine);
        ASSERT_TRUE(again) << "the restarted engine did not re-attach";
      }
    }
  }
  ASSERT_TRUE(killed);
  // Drain what is left on the ring.
  for (int i = 0; i < 100; ++i) collected.Read(reader);

  ::kill(engine, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(engine, &status, 0), engine);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "SIGTERM must end hokm-engine with 0";
  (void)shm::Segment::Remove(name);

  EXPECT_EQ(collected.conflicts, 0u) << "a (game, seq) was published twice with different contents";
  for (int g = 0; g < kGames; ++g) {
    EXPECT_TRUE(finished[g]) << "game " << games[g] << " did not finish";
    const auto& seqs = collected.games[games[g]];
    ASSERT_FALSE(seqs.empty());
    EXPECT_EQ(seqs.begin()->first, 1u);
    EXPECT_EQ(seqs.rbegin()->first, seqs.size())
        << "game " << games[g] << " has a gap in its records";
    core::Change last{};
    std::memcpy(&last, seqs.rbegin()->second.data(), sizeof last);
    EXPECT_EQ(last.type, core::RecordType::kGameFinished);
  }
  RecordProperty("answered", answered);
  RecordProperty("unanswered", unanswered);
}

}  // namespace
}  // namespace hokm
