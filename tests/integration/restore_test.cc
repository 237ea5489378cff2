// restore_test.cc: restore after a lost machine, end to end with the real
// binaries and servers: an engine under load and the hokm-sidecar are
// SIGKILLed, the segment is deleted, `hokm-engine --restore-from-pg` brings
// back every game PostgreSQL shows live, a new sidecar starts, and every
// restored game is played to its end through the command channel. Then each
// game must be a legal game (the rules property test's referee,
// tests/core/stream_checker.h) whose records are gapless in PostgreSQL and
// in its Redis stream, and no game may be restored past the seq the engine
// had reached (the bound: the sync lag).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/command_wire.h"
#include "core/engine.h"
#include "core/records/replay.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "sidecar/pg/pg_games.h"
#include "sidecar/public_state.h"
#include "sidecar/redis/stream_entry.h"
#include "tests/core/stream_checker.h"
#include "tests/fault/engine_process.h"
#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::sidecar::integration {
namespace {

namespace fs = std::filesystem;
using proc::WaitExit;
using proc::WaitUntil;

constexpr std::uint32_t kCapacity = 4096;
constexpr int kLiveGames = 120;  // games the load keeps going at once

// The load: an engine in a child process (so it can be SIGKILLed) keeping
// kLiveGames games going with the random bot, a new game for each that
// ends, paced so the sidecar keeps up and every game is mid-way at the kill.
// The load's engine; with reuse_existing, the same segment reopened.
EngineOptions LoadEngineOptions(const std::string& shm_name, bool reuse_existing) {
  EngineOptions o;
  o.shm_name = shm_name;
  o.capacity = kCapacity;
  o.ring_bytes = 16 << 20;
  o.command_ring_bytes = 1 << 16;
  o.client_slots = 4;
  o.reuse_existing = reuse_existing;
  return o;
}

[[noreturn]] void RunLoad(const std::string& shm_name, std::uint64_t player_base) {
  auto opened = Engine::Open(LoadEngineOptions(shm_name, false));
  if (!opened.ok()) ::_exit(3);
  Engine& engine = **opened;
  std::uint64_t next_player = player_base;
  const auto create = [&](std::uint64_t seed) -> std::uint64_t {
    core::Command c{};
    c.type = core::CommandType::kCreateGame;
    c.seed = seed;
    const ApplyOutcome created = engine.Apply(0, c);
    if (created.result != core::CommandResult::kOk) return 0;
    for (int seat = 0; seat < 4; ++seat) {
      core::Command j{};
      j.type = core::CommandType::kJoin;
      j.game_id = created.game_id;
      j.seat = static_cast<std::uint8_t>(seat);
      j.player_id = ++next_player;
      if (engine.Apply(0, j).result != core::CommandResult::kOk) return 0;
    }
    return created.game_id;
  };
  std::vector<std::uint64_t> games;
  std::uint64_t seed = 1;
  for (int i = 0; i < kLiveGames; ++i) games.push_back(create(seed++));
  core::RandomBot bot(7);
  for (std::uint64_t step = 0;; ++step) {
    std::uint64_t& game = games[step % games.size()];
    core::GameState s{};
    if (game == 0 || !engine.Snapshot(game, s) || core::SeatToAct(s) < 0) {
      game = create(seed++);
      continue;
    }
    (void)engine.Apply(0, bot.NextCommand(s));  // kBusy (ring full): tried again next round
    // Pacing, not synchronisation: about 20,000 commands a second.
    timespec pause{0, 50'000};
    nanosleep(&pause, nullptr);
  }
}

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shm_name_ = "hokm-wt-restore-test-" + std::to_string(::getpid());
    spill_dir_ = fs::temp_directory_path() / shm_name_;
    fs::remove_all(spill_dir_);
    (void)shm::Segment::Remove(shm_name_);
    const std::string down = StoresDown();
    ASSERT_TRUE(down.empty()) << down;
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    (void)shm::Segment::Remove(shm_name_);
    fs::remove_all(spill_dir_);
  }

