// pipeline_test.cc: engine -> change ring -> hokm-sidecar (the real binary)
// -> the real Redis and PostgreSQL, including the sidecar killed mid-batch,
// each store stopped under load and restarted, and a malformed record.
//
// Every test checks exactly-once in PostgreSQL (every (game, seq) the engine
// published, once) and each game's final state in Redis.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "core/records/change_batch.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "tests/integration/own_redis.h"
#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::sidecar::integration {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

using proc::WaitExit;
using proc::WaitUntil;

class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    shm_name_ = "hokm-pipe-" + std::to_string(::getpid()) + "-" + test;
    spill_dir_ = fs::temp_directory_path() / shm_name_;
    fs::remove_all(spill_dir_);
    (void)shm::Segment::Remove(shm_name_);
    redis_url_ = RedisUrlString();
    pg_url_ = PgUrlString();
    const std::string down = StoresDown();
    ASSERT_TRUE(down.empty()) << down;
    player_base_ = IdRange::ForThisTest().counter << 16;
  }
  void TearDown() override {
    engine_.reset();
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    (void)shm::Segment::Remove(shm_name_);
    fs::remove_all(spill_dir_);
  }

  Engine& OpenEngine() {
    EngineOptions o;
    o.shm_name = shm_name_;
    o.capacity = 4096;
    o.ring_bytes = 64 << 20;
    o.command_ring_bytes = 1 << 16;
    o.client_slots = 4;
    o.reuse_existing = false;
    auto e = Engine::Open(o);
    EXPECT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
    return *engine_;
  }

  pid_t StartSidecar(const std::string& redis_url, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {HOKM_SIDECAR_BIN,
                                     "--shm-name",
                                     shm_name_,
                                     "--redis-url",
                                     redis_url,
                                     "--pg-url",
                                     pg_url_,
                                     "--spill-dir",
                                     spill_dir_.string(),
                                     "--metrics-port",
                                     "0",
                                     "--batch-max-ms",
                                     "10",
                                     "--drain-and-exit",
                                     "--drain-timeout-s",
                                     "120"};
    args.insert(args.end(), extra.begin(), extra.end());
    const pid_t pid = proc::Spawn(std::move(args));
    children_.push_back(pid);
    return pid;
  }
  void Reap(pid_t pid) { std::erase(children_, pid); }

  // Plays `total` complete games, 64 at a time, with the random bot; calls
  // on_progress(moves) every 1,000 moves. Returns each game's last seq.
  std::map<std::uint64_t, std::uint32_t> PlayGames(
      int total, const std::function<void(int)>& on_progress = {}) {
    std::map<std::uint64_t, std::uint32_t> last_seq;
    core::RandomBot bot(7);
    std::vector<std::uint64_t> live;
    int created = 0, moves = 0;
    auto create = [&] {
      core::Command c{};
      c.type = core::CommandType::kCreateGame;
      c.seed = 100 + static_cast<std::uint64_t>(created);
      const ApplyOutcome o = engine_->Apply(0, c);
      EXPECT_EQ(o.result, core::CommandResult::kOk);
      for (int seat = 0; seat < 4; ++seat) {
        core::Command j{};
        j.type = core::CommandType::kJoin;
        j.game_id = o.game_id;
        j.seat = static_cast<std::uint8_t>(seat);
        j.player_id = player_base_ + 1 + static_cast<std::uint64_t>((created * 4 + seat) % 4000);
        EXPECT_EQ(engine_->Apply(0, j).result, core::CommandResult::kOk);
      }
      live.push_back(o.game_id);
      ++created;
    };
    while (static_cast<int>(live.size()) < 64 && created < total) create();
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (!live.empty() && Clock::now() < deadline) {
      for (std::size_t i = 0; i < live.size();) {
        core::GameState s{};
        EXPECT_TRUE(engine_->Snapshot(live[i], s));
        const ApplyOutcome o = engine_->Apply(0, bot.NextCommand(s));
        if (o.result == core::CommandResult::kBusy) continue;  // the sidecar drains the ring
        EXPECT_EQ(o.result, core::CommandResult::kOk);
        if (++moves % 1000 == 0 && on_progress) on_progress(moves);
        if (o.phase == core::Phase::kFinished) {
          last_seq[live[i]] = o.game_seq;
          live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
          if (created < total) create();
        } else {
          ++i;
        }
      }
    }
    EXPECT_TRUE(live.empty()) << "games still running at the deadline";
    return last_seq;
  }

  static std::string IdList(const std::map<std::uint64_t, std::uint32_t>& games) {
    std::string ids;
    for (const auto& [g, seq] : games) ids += (ids.empty() ? "" : ",") + std::to_string(g);
    return ids;
  }

  long long PgMoveCount(const std::map<std::uint64_t, std::uint32_t>& games) {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT count(*) FROM game_moves WHERE game_id IN (" + IdList(games) + ")")[0]
        .as<long long>();
  }

  // Every (game, seq) from 1 to the game's last, once; sessions, four
  // participants, and the analytics views answer.
  void ExpectExactlyOnceInPostgres(const std::map<std::uint64_t, std::uint32_t>& games) {
    long long expected = 0;
    for (const auto& [g, seq] : games) expected += seq;
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::nontransaction tx(c);
    const std::string ids = IdList(games);
    const auto moves = tx.exec1(
        "SELECT count(*), count(DISTINCT (game_id, seq)) FROM game_moves WHERE game_id IN (" + ids +
        ")");
    EXPECT_EQ(moves[0].as<long long>(), expected) << "game_moves rows";
    EXPECT_EQ(moves[1].as<long long>(), expected) << "distinct (game_id, seq)";
    const auto per_game =
        tx.exec("SELECT game_id, max(seq), count(*) FROM game_moves WHERE game_id IN (" + ids +
                ") GROUP BY game_id");
    EXPECT_EQ(per_game.size(), games.size());
    for (const auto& row : per_game) {
      const auto it = games.find(row[0].as<std::uint64_t>());
      ASSERT_NE(it, games.end());
      EXPECT_EQ(row[1].as<std::uint32_t>(), it->second) << "game " << it->first;
      EXPECT_EQ(row[2].as<std::uint32_t>(), it->second) << "game " << it->first;
    }
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM game_sessions WHERE game_id IN (" + ids + ")")[0]
                  .as<std::size_t>(),
              games.size());
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM game_participants WHERE game_id IN (" + ids + ")")[0]
                  .as<std::size_t>(),
              4 * games.size());
    for (const char* view :
         {"player_performance", "game_statistics_summary", "active_sessions", "leaderboard"}) {
      EXPECT_NO_THROW(tx.exec(std::string("SELECT * FROM analytics.") + view + " LIMIT 5")) << view;
    }
  }

  // Each game's state holds its last seq and phase finished; its stream
  // every event once, in order.
  void ExpectFinalStateInRedis(const std::map<std::uint64_t, std::uint32_t>& games,
                               const std::string& url) {
    RedisProbe probe;
    auto parsed = ParseRedisUrl(url);
    ASSERT_TRUE(parsed.ok());
    ASSERT_TRUE(probe.Connect(*parsed));
    int wrong = 0;
    for (const auto& [g, seq] : games) {
      auto h = probe.GameState(GameKey(g));
      const std::vector<std::uint64_t> seqs = probe.EventSeqs(GameKey(g));
      bool gapless = seqs.size() == seq;
      for (std::size_t k = 0; gapless && k < seqs.size(); ++k) gapless = seqs[k] == k + 1;
      const bool ok = h["seq"] == std::to_string(seq) && h["phase"] == "finished" && gapless;
      if (!ok && ++wrong <= 3) {
        ADD_FAILURE() << "game " << g << ": redis seq " << h["seq"] << " phase " << h["phase"]
                      << ", engine seq " << seq;
      }
    }
    EXPECT_EQ(wrong, 0);
  }

  std::string shm_name_;
  fs::path spill_dir_;
  std::string redis_url_, pg_url_;
  std::uint64_t player_base_ = 0;
  std::unique_ptr<Engine> engine_;
  std::vector<pid_t> children_;
};

