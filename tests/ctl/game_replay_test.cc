// game_replay_test.cc: `hokmctl game` and `hokmctl replay` (the real binary)
// against the real Redis and PostgreSQL and a real segment: games played by
// an Engine on its own segment and delivered by the real hokm-sidecar, as
// the running system does; then a game found live in the segment, finished
// in Redis, and in PostgreSQL once its Redis stream is gone; replays that
// are identical, and ones that name the seq of a row altered on purpose.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <vector>

#include "core/engine.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "sidecar/rebuild_source.h"
#include "tests/ctl/ctl_run.h"
#include "tests/ctl/engine_games.h"
#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::ctl {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sidecar::integration::EnvOr;
using sidecar::integration::IdRange;
using sidecar::integration::PgUrlOrDie;
using sidecar::integration::PgUrlString;
using sidecar::integration::RedisProbe;
using sidecar::integration::RedisUrlOrDie;
using sidecar::integration::RedisUrlString;
using sidecar::integration::StoresDown;

class GameReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    shm_name_ = EnvOr("HOKM_SHM_NAME", "hokm-ctl-test") + "-gr-" + std::to_string(::getpid());
    dir_ = fs::temp_directory_path() / shm_name_;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    (void)shm::Segment::Remove(shm_name_);
    redis_url_ = RedisUrlString();
    pg_url_ = PgUrlString();
    const std::string down = StoresDown();
    ASSERT_TRUE(down.empty()) << down;
    ASSERT_TRUE(redis_.Connect(RedisUrlOrDie()));
    players_ = IdRange::ForThisTest().FirstPlayer();

    EngineOptions o;
    o.shm_name = shm_name_;
    o.capacity = 1024;
    o.ring_bytes = 8 << 20;
    o.command_ring_bytes = 1 << 16;
    o.client_slots = 2;
    o.reuse_existing = false;
    auto e = Engine::Open(o);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();

    for (int g = 0; g < 3; ++g) finished_.push_back(Play(static_cast<std::uint64_t>(g), -1));
    live_ = Play(3, 40);  // 40 moves into its game: trump named, tricks under way
    ASSERT_TRUE(engine_->Snapshot(live_, live_state_));
    // The engine detaches (its segment and the live game in it stay, as
    // after a stop); the sidecar delivers everything on the ring to both
    // stores and exits once no engine is attached and the ring is empty.
    engine_.reset();
    const pid_t sidecar =
        proc::Spawn({HOKM_SIDECAR_BIN, "--shm-name", shm_name_, "--redis-url", redis_url_,
                     "--pg-url", pg_url_, "--spill-dir", (dir_ / "spill").string(),
                     "--metrics-port", "0", "--drain-and-exit", "--drain-timeout-s", "60"},
                    (dir_ / "sidecar.log").c_str());
    ASSERT_EQ(proc::WaitExit(sidecar, std::chrono::seconds(90)), 0)
        << ctl::testing::ReadWhole(dir_ / "sidecar.log");
  }
  void TearDown() override {
    engine_.reset();
    (void)shm::Segment::Remove(shm_name_);
    fs::remove_all(dir_);
    // Leave no game behind: one altered on purpose would stay an
    // unreplayable ended game for every later rebuild (hokmctl
    // rebuild-redis, the sidecar's) that reads the latest games.
    std::vector<std::uint64_t> games = finished_;
    if (live_ != 0) games.push_back(live_);
    if (games.empty()) return;
    std::string ids;
    for (std::uint64_t g : games) {
      if (!ids.empty()) ids += ',';
      ids += std::to_string(g);
    }
    pqxx::connection c(sidecar::integration::PgUrlOrDie().ConnInfo());
    pqxx::nontransaction tx(c);
    for (const char* table :
         {"game_commands", "game_sessions", "game_participants", "hands", "dead_letters"}) {
      tx.exec(std::string("DELETE FROM ") + table + " WHERE game_id IN (" + ids + ")");
    }
    tx.exec("DELETE FROM players WHERE player_id BETWEEN " + std::to_string(players_ + 1) +
            " AND " + std::to_string(players_ + 4 * (games.size() + 1)));
    for (std::uint64_t g : games) {
      std::vector<std::vector<std::string>> cmds;
      sidecar::integration::AppendGameCleanup(g, cmds);
      redis_.Pipeline(cmds);
    }
  }

  // A game created and joined on the engine, then played by the random bot
  // to its end (moves < 0) or for `moves` commands. Returns its id.
  std::uint64_t Play(std::uint64_t n, int moves) {
    return ctl::testing::PlayGame(*engine_, {.seed = 1000 + n,
                                             .first_player = players_ + n * 4 + 1,
                                             .bot_seed = n + 5,
                                             .moves = moves,
                                             .room = "ctl"});
  }

  // Runs hokmctl with args (after the global options), up to 60 s.
  ctl::testing::CtlResult Ctl(std::vector<std::string> args, const std::string& redis_url = "") {
    std::vector<std::string> argv = {"--shm-name",  shm_name_,
                                     "--redis-url", redis_url.empty() ? redis_url_ : redis_url,
                                     "--pg-url",    pg_url_};
    argv.insert(argv.end(), args.begin(), args.end());
    return ctl::testing::RunCtl(argv);
  }

  json CtlJson(std::vector<std::string> args, int want_code) {
    args.push_back("--json");
    const ctl::testing::CtlResult r = Ctl(std::move(args));
    EXPECT_EQ(r.exit_code, want_code) << r.out << r.err;
    const json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }

  void Sql(const std::string& sql) {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::work tx(c);
    const pqxx::result r = tx.exec(sql);
    EXPECT_EQ(r.affected_rows(), 1u) << sql;
    tx.commit();
  }
  pqxx::result Query(const std::string& sql) {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::read_transaction tx(c);
    return tx.exec(sql);
  }

  static std::string Key(std::uint64_t id) { return sidecar::integration::GameKey(id); }

  std::string shm_name_, redis_url_, pg_url_;
  fs::path dir_;
  RedisProbe redis_;
  std::uint64_t players_ = 0;
  std::unique_ptr<Engine> engine_;
  std::vector<std::uint64_t> finished_;
  std::uint64_t live_ = 0;
  core::GameState live_state_{};  // the engine's, when it detached
};