  pid_t Start(std::vector<std::string> args, const std::string& log = "") {
    const pid_t pid = proc::Spawn(std::move(args), log.empty() ? nullptr : log.c_str());
    children_.push_back(pid);
    return pid;
  }
  void Reap(pid_t pid) { std::erase(children_, pid); }

  pid_t StartSidecar(const std::string& spill) {
    return Start({HOKM_SIDECAR_BIN, "--shm-name", shm_name_, "--redis-url", RedisUrlString(),
                  "--pg-url", PgUrlString(), "--spill-dir", spill, "--metrics-port", "0",
                  "--batch-max-ms", "10", "--drain-and-exit", "--drain-timeout-s", "60"});
  }

  std::string shm_name_;
  fs::path spill_dir_;
  std::vector<pid_t> children_;
};

// What one query says about the test's games in PostgreSQL; -1 while the
// sidecar has not created the tables yet (a new database).
std::int64_t PgCount(const std::string& sql, std::uint64_t min_id) {
  pqxx::connection c(PgUrlOrDie().ConnInfo());
  pqxx::nontransaction tx(c);
  try {
    return tx.exec_params1(sql, static_cast<std::int64_t>(min_id))[0].as<std::int64_t>();
  } catch (const pqxx::undefined_table&) {
    return -1;
  }
}