TEST_F(PipelineTest, ThousandGamesReachBothStoresExactlyOnce) {
  OpenEngine();
  const pid_t sidecar = StartSidecar(redis_url_);
  const auto games = PlayGames(1000);
  ASSERT_EQ(games.size(), 1000u);
  engine_.reset();  // no engine attached: the sidecar drains and exits
  EXPECT_EQ(WaitExit(sidecar, std::chrono::seconds(180)), 0);
  Reap(sidecar);
  ExpectExactlyOnceInPostgres(games);
  ExpectFinalStateInRedis(games, redis_url_);
}

TEST_F(PipelineTest, SidecarKilledMidBatchRestartsWithoutLossOrDuplicates) {
  OpenEngine();
  pid_t sidecar = StartSidecar(redis_url_, {"--batch-max-records", "500"});
  bool killed = false;
  const auto games = PlayGames(300, [&](int moves) {
    if (killed || moves < 20000) return;
    ASSERT_EQ(::kill(sidecar, SIGKILL), 0);
    EXPECT_EQ(WaitExit(sidecar, std::chrono::seconds(10)), -SIGKILL);
    Reap(sidecar);
    killed = true;
    sidecar = StartSidecar(redis_url_, {"--batch-max-records", "500"});
  });
  ASSERT_TRUE(killed);
  engine_.reset();
  EXPECT_EQ(WaitExit(sidecar, std::chrono::seconds(180)), 0);
  Reap(sidecar);
  ExpectExactlyOnceInPostgres(games);
  ExpectFinalStateInRedis(games, redis_url_);
}