TEST_F(GameReplayTest, GameComesFromTheSegmentThenRedisThenPostgres) {
  // Live: from the segment, the engine's state.
  const core::GameState& engine_state = live_state_;
  json j = CtlJson({"game", std::to_string(live_)}, 0);
  EXPECT_EQ(j["game_id"], live_);
  EXPECT_EQ(j["source"], "segment");
  EXPECT_EQ(j["state"]["seq"], engine_state.seq);
  EXPECT_EQ(j["state"]["phase"], "playing");
  EXPECT_EQ(j["state"]["room"], "ctl");
  EXPECT_TRUE(j["unavailable"].empty()) << j.dump();

  // Finished: freed from the segment, in Redis.
  const std::uint64_t done = finished_[0];
  const long long last_seq =
      Query("SELECT max(seq) FROM game_moves WHERE game_id = " + std::to_string(done))[0][0]
          .as<long long>();
  j = CtlJson({"game", std::to_string(done)}, 0);
  EXPECT_EQ(j["source"], "redis");
  EXPECT_EQ(j["state"]["phase"], "finished");
  EXPECT_EQ(j["state"]["seq"], last_seq);
  ASSERT_TRUE(j["state"]["winner"].is_number());

  // Its stream gone: from PostgreSQL, replayed to the same state.
  const json from_redis = j["state"];
  ASSERT_EQ(redis_.Integer({"DEL", Key(done)}), 1);
  j = CtlJson({"game", std::to_string(done), "--records"}, 0);
  EXPECT_EQ(j["source"], "postgres");
  EXPECT_EQ(j["state"]["seq"], last_seq);
  for (const char* field : {"phase", "seats", "points", "winner", "hand", "room"}) {
    EXPECT_EQ(j["state"][field], from_redis[field]) << field;
  }
  EXPECT_EQ(j["session"]["status"], "finished");
  ASSERT_EQ(j["records"].size(), static_cast<std::size_t>(last_seq));
  EXPECT_EQ(j["records"][0]["seq"], 1);
  EXPECT_EQ(j["records"][0]["type"], "GameCreated");
  EXPECT_EQ(j["records"][0]["json"]["room"], "ctl");
  EXPECT_EQ(j["records"][last_seq - 1]["type"], "GameFinished");

  // Human output says the source too.
  const ctl::testing::CtlResult human = Ctl({"game", std::to_string(done)});
  EXPECT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("(source: postgres)"), std::string::npos) << human.out;
}