TEST_F(RestoreTest, LostSegmentRestoredFromPostgresEveryGameEndsLegalAndGapless) {
  // 1. Load: the engine (child) and the sidecar, until PostgreSQL holds
  //    many live games mid-way.
  const std::uint64_t player_base = IdRange::ForThisTest().FirstPlayer();
  const pid_t parent = ::getpid();
  const pid_t engine = ::fork();
  ASSERT_GE(engine, 0);
  if (engine == 0) {
    proc::DieWithParent(parent);
    RunLoad(shm_name_, player_base);
  }
  children_.push_back(engine);
  std::optional<shm::Segment> old = proc::AttachWhenServing(shm_name_, engine);
  ASSERT_TRUE(old.has_value()) << "the load's engine did not start";
  // Every id of this segment is at or above its table's first creation
  // number: the restore takes only this test's games.
  std::uint64_t first_id = 0;
  ASSERT_TRUE(WaitUntil([&] { return (first_id = old->table().GameIdAt(0)) != 0; },
                        std::chrono::seconds(10)));
  const std::uint64_t min_id = first_id & ~shm::kSlotIndexMask;
  old.reset();
  const pid_t sidecar = StartSidecar((spill_dir_ / "lost").string());
  ASSERT_TRUE(WaitUntil(
      [&] {
        return PgCount(
                   "SELECT count(*) FROM game_sessions WHERE game_id >= $1 AND "
                   "status = 'playing' AND hands >= 1",
                   min_id) >= kLiveGames / 2;
      },
      std::chrono::seconds(20)))
      << "PostgreSQL never held " << kLiveGames / 2 << " games past their first hand";

  // 2. The machine is lost: both processes die at once, mid-load.
  ASSERT_EQ(::kill(engine, SIGKILL), 0);
  ASSERT_EQ(::kill(sidecar, SIGKILL), 0);
  EXPECT_EQ(WaitExit(engine, std::chrono::seconds(10)), -SIGKILL);
  EXPECT_EQ(WaitExit(sidecar, std::chrono::seconds(10)), -SIGKILL);
  Reap(engine);
  Reap(sidecar);
  // The seq each game had reached in the engine (what a restart would
  // have continued): a restored game may be behind it, never ahead.
  std::map<std::uint64_t, std::uint32_t> engine_seq;
  {
    // Reopened as a restarted engine would: a slot the kill tore is repaired.
    auto reopened = Engine::Open(LoadEngineOptions(shm_name_, true));
    ASSERT_TRUE(reopened.ok()) << reopened.status().message();
    const shm::GameTable& table = (*reopened)->segment().table();
    for (std::uint32_t slot = 0; slot < table.capacity(); ++slot) {
      core::GameState s{};
      std::uint64_t id = 0;
      ASSERT_TRUE(table.Read(slot, s, &id));
      if (id != 0 && s.phase != core::Phase::kEmpty) engine_seq[id] = s.seq;
    }
  }
  ASSERT_TRUE(shm::Segment::Remove(shm_name_).ok());
  const std::int64_t live_in_pg = PgCount(
      "SELECT count(*) FROM game_sessions WHERE game_id >= $1 AND status IN ('waiting', "
      "'playing')",
      min_id);
  ASSERT_GT(live_in_pg, 0);

  // 3. Restore into a new segment of the same name, then a new sidecar
  //    (a new machine: a new spill directory).
  const std::string restore_log = (spill_dir_ / "restore.log").string();
  fs::create_directories(spill_dir_);
  const pid_t restored_engine =
      Start({HOKM_ENGINE_BIN, "--shm-name", shm_name_, "--capacity", std::to_string(kCapacity),
             "--ring-mb", "16", "--metrics-port", "0", "--restore-from-pg", "--pg-url",
             PgUrlString(), "--redis-url", RedisUrlString(), "--restore-min-game-id",
             std::to_string(min_id), "--restore-batch", "50"},
            restore_log);
  // The engine claims the segment before it restores, and serves after.
  std::stringstream log;
  const bool serving = WaitUntil(
      [&] {
        std::stringstream text;  // a fresh one: << of an empty file sets failbit
        text << std::ifstream(restore_log).rdbuf();
        log.str(text.str());
        return log.str().find("hokm-engine: serving") != std::string::npos;
      },
      std::chrono::seconds(30));
  ASSERT_TRUE(serving) << "hokm-engine --restore-from-pg did not serve:\n" << log.str();
  std::optional<shm::Segment> segment = proc::AttachWhenServing(shm_name_, restored_engine);
  ASSERT_TRUE(segment.has_value());
  const std::string expect_line =
      "restored " + std::to_string(live_in_pg) + " of " + std::to_string(live_in_pg) + " live game";
  EXPECT_NE(log.str().find(expect_line), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("left out 0"), std::string::npos) << log.str();

  // Every live game is back, in its own slot, at PostgreSQL's last seq,
  // never past the engine's.
  const shm::GameTable& table = segment->table();
  ASSERT_EQ(table.Live(), static_cast<std::uint64_t>(live_in_pg));
  std::map<std::uint64_t, std::uint32_t> restored_seq;
  for (std::uint32_t slot = 0; slot < table.capacity(); ++slot) {
    core::GameState s{};
    std::uint64_t id = 0;
    ASSERT_TRUE(table.Read(slot, s, &id));
    if (id == 0) continue;
    EXPECT_EQ(shm::GameTable::SlotOf(id), slot);
    restored_seq[id] = s.seq;
  }
  ASSERT_EQ(restored_seq.size(), static_cast<std::size_t>(live_in_pg));
  std::vector<std::uint64_t> ids;
  int behind = 0, ended = 0;
  for (const auto& [id, seq] : restored_seq) {
    ids.push_back(id);
    if (engine_seq.count(id) == 0) {
      // The engine had ended it; its end had not reached PostgreSQL.
      ++ended;
      continue;
    }
    EXPECT_LE(seq, engine_seq[id]) << "game " << id << " restored past the engine's seq";
    behind += seq < engine_seq[id];
  }
  std::printf("restore test: %s", log.str().c_str());
  std::printf(
      "restore test: %zu game(s) restored; %d behind the engine's seq, %d ended in the "
      "engine (records lost within the sync lag)\n",
      ids.size(), behind, ended);
  {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::read_transaction tx(c);
    for (const StoredGame& g : ReadStoredGames(tx, ids)) {
      ASSERT_FALSE(g.records.empty());
      EXPECT_EQ(g.records.back().game_seq, restored_seq[g.game_id]) << "game " << g.game_id;
    }
  }
  const pid_t sidecar2 = StartSidecar((spill_dir_ / "new").string());

  // 4. Every restored game to its end, through the command channel.
  std::optional<shm::CommandClient> client;
  {
    auto registered = shm::CommandClient::Register(*segment);
    ASSERT_TRUE(registered.ok()) << registered.status().message();
    client.emplace(std::move(registered).value());
  }
  core::RandomBot bot(11);
  std::set<std::uint64_t> open(ids.begin(), ids.end()), in_flight;
  std::map<std::uint64_t, std::uint64_t> request_game;
  std::uint64_t next_request = 1;
  std::uint64_t first_new_id = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!open.empty() && std::chrono::steady_clock::now() < deadline) {
    for (auto it = open.begin(); it != open.end();) {
      const std::uint64_t id = *it;
      if (in_flight.count(id)) {
        ++it;
        continue;
      }
      core::GameState s{};
      const shm::ReadResult read = table.ReadGame(id, s);
      if (read == shm::ReadResult::kNoSuchGame) {  // ended: its slot was freed
        it = open.erase(it);
        continue;
      }
      if (read != shm::ReadResult::kOk || client->in_flight() >= client->MaxInFlight()) {
        ++it;
        continue;
      }
      ASSERT_GE(core::SeatToAct(s), 0) << "game " << id << " waits for no one";
      if (core::SendCommand(*client, next_request, bot.NextCommand(s)) == shm::WriteResult::kOk) {
        request_game[next_request++] = id;
        in_flight.insert(id);
      }
      ++it;
    }
    shm::CommandResponse r{};
    while (client->TryReceive(r)) {
      if (r.request_id == 0) continue;
      if (r.request_id == std::numeric_limits<std::uint64_t>::max()) {
        EXPECT_EQ(core::ResultOf(r), core::CommandResult::kOk);
        first_new_id = r.game_id;
        continue;
      }
      const core::CommandResult result = core::ResultOf(r);
      EXPECT_TRUE(result == core::CommandResult::kOk || result == core::CommandResult::kBusy)
          << "game " << r.game_id << ": " << core::CommandResultName(result);
      in_flight.erase(request_game[r.request_id]);
    }
  }
  ASSERT_TRUE(open.empty()) << open.size() << " restored game(s) did not end in time";
  // A game created after the restore gets an id above every restored one.
  core::Command create{};
  create.type = core::CommandType::kCreateGame;
  create.seed = 99;
  ASSERT_EQ(core::SendCommand(*client, std::numeric_limits<std::uint64_t>::max(), create),
            shm::WriteResult::kOk);
  ASSERT_TRUE(WaitUntil(
      [&] {
        shm::CommandResponse r{};
        if (client->TryReceive(r)) first_new_id = r.game_id;
        return first_new_id != 0;
      },
      std::chrono::seconds(5)));
  EXPECT_GT(first_new_id, ids.back());
  EXPECT_EQ(restored_seq.count(first_new_id), 0u);
  client.reset();  // the client slot goes before the engine

  ASSERT_EQ(::kill(restored_engine, SIGTERM), 0);
  EXPECT_EQ(WaitExit(restored_engine, std::chrono::seconds(10)), 0);
  Reap(restored_engine);
  EXPECT_EQ(WaitExit(sidecar2, std::chrono::seconds(60)), 0) << "the sidecar did not drain";
  Reap(sidecar2);
  // The game created after the restore is live in the segment: a second
  // restore refuses it, and says why.
  const std::string refused_log = (spill_dir_ / "refused.log").string();
  const pid_t refused = Start({HOKM_ENGINE_BIN, "--shm-name", shm_name_, "--metrics-port", "0",
                               "--capacity", std::to_string(kCapacity), "--ring-mb", "16",
                               "--restore-from-pg", "--pg-url", PgUrlString()},
                              refused_log);
  EXPECT_EQ(WaitExit(refused, std::chrono::seconds(20)), 1);
  Reap(refused);
  std::stringstream refused_text;
  refused_text << std::ifstream(refused_log).rdbuf();
  EXPECT_NE(refused_text.str().find("already holds 1 live game(s)"), std::string::npos)
      << refused_text.str();

  // 5. Each restored game in PostgreSQL: every seq once, from 1 to the end;
  //    the rules reproduce them; the referee passes them; it finished.
  pqxx::connection c(PgUrlOrDie().ConnInfo());
  pqxx::read_transaction tx(c);
  std::map<std::uint64_t, std::uint32_t> last_seq;
  for (const StoredGame& g : ReadStoredGames(tx, ids)) {
    SCOPED_TRACE("game " + std::to_string(g.game_id));
    EXPECT_EQ(g.status, "finished");
    EXPECT_TRUE(g.decode_error.empty()) << g.decode_error;
    ASSERT_FALSE(g.records.empty());
    for (std::size_t i = 0; i < g.records.size(); ++i) {
      ASSERT_EQ(g.records[i].game_seq, i + 1) << "PostgreSQL's seqs have a gap or a duplicate";
    }
    const core::ReplayResult replay = core::ReplayRecords(g.records);
    EXPECT_TRUE(replay.identical())
        << (replay.differences.empty() ? std::string() : replay.differences.front().field);
    EXPECT_EQ(replay.state.phase, core::Phase::kFinished);
    core::StreamChecker referee(g.records.front().config);
    referee.set_game_id(g.game_id);
    for (const core::Change& record : g.records) {
      if (!referee.Check(record)) break;
    }
    EXPECT_TRUE(referee.finished());
    last_seq[g.game_id] = g.records.back().game_seq;
  }

  // 6. Each restored game's Redis stream: from its first entry (or the
  //    restore entry at the restored seq) on, every seq once, in order, to
  //    the game's last; the last state finished.
  RedisProbe redis;
  ASSERT_TRUE(redis.Connect(RedisUrlOrDie()));
  for (const std::uint64_t id : ids) {
    SCOPED_TRACE("game " + std::to_string(id));
    const RedisProbe::Reply r = redis.Command({"XRANGE", GameKey(id), "-", "+"});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) << "no stream";
    std::uint64_t expect = 0;  // the next seq the stream owes; 0: not known yet
    std::optional<PublicState> state;
    for (std::size_t e = 0; e < r->elements; ++e) {
      const std::optional<StreamEntry> entry = ParseStreamEntry(r->element[e]);
      ASSERT_TRUE(entry.has_value());
      if (entry->Field("restored") == "1") {
        // Events before it are in PostgreSQL only (docs/DESIGN.md §5,
        // contract 6); from it on, the stream owes every seq.
        EXPECT_TRUE(expect == 0 || entry->seq >= expect - 1);
        expect = entry->seq + 1;
      } else {
        const nlohmann::json events = nlohmann::json::parse(entry->Field("events"));
        ASSERT_TRUE(events.is_array() && !events.empty());
        for (const nlohmann::json& event : events) {
          const auto seq = event.at("seq").get<std::uint64_t>();
          if (expect == 0) {
            EXPECT_EQ(seq, 1u) << "the stream starts mid-game without a restore entry";
            expect = seq;
          }
          ASSERT_EQ(seq, expect) << "Redis's events have a gap or a duplicate";
          ++expect;
        }
        EXPECT_EQ(entry->seq, expect - 1);
      }
      state = PublicStateFromJson(entry->Field("state"));
    }
    EXPECT_EQ(expect - 1, last_seq[id]);
    ASSERT_TRUE(state.has_value());
    EXPECT_EQ(state->phase, PublicState::Phase::kFinished);
    EXPECT_EQ(state->seq, last_seq[id]);
  }
}

}  // namespace
}  // namespace hokm::sidecar::integration