TEST_F(PipelineTest, MalformedRecordIsDeadLetteredAndEverythingElseDelivered) {
  Engine& e = OpenEngine();
  // A change batch whose one frame is not a ChangeRecord.
  const std::string poison = "this is not a flatbuffer " + shm_name_;
  alignas(8) std::byte frame[256] = {};
  const std::size_t size =
      core::AppendFrame(frame, 0, poison.data(), static_cast<std::uint32_t>(poison.size()));
  const pid_t sidecar = StartSidecar(redis_url_);
  auto first = PlayGames(20);
  ASSERT_EQ(e.segment().change_ring(0).TryWrite(core::kChangeBatchType, frame, size),
            shm::WriteResult::kOk);
  // And a change batch with no frame at all (an empty payload).
  ASSERT_EQ(e.segment().change_ring(0).TryWrite(core::kChangeBatchType, nullptr, 0),
            shm::WriteResult::kOk);
  auto games = PlayGames(20);
  games.insert(first.begin(), first.end());
  engine_.reset();
  EXPECT_EQ(WaitExit(sidecar, std::chrono::seconds(120)), 0);
  Reap(sidecar);
  ExpectExactlyOnceInPostgres(games);
  ExpectFinalStateInRedis(games, redis_url_);
  pqxx::connection c(PgUrlOrDie().ConnInfo());
  pqxx::nontransaction tx(c);
  const auto n =
      tx.exec_params1("SELECT count(*) FROM dead_letters WHERE position($1::bytea IN payload) > 0",
                      pqxx::binarystring(poison))[0]
          .as<int>();
  EXPECT_EQ(n, 1) << "the malformed record must be in dead_letters exactly once";
  EXPECT_GE(tx.exec1("SELECT count(*) FROM dead_letters WHERE length(payload) = 0")[0].as<int>(), 1)
      << "the empty change batch must be in dead_letters";
}