TEST_F(GameReplayTest, GameWithRedisDownSaysSoAndReadsPostgres) {
  // Port 1: nothing listens there.
  const ctl::testing::CtlResult r =
      Ctl({"game", std::to_string(finished_[1]), "--json"}, "redis://127.0.0.1:1/0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("hokmctl: redis"), std::string::npos) << r.err;
  const json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["source"], "postgres");
  EXPECT_EQ(j["unavailable"].size(), 1u);
}

TEST_F(GameReplayTest, UnknownGameExits1AndBadIdExits2) {
  // An id no engine made: slot 0 of creation number 1.
  const ctl::testing::CtlResult unknown = Ctl({"game", std::to_string(1ull << 20)});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.out << unknown.err;
  EXPECT_NE(unknown.err.find("hokmctl: game 1048576: no such game"), std::string::npos)
      << unknown.err;
  EXPECT_EQ(Ctl({"replay", std::to_string(1ull << 20)}).exit_code, 1);
  for (const char* bad : {"abc", "0", "-5", "12x", "99999999999999999999"}) {
    const ctl::testing::CtlResult r = Ctl({"game", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.err;
    EXPECT_NE(r.err.find("is not a game id"), std::string::npos) << r.err;
    EXPECT_EQ(Ctl({"replay", bad}).exit_code, 2) << bad;
  }
  EXPECT_EQ(Ctl({"game"}).exit_code, 2);  // no id
}

TEST_F(GameReplayTest, ReplayIsIdenticalForFinishedAndLiveGames) {
  for (std::uint64_t id : finished_) {
    const json j = CtlJson({"replay", std::to_string(id)}, 0);
    EXPECT_TRUE(j["identical"].get<bool>()) << j.dump();
    EXPECT_EQ(j["compared"], j["records"]) << "every stored record compared";
    EXPECT_GT(j["records"].get<int>(), 100);
    EXPECT_EQ(j["final_state"]["against"], "postgres");
    EXPECT_TRUE(j["differences"].empty());
    EXPECT_TRUE(j["stopped_at"].is_null());
  }
  const json j = CtlJson({"replay", std::to_string(live_)}, 0);
  EXPECT_TRUE(j["identical"].get<bool>()) << j.dump();
  EXPECT_EQ(j["final_state"]["against"], "segment");
  EXPECT_TRUE(j["final_state"]["identical"].get<bool>());
}

TEST_F(GameReplayTest, ReplayNamesTheSeqOfAnAlteredCardPlay) {
  const std::uint64_t id = finished_[2];
  const std::string game = std::to_string(id);
  // The first card play and a later play by the same seat, after the first
  // trick: that seat no longer holds the first card.
  const pqxx::result plays =
      Query("SELECT seq, seat, card FROM game_moves WHERE game_id = " + game +
            " AND type = 7 ORDER BY seq");
  ASSERT_GT(plays.size(), 20u);
  const int seat = plays[0][1].as<int>();
  const int first_card = plays[0][2].as<int>();
  long long altered = 0;
  for (std::size_t k = 8; k < plays.size() && altered == 0; ++k) {
    if (plays[k][1].as<int>() == seat) altered = plays[k][0].as<long long>();
  }
  ASSERT_NE(altered, 0);
  Sql("UPDATE game_commands SET card = " + std::to_string(first_card) + " WHERE game_id = " + game +
      " AND seq = " + std::to_string(altered));

  const json j = CtlJson({"replay", game}, 1);
  EXPECT_FALSE(j["identical"].get<bool>());
  ASSERT_FALSE(j["differences"].empty());
  EXPECT_EQ(j["differences"][0]["seq"], altered);
  EXPECT_EQ(j["differences"][0]["field"], "command");
  EXPECT_EQ(j["stopped_at"], altered);
  const ctl::testing::CtlResult human = Ctl({"replay", game});
  EXPECT_EQ(human.exit_code, 1);
  EXPECT_NE(human.out.find("seq " + std::to_string(altered) + "  command"), std::string::npos)
      << human.out;
}

TEST_F(GameReplayTest, ReplayNamesTheSeqAndFieldOfAnAlteredCausedRecord) {
  const std::string game = std::to_string(finished_[1]);
  // The second TrickWon, in its command's `records` column: another winner.
  const pqxx::result won =
      Query("SELECT seq, (body->>'seat')::int FROM game_moves WHERE game_id = " + game +
            " AND type = 8 ORDER BY seq LIMIT 1 OFFSET 1");
  ASSERT_EQ(won.size(), 1u);
  const long long seq = won[0][0].as<long long>();
  const int seat = won[0][1].as<int>();
  const int other = (seat + 1) % 4;
  Sql("UPDATE game_commands c SET records = (SELECT jsonb_agg(CASE WHEN (r->>'seq')::bigint = " +
      std::to_string(seq) + " THEN jsonb_set(r, '{seat}', '" + std::to_string(other) +
      "') ELSE r END ORDER BY o) FROM jsonb_array_elements(c.records) WITH ORDINALITY AS e(r, o)) "
      "WHERE c.game_id = " +
      game + " AND c.seq < " + std::to_string(seq) +
      " AND hokm_command_last_seq(c) >= " + std::to_string(seq));

  const json j = CtlJson({"replay", game}, 1);
  ASSERT_EQ(j["difference_count"], 1) << j.dump();
  EXPECT_EQ(j["differences"][0]["seq"], seq);
  EXPECT_EQ(j["differences"][0]["field"], "seat");
  EXPECT_EQ(j["differences"][0]["stored"], std::to_string(other));
  EXPECT_EQ(j["differences"][0]["replayed"], std::to_string(seat));
  EXPECT_TRUE(j["stopped_at"].is_null());
}

// The Redis rebuild reads ended games through the same replay
// (core/records/replay.h): each of ours comes back with the state Redis
// holds; one whose card play was altered is left out and counted.
TEST_F(GameReplayTest, TheRedisRebuildReplaysEndedGamesThroughTheSameReplay) {
  Result<shm::Segment> segment = shm::Segment::Attach(shm_name_);
  ASSERT_TRUE(segment.ok()) << segment.status().message();
  sidecar::StoreRebuildSource source(segment->table(), PgUrlOrDie());
  const auto rebuilt = [&](std::uint64_t id, const std::vector<sidecar::RebuiltGame>& games) {
    const auto it = std::find_if(games.begin(), games.end(),
                                 [&](const sidecar::RebuiltGame& g) { return g.game_id == id; });
    return it == games.end() ? nullptr : &*it;
  };
  std::vector<sidecar::RebuiltGame> ended;
  ASSERT_TRUE(source.EndedGames(std::chrono::hours(1), std::nullopt, ended).ok())
      << source.last_error();
  const std::uint64_t unreplayable = source.unreplayable();  // games of earlier runs altered too
  for (std::uint64_t id : finished_) {
    const sidecar::RebuiltGame* g = rebuilt(id, ended);
    ASSERT_NE(g, nullptr) << "game " << id << " not rebuilt";
    const json redis = CtlJson({"game", std::to_string(id)}, 0);
    ASSERT_EQ(redis["source"], "redis");
    std::string state;
    g->state.AppendJson(state);
    json expected = redis["state"];
    json got = json::parse(state);
    expected.erase("updated_ms");
    got.erase("updated_ms");
    EXPECT_EQ(got, expected) << id;
  }
  // The live game is the segment's to rebuild, not PostgreSQL's.
  EXPECT_EQ(rebuilt(live_, ended), nullptr);
  const std::optional<sidecar::PublicState> live = source.FindLive(live_);
  ASSERT_TRUE(live.has_value());
  EXPECT_EQ(live->seq, live_state_.seq);

  // A card play changed to a card its seat no longer holds.
  const std::string game = std::to_string(finished_[0]);
  const pqxx::result plays =
      Query("SELECT seq, seat, card FROM game_moves WHERE game_id = " + game +
            " AND type = 7 ORDER BY seq");
  ASSERT_GT(plays.size(), 20u);
  long long altered = 0;
  for (std::size_t k = 8; k < plays.size() && altered == 0; ++k) {
    if (plays[k][1].as<int>() == plays[0][1].as<int>()) altered = plays[k][0].as<long long>();
  }
  Sql("UPDATE game_commands SET card = " + std::to_string(plays[0][2].as<int>()) +
      " WHERE game_id = " + game + " AND seq = " + std::to_string(altered));
  ended.clear();
  ASSERT_TRUE(source.EndedGames(std::chrono::hours(1), std::nullopt, ended).ok())
      << source.last_error();
  EXPECT_EQ(rebuilt(finished_[0], ended), nullptr);
  EXPECT_NE(rebuilt(finished_[1], ended), nullptr);
  EXPECT_EQ(source.unreplayable(), unreplayable + 1);
}

}  // namespace
}  // namespace hokm::ctl