// A sidecar restarted after the engine stopped, with the spill queue its
// last run left while PostgreSQL was unreachable: its drain exits 0 only
// once PostgreSQL has every spilled record (issue 12, item 2).
TEST_F(PipelineTest, DrainDeliversTheSpillQueueOfAnEarlierRunBeforeExiting0) {
  Engine& e = OpenEngine();
  pid_t sidecar =
      proc::Spawn({HOKM_SIDECAR_BIN, "--shm-name", shm_name_, "--redis-url", redis_url_, "--pg-url",
                   "postgresql://hokm:unused@127.0.0.1:1/hokm", "--spill-dir", spill_dir_.string(),
                   "--metrics-port", "0", "--batch-max-ms", "10"});
  children_.push_back(sidecar);
  const auto games = PlayGames(30);
  // Every record acknowledged by both workers (PostgreSQL's share by its
  // spill queue) once the ring's committed head reaches its tail.
  const shm::Ring ring = e.segment().change_ring(0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ring.HeadPosition() < ring.TailPosition() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(ring.HeadPosition(), ring.TailPosition())
      << "the first sidecar never spilled everything";
  ASSERT_EQ(::kill(sidecar, SIGKILL), 0);
  EXPECT_EQ(WaitExit(sidecar, std::chrono::seconds(10)), -SIGKILL);
  Reap(sidecar);
  engine_.reset();

  sidecar = StartSidecar(redis_url_, {"--batch-max-records", "500"});
  EXPECT_EQ(WaitExit(sidecar, std::chrono::seconds(120)), 0);
  Reap(sidecar);
  ExpectExactlyOnceInPostgres(games);
}

// A ring header no engine writes (a length shorter than a header): the
// sidecar delivers everything before it, says where the ring is corrupt,
// and its drain exits 4 instead of waiting for records that cannot come.
TEST_F(PipelineTest, CorruptRingIsReportedAndEverythingBeforeItDelivered) {
  Engine& e = OpenEngine();
  const pid_t sidecar = StartSidecar(redis_url_);
  const auto games = PlayGames(20);
  // Where the next record would go; the engine gets no more commands.
  const shm::Ring ring = e.segment().change_ring(0);
  ring.HeaderAt(ring.TailPosition() & (ring.Capacity() - 1))
      .store(shm::ring_detail::MakeHeader(3, 1));
  engine_.reset();
  EXPECT_EQ(WaitExit(sidecar, std::chrono::seconds(120)), 4);
  Reap(sidecar);
  ExpectExactlyOnceInPostgres(games);
  ExpectFinalStateInRedis(games, redis_url_);
}

TEST_F(PipelineTest, RedisStoppedUnderLoadThenRestartedConverges) {
  OwnRedis redis(spill_dir_.string() + "-redis");
  ASSERT_TRUE(redis.Start()) << "redis-server did not start";
  OpenEngine();
  const pid_t sidecar = StartSidecar(redis.Url());
  // PostgreSQL keeps committing while Redis is down: its checkpoint moves.
  auto checkpoint = [&] {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::nontransaction tx(c);
    const auto r = tx.exec_params("SELECT position FROM sidecar_checkpoint WHERE name = $1",
                                  shm_name_ + ":shard-0");
    return r.empty() ? -1LL : r[0][0].as<long long>();
  };
  long long at_stop = -1;
  bool restarted = false, pg_moved = false;
  const auto games = PlayGames(300, [&](int moves) {
    if (moves == 15000) {
      redis.Stop();
      at_stop = checkpoint();
    }
    if (moves == 45000 && !restarted) {
      pg_moved = WaitUntil([&] { return checkpoint() > at_stop; }, std::chrono::seconds(10));
      restarted = true;
      ASSERT_TRUE(redis.Start());
    }
  });
  ASSERT_TRUE(restarted) << "the load ended before the outage was over";
  engine_.reset();
  EXPECT_EQ(WaitExit(sidecar, std::chrono::seconds(180)), 0);
  Reap(sidecar);
  ExpectExactlyOnceInPostgres(games);
  ExpectFinalStateInRedis(games, redis.Url());
  EXPECT_TRUE(pg_moved) << "PostgreSQL stopped committing while Redis was down";
}

// Redis restarted empty under load, and later flushed (issue 12): the
// sidecar notices each loss (its marker key is gone) and rewrites every
// live game from the engine's game table, and the games that ended and the
// leaderboard from PostgreSQL. So every game's Redis state equals the
// engine's field by field, live games' players' hashes name them and
// the active set holds them, every rated player's score is PostgreSQL's
// rating, and PostgreSQL still has every record exactly once.
TEST_F(PipelineTest, RedisRestartedEmptyUnderLoadIsRebuiltFromTheEngine) {
  OwnRedis redis(spill_dir_.string() + "-redis");
  ASSERT_TRUE(redis.Start()) << "redis-server did not start";
  OpenEngine();
  const pid_t sidecar = StartSidecar(redis.Url());
  auto own_url = ParseRedisUrl(redis.Url());
  ASSERT_TRUE(own_url.ok());
  RedisProbe probe;
  ASSERT_TRUE(probe.Connect(*own_url));
  ASSERT_TRUE(WaitUntil(
      [&] {
        return probe.Integer({"EXISTS", MarkerKey()}) == 1;
      },
      std::chrono::seconds(30)))
      << "the sidecar never set its marker";

  // 300 games, played round-robin: none ends before the check.
  constexpr int kGames = 300;
  std::vector<std::uint64_t> ids;
  for (int n = 0; n < kGames; ++n) {
    core::Command c{};
    c.type = core::CommandType::kCreateGame;
    c.seed = 500 + static_cast<std::uint64_t>(n);
    c.config = core::RulesConfig{};
    if (n % 3 == 0) c.config.target_points = 1;  // ends before the FLUSHALL
    std::snprintf(c.room, sizeof c.room, "e%d", n);
    const ApplyOutcome o = engine_->Apply(0, c);
    ASSERT_EQ(o.result, core::CommandResult::kOk);
    for (int seat = 0; seat < 4; ++seat) {
      core::Command j{};
      j.type = core::CommandType::kJoin;
      j.game_id = o.game_id;
      j.seat = static_cast<std::uint8_t>(seat);
      j.player_id = player_base_ + 1 + static_cast<std::uint64_t>(n * 4 + seat);
      ASSERT_EQ(engine_->Apply(0, j).result, core::CommandResult::kOk);
    }
    ids.push_back(o.game_id);
  }
  core::RandomBot bot(11);
  int moves = 0;
  bool restarted = false, flushed = false;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  // The engine frees a game's slot when it ends: its final state is the
  // rules applied to the last snapshot.
  std::map<std::uint64_t, core::GameState> ended_states;
  while (moves < 24'000 && Clock::now() < deadline) {
    for (std::uint64_t g : ids) {
      if (ended_states.contains(g)) continue;
      core::GameState s{};
      ASSERT_TRUE(engine_->Snapshot(g, s));
      const core::Command command = bot.NextCommand(s);
      const ApplyOutcome o = engine_->Apply(0, command);
      if (o.result == core::CommandResult::kBusy) continue;  // the sidecar drains the ring
      ASSERT_EQ(o.result, core::CommandResult::kOk);
      if (o.phase == core::Phase::kFinished) {
        core::ChangeBuffer out;
        ASSERT_EQ(core::Apply(s, command, out), core::CommandResult::kOk);
        ASSERT_EQ(s.seq, o.game_seq);
        ended_states[g] = s;
      }
      ++moves;
      if (moves == 8'000 || moves == 16'000) {
        // Redis has everything so far: what comes next loses it all.
        ASSERT_TRUE(WaitUntil(
            [&] {
              for (std::uint64_t id : ids) {
                core::GameState now{};
                const auto ended = ended_states.find(id);
                if (ended != ended_states.end()) {
                  now = ended->second;
                } else if (!engine_->Snapshot(id, now)) {
                  return false;
                }
                const std::optional<PublicState> stored = probe.TopState(GameKey(id));
                if (!stored || stored->seq != now.seq) return false;
              }
              return true;
            },
            std::chrono::seconds(60)))
            << "the sidecar did not catch up before loss " << moves;
      }
      if (moves == 16'000) {  // a FLUSHALL: no reconnect tells the sidecar
        // PostgreSQL has the games that ended: their keys come back from it.
        std::string ended_ids;
        const int ended = static_cast<int>(ended_states.size());
        for (const auto& [id, final_state] : ended_states) {
          if (!ended_ids.empty()) ended_ids += ',';
          ended_ids += std::to_string(id);
        }
        ASSERT_GT(ended, kGames / 6) << "too few games ended before the FLUSHALL";
        pqxx::connection c(PgUrlOrDie().ConnInfo());
        ASSERT_TRUE(WaitUntil(
            [&] {
              pqxx::nontransaction tx(c);
              return tx.exec1(
                           "SELECT count(*) FROM game_sessions WHERE status = 'finished' AND "
                           "game_id IN (" +
                           ended_ids + ")")[0]
                         .as<int>() == ended;
            },
            std::chrono::seconds(60)))
            << "postgres did not get the ended games";
        ASSERT_EQ(probe.Command({"FLUSHALL"})->type, REDIS_REPLY_STATUS);
        flushed = true;
      }
      if (moves == 8'000) {
        redis.Stop();
        ASSERT_TRUE(redis.Start(/*empty=*/true)) << "redis-server did not restart";
        ASSERT_EQ(probe.Connect(*own_url) ? probe.Integer({"DBSIZE"}) : -1, 0)
            << "the restarted redis-server is not empty";
        restarted = true;
      }
    }
  }
  ASSERT_TRUE(restarted && flushed) << "the load ended before Redis was restarted and flushed";
  ASSERT_TRUE(WaitUntil(
      [&] {
        return probe.Integer({"EXISTS", MarkerKey()}) == 1;
      },
      std::chrono::seconds(60)))
      << "the sidecar never noticed that Redis lost its data";

  // The engine's view of every game, then the sidecar drains and exits.
  std::map<std::uint64_t, core::GameState> engine_states;
  std::map<std::uint64_t, std::uint32_t> last_seq;
  for (std::uint64_t g : ids) {
    core::GameState s{};
    if (const auto ended = ended_states.find(g); ended != ended_states.end()) {
      s = ended->second;
    } else {
      ASSERT_TRUE(engine_->Snapshot(g, s));
    }
    engine_states[g] = s;
    last_seq[g] = s.seq;
  }
  engine_.reset();
  EXPECT_EQ(WaitExit(sidecar, std::chrono::seconds(180)), 0);
  Reap(sidecar);

  int live = 0, wrong = 0;
  for (const auto& [g, game] : engine_states) {
    PublicState want = PublicState::FromGame(game);
    bool has_stream = false;
    std::optional<PublicState> got = probe.TopState(GameKey(g), &has_stream);
    if (got) want.updated_ms = got->updated_ms;  // the engine keeps no clock
    const bool state_ok = got && *got == want;
    bool players_ok = true;
    for (int seat = 0; seat < 4 && game.phase != core::Phase::kFinished; ++seat) {
      auto h = probe.Hash(PlayerKey(game.player_ids[seat]));
      players_ok =
          players_ok && h["game"] == std::to_string(g) && h["seat"] == std::to_string(seat);
    }
    const bool active_ok =
        game.phase == core::Phase::kFinished || probe.Score(keys::Active(g), std::to_string(g));
    if (game.phase != core::Phase::kFinished) ++live;
    if (!(state_ok && players_ok && active_ok) && ++wrong <= 3) {
      std::string a, b;
      want.AppendJson(a);
      if (got) got->AppendJson(b);
      ADD_FAILURE() << "game " << g << (has_stream ? "" : " (no stream)") << "\n  engine: " << a
                    << "\n  redis:  " << b << "\n  players' hashes "
                    << (players_ok ? "ok" : "wrong") << ", active set "
                    << (active_ok ? "ok" : "missing");
    }
  }
  EXPECT_EQ(wrong, 0) << "of " << engine_states.size() << " games";
  EXPECT_GT(live, kGames / 2) << "the check should cover live games";
  // The leaderboard: every rated player's score is PostgreSQL's rating.
  pqxx::connection c(PgUrlOrDie().ConnInfo());
  pqxx::nontransaction tx(c);
  int rated = 0, wrong_ratings = 0;
  for (const auto& row : tx.exec(
           "SELECT player_id, rating FROM players WHERE games > 0 AND player_id BETWEEN " +
           std::to_string(player_base_) + " AND " + std::to_string(player_base_ + 4 * kGames))) {
    ++rated;
    const std::optional<double> score =
        probe.Score(keys::Leaderboard(row[0].as<std::uint64_t>()), row[0].c_str());
    if ((!score || *score != row[1].as<double>()) && ++wrong_ratings <= 3)
      ADD_FAILURE() << "player " << row[0].c_str() << ": rating " << row[1].c_str()
                    << " in postgres, " << (score ? std::to_string(*score) : std::string("none"))
                    << " in redis";
  }
  EXPECT_GT(rated, kGames / 3) << "the games that ended rated their players";
  EXPECT_EQ(wrong_ratings, 0);
  ExpectExactlyOnceInPostgres(last_seq);
}

TEST_F(PipelineTest, PostgresStoppedUnderLoadThenRestartedConverges) {
  // Stops and restarts the project-local server (scripts/services.sh).
  const std::string services = std::string(HOKM_SOURCE_DIR) + "/scripts/services.sh";
  ASSERT_TRUE(fs::exists(std::string(HOKM_SOURCE_DIR) + "/.local/pg/data/PG_VERSION"))
      << "this test stops and restarts the project-local PostgreSQL; start it with `make services`";
  OpenEngine();
  const pid_t sidecar = StartSidecar(redis_url_);
  bool stopped = false, restarted = false, redis_moved = false;
  RedisProbe probe;
  ASSERT_TRUE(probe.Connect(RedisUrlOrDie()));
  long long keys_at_stop = 0;
  const auto games = PlayGames(300, [&](int moves) {
    if (moves == 15000) {
      ASSERT_EQ(std::system((services + " stop-postgres >/dev/null").c_str()), 0);
      stopped = true;
      keys_at_stop = probe.Integer({"DBSIZE"});
    }
    if (moves == 45000 && stopped && !restarted) {
      // Redis keeps taking the games created meanwhile.
      redis_moved = WaitUntil([&] { return probe.Integer({"DBSIZE"}) > keys_at_stop; },
                              std::chrono::seconds(10));
      restarted = true;
      ASSERT_EQ(std::system((services + " start-postgres >/dev/null").c_str()), 0);
    }
  });
  ASSERT_TRUE(restarted);
  EXPECT_TRUE(redis_moved) << "Redis stopped taking records while PostgreSQL was down";
  engine_.reset();
  EXPECT_EQ(WaitExit(sidecar, std::chrono::seconds(180)), 0);
  Reap(sidecar);
  ExpectExactlyOnceInPostgres(games);
  ExpectFinalStateInRedis(games, redis_url_);
}

}  // namespace
}  // namespace hokm::sidecar::integration
