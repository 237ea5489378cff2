// replica_test.cc: the PostgreSQL read replica for real: a streaming
// standby started by the project's script (scripts/services.sh
// start-pg-replica), games played on an Engine and delivered by the real
// hokm-sidecar (run with --pg-read-url), then, once the replica replayed
// the primary's WAL position: the analytics views answer on the replica
// what they answer on the primary; hokmctl's read-only subcommands
// (analytics, game, replay, dlq list) work from the replica while --pg-url
// points where nothing listens; and the sidecar's /metrics carries the
// replica's lag, hokm_pg_replica_up 1, and passes promtool.
//
// The replica is HOKM_PG_READ_URL when set, else the one the script starts
// (or finds running) beside the primary of HOKM_PG_URL: the script is run
// with HOKM_PG_PORT set to that URL's port. A replica that cannot be
// started, or is not a standby of HOKM_PG_URL's server, fails the test
// with why; nothing is skipped.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "core/engine.h"
#include "tests/ctl/ctl_run.h"
#include "tests/ctl/engine_games.h"
#include "tests/integration/http_util.h"
#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::sidecar::integration {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One value (row 0, column 0) as text, "" for NULL.
std::string One(const PgUrl& url, const std::string& sql) {
  pqxx::connection c(url.ConnInfo());
  pqxx::nontransaction tx(c);
  const pqxx::result r = tx.exec(sql);
  return r.empty() || r[0][0].is_null() ? "" : r[0][0].c_str();
}

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shm_name_ = EnvOr("HOKM_SHM_NAME", "hokm") + "-replica-" + std::to_string(::getpid());
    dir_ = fs::temp_directory_path() / shm_name_;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    (void)shm::Segment::Remove(shm_name_);
    const std::string down = StoresDown();
    ASSERT_TRUE(down.empty()) << down;
    primary_ = PgUrlOrDie();
    ASSERT_NO_FATAL_FAILURE(StartReplica());
    players_ = IdRange::ForThisTest().FirstPlayer();
  }

  void TearDown() override {
    if (sidecar_ > 0) {
      ::kill(sidecar_, SIGTERM);
      if (proc::WaitExit(sidecar_, 30s) != 0) ADD_FAILURE() << ReadFile(dir_ / "sidecar.log");
    }
    engine_.reset();
    (void)shm::Segment::Remove(shm_name_);
    fs::remove_all(dir_);
    if (games_.empty()) return;
    std::string ids;
    for (std::uint64_t g : games_) ids += (ids.empty() ? "" : ",") + std::to_string(g);
    pqxx::connection c(primary_.ConnInfo());
    pqxx::nontransaction tx(c);
    for (const char* table :
         {"game_commands", "game_sessions", "game_participants", "hands", "dead_letters"}) {
      tx.exec(std::string("DELETE FROM ") + table + " WHERE game_id IN (" + ids + ")");
    }
    tx.exec("DELETE FROM players WHERE player_id BETWEEN " + std::to_string(players_ + 1) +
            " AND " + std::to_string(players_ + 4 * games_.size()));
    RedisProbe redis;
    if (redis.Connect(RedisUrlOrDie())) {
      for (std::uint64_t g : games_) {
        redis.Command({"DEL", GameKey(g)});
        redis.Command({"ZREM", "hokm:active", std::to_string(g)});
      }
    }
  }

  // HOKM_PG_READ_URL, else the replica scripts/services.sh start-pg-replica
  // starts (or finds) beside HOKM_PG_URL's server; then checks it is a
  // standby of that server.
  void StartReplica() {
    std::string read_url = EnvOr("HOKM_PG_READ_URL", "");
    if (read_url.empty()) {
      std::vector<std::string> env;
      for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
      env.push_back("HOKM_PG_PORT=" + primary_.Get("port"));
      const fs::path out = dir_ / "start-pg-replica.out";
      const pid_t pid =
          proc::Spawn({std::string(HOKM_SOURCE_DIR) + "/scripts/services.sh", "start-pg-replica"},
                      {.in = "/dev/null", .out = out.c_str(), .err = out.c_str(), .env = &env});
      const int code = proc::WaitExit(pid, 180s);
      const std::string said = ReadFile(out);
      ASSERT_EQ(code, 0) << "scripts/services.sh start-pg-replica (HOKM_PG_PORT="
                         << primary_.Get("port") << ") failed: a read replica is needed; set "
                         << "HOKM_PG_READ_URL to one, or let the script make one beside the "
                         << "primary of HOKM_PG_URL:\n"
                         << said;
      std::smatch m;
      ASSERT_TRUE(std::regex_search(said, m, std::regex("HOKM_PG_READ_URL=(\\S+)")))
          << "start-pg-replica printed no HOKM_PG_READ_URL:\n"
          << said;
      read_url = m[1];
    }
    read_url_text_ = read_url;
    auto parsed = ParsePgUrl(read_url);
    ASSERT_TRUE(parsed.ok()) << "HOKM_PG_READ_URL: " << parsed.status().message();
    replica_ = *parsed;
    std::string standby, replica_id;
    try {
      standby = One(replica_, "SELECT pg_is_in_recovery()");
      replica_id = One(replica_, "SELECT system_identifier FROM pg_control_system()");
    } catch (const std::exception& e) {
      FAIL() << "the read replica at " << replica_.HostPort() << " does not answer: " << e.what();
    }
    ASSERT_EQ(standby, "t") << replica_.HostPort() << " is no standby (pg_is_in_recovery false)";
    ASSERT_EQ(replica_id, One(primary_, "SELECT system_identifier FROM pg_control_system()"))
        << "the replica at " << replica_.HostPort() << " is not a standby of HOKM_PG_URL's "
        << primary_.HostPort();
  }

  // Blocks until the replica replayed everything the primary had when
  // called: polled, with a deadline. The insert position, not the written
  // one (pg_current_wal_lsn): with synchronous_commit = off a commit is
  // visible on the primary before its WAL is written, so only past the
  // insert position does the replica show all the primary shows.
  void WaitForReplay() {
    const std::string lsn = One(primary_, "SELECT pg_current_wal_insert_lsn()");
    std::string behind;
    const bool caught_up = proc::WaitUntil(
        [&] {
          behind = One(replica_,
                       "SELECT pg_wal_lsn_diff('" + lsn + "', pg_last_wal_replay_lsn())::bigint");
          return !behind.empty() && std::stoll(behind) <= 0;
        },
        30s);
    ASSERT_TRUE(caught_up) << "the replica did not replay the primary's WAL up to " << lsn
                           << " within 30 s (" << behind << " bytes behind)";
  }

  // hokmctl with --pg-url where nothing listens and --pg-read-url the
  // replica: whatever it reads from PostgreSQL comes from the replica.
  ctl::testing::CtlResult CtlOnReplica(std::vector<std::string> args) {
    std::vector<std::string> argv = {
        "--shm-name",    shm_name_,
        "--redis-url",   "redis://127.0.0.1:" + std::to_string(dead_port_) + "/0",
        "--pg-url",      "postgresql://hokm@127.0.0.1:" + std::to_string(dead_port_) + "/hokm",
        "--pg-read-url", read_url_text_};
    argv.insert(argv.end(), args.begin(), args.end());
    return ctl::testing::RunCtl(argv);
  }

  std::string shm_name_;
  fs::path dir_;
  PgUrl primary_;
  PgUrl replica_;
  std::string read_url_text_;
  std::uint64_t players_ = 0;
  std::vector<std::uint64_t> games_;
  // A fresh Engine of our own on shm_name_, into engine_.
  void OpenEngine(std::uint32_t capacity, std::uint64_t ring_bytes) {
    EngineOptions o;
    o.shm_name = shm_name_;
    o.capacity = capacity;
    o.ring_bytes = ring_bytes;
    o.command_ring_bytes = 1 << 16;
    o.client_slots = 2;
    o.reuse_existing = false;
    auto e = Engine::Open(o);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
  }

  std::unique_ptr<Engine> engine_;
  pid_t sidecar_ = -1;
  int dead_port_ = proc::FreePort();
};

TEST_F(ReplicaTest, ServesTheViewsAndHokmctlReadsAndTheSidecarReportsItsLag) {
  // Games on an Engine of our own: three played to their end, one live.
  ASSERT_NO_FATAL_FAILURE(OpenEngine(256, 4 << 20));
  for (std::uint64_t n = 0; n < 4; ++n) {
    games_.push_back(ctl::testing::PlayGame(*engine_, {.seed = 700 + n,
                                                       .first_player = players_ + n * 4 + 1,
                                                       .bot_seed = n + 3,
                                                       .moves = n < 3 ? -1 : 30,
                                                       .room = "replica"}));
  }
  core::GameState live{};
  ASSERT_TRUE(engine_->Snapshot(games_[3], live));

  // The real sidecar, told of the replica.
  const int metrics_port = proc::FreePort();
  sidecar_ =
      proc::Spawn({HOKM_SIDECAR_BIN, "--shm-name", shm_name_, "--redis-url", RedisUrlString(),
                   "--pg-url", PgUrlString(), "--pg-read-url", read_url_text_, "--schema-dir",
                   SchemaDir(), "--spill-dir", (dir_ / "spill").string(), "--metrics-port",
                   std::to_string(metrics_port), "--batch-max-ms", "5"},
                  (dir_ / "sidecar.log").c_str());

  // Every record in the primary: the live game up to its seq, the others
  // finished.
  const std::string ids =
      std::to_string(games_[0]) + "," + std::to_string(games_[1]) + "," + std::to_string(games_[2]);
  const bool delivered = proc::WaitUntil(
      [&] {
        try {
          return One(primary_,
                     "SELECT count(*) FROM game_sessions WHERE status = 'finished' AND "
                     "game_id IN (" +
                         ids + ")") == "3" &&
                 One(primary_, "SELECT max(seq) FROM game_moves WHERE game_id = " +
                                   std::to_string(games_[3])) == std::to_string(live.seq);
        } catch (const std::exception&) {
          return false;  // the sidecar may not have made the schema yet
        }
      },
      60s);
  ASSERT_TRUE(delivered) << "the sidecar did not deliver the games to the primary within 60 s\n"
                         << ReadFile(dir_ / "sidecar.log");
  ASSERT_NO_FATAL_FAILURE(WaitForReplay());

  // The views: the same answer on both servers (the summary whole; the
  // other views for this test's players and games, which nothing else
  // writes).
  const std::string players =
      std::to_string(players_ + 1) + " AND " + std::to_string(players_ + 4 * games_.size());
  const std::string all_games = ids + "," + std::to_string(games_[3]);
  const std::vector<std::string> queries = {
      "SELECT row_to_json(v)::text FROM analytics.game_statistics_summary v",
      "SELECT coalesce(json_agg(v ORDER BY player_id), '[]')::text FROM "
      "analytics.player_performance v WHERE player_id BETWEEN " +
          players,
      "SELECT coalesce(json_agg(v ORDER BY player_id), '[]')::text FROM analytics.leaderboard v "
      "WHERE player_id BETWEEN " +
          players,
      "SELECT coalesce(json_agg(v ORDER BY game_id), '[]')::text FROM analytics.active_sessions v "
      "WHERE game_id IN (" +
          all_games + ")"};
  for (const std::string& q : queries) {
    const std::string on_primary = One(primary_, q);
    EXPECT_EQ(One(replica_, q), on_primary) << q;
    EXPECT_NE(on_primary, "[]") << "nothing of this test's games in " << q;
  }

  // hokmctl, with nothing listening at --pg-url (nor --redis-url).
  const ctl::testing::CtlResult analytics = CtlOnReplica({"analytics", "--limit", "0", "--json"});
  ASSERT_EQ(analytics.exit_code, 0) << analytics.Text();
  const json a = analytics.Json();
  EXPECT_EQ(a.value("replica", false), true) << analytics.out;
  EXPECT_EQ(a.value("server", ""), replica_.HostPort() + "/" + replica_.dbname());
  std::size_t ours = 0;
  for (const json& row : a["views"]["player_performance"]) {
    const std::uint64_t p = row.value("player_id", std::uint64_t{0});
    ours += p > players_ && p <= players_ + 4 * games_.size();
  }
  EXPECT_EQ(ours, 4 * games_.size()) << analytics.out;
  EXPECT_NE(
      analytics.err.find("reading PostgreSQL from the read replica at " + replica_.HostPort()),
      std::string::npos)
      << analytics.err;

  // A finished game: not in the segment any more, Redis unreachable, so
  // from PostgreSQL, which is the replica.
  const ctl::testing::CtlResult game =
      CtlOnReplica({"game", std::to_string(games_[0]), "--records", "--json"});
  ASSERT_EQ(game.exit_code, 0) << game.Text();
  EXPECT_EQ(game.Json().value("source", ""), "postgres") << game.out;
  EXPECT_FALSE(game.Json()["records"].empty()) << game.out;
  const ctl::testing::CtlResult replay =
      CtlOnReplica({"replay", std::to_string(games_[1]), "--json"});
  EXPECT_EQ(replay.exit_code, 0) << replay.Text();
  EXPECT_EQ(replay.Json().value("identical", false), true) << replay.out;
  const ctl::testing::CtlResult dlq = CtlOnReplica({"dlq", "list", "--json"});
  EXPECT_EQ(dlq.exit_code, 0) << dlq.Text();
  // check needs the latest commit: it never reads the replica, so with the
  // primary unreachable it fails, naming the primary.
  const ctl::testing::CtlResult check =
      ctl::testing::RunCtl({"--shm-name", shm_name_, "--redis-url", RedisUrlString(), "--pg-url",
                            "postgresql://hokm@127.0.0.1:" + std::to_string(dead_port_) + "/hokm",
                            "--pg-read-url", read_url_text_, "check", "--sample", "1"});
  EXPECT_EQ(check.exit_code, 1) << check.Text();
  EXPECT_NE(check.err.find("127.0.0.1:" + std::to_string(dead_port_)), std::string::npos)
      << check.Text();

  // The sidecar's /metrics: the replica up, its lag in seconds and bytes.
  // (A poll made before the replica replayed its first transaction, as a
  // new one has not, has no lag in seconds: the next polls do.)
  std::string page;
  const bool reported = proc::WaitUntil(
      [&] {
        page = proc::HttpGet(metrics_port, "/metrics").body;
        return page.find("\nhokm_pg_replica_up 1\n") != std::string::npos &&
               page.find("\nhokm_pg_replica_lag_seconds ") != std::string::npos &&
               page.find("\nhokm_pg_replica_lag_bytes ") != std::string::npos;
      },
      15s);
  ASSERT_TRUE(reported) << "no hokm_pg_replica_up 1 with a lag on /metrics:\n"
                        << page << ReadFile(dir_ / "sidecar.log");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(page, m, std::regex("\nhokm_pg_replica_lag_seconds (\\S+)\n")))
      << page;
  EXPECT_GE(std::stod(m[1]), 0.0);
  EXPECT_LT(std::stod(m[1]), 60.0) << "a replica that just caught up lags a minute?";
  EXPECT_NE(page.find("# TYPE hokm_pg_replica_lag_bytes gauge"), std::string::npos);

  const std::string promtool = proc::FindInPath("promtool");
  ASSERT_FALSE(promtool.empty())
      << "promtool not found in PATH: install Debian's prometheus package (scripts/setup.sh)";
  { std::ofstream(dir_ / "metrics.txt") << page; }
  const pid_t check_pid =
      proc::Spawn({promtool, "check", "metrics"}, {.in = (dir_ / "metrics.txt").c_str(),
                                                   .out = (dir_ / "promtool.out").c_str(),
                                                   .err = (dir_ / "promtool.out").c_str()});
  EXPECT_EQ(proc::WaitExit(check_pid, 30s), 0) << ReadFile(dir_ / "promtool.out");
  EXPECT_EQ(ReadFile(dir_ / "promtool.out"), "") << "promtool check metrics";
}

// A replica that is not there: up 0, a log line, and the sidecar delivers
// and serves /metrics and /health as ever.
TEST_F(ReplicaTest, ADownReplicaIsReportedNeverFatal) {
  ASSERT_NO_FATAL_FAILURE(OpenEngine(64, 1 << 20));
  games_.push_back(ctl::testing::PlayGame(
      *engine_, {.seed = 9, .first_player = players_ + 1, .bot_seed = 2, .room = "replica"}));

  const int metrics_port = proc::FreePort();
  sidecar_ = proc::Spawn({HOKM_SIDECAR_BIN, "--shm-name", shm_name_, "--redis-url",
                          RedisUrlString(), "--pg-url", PgUrlString(), "--pg-read-url",
                          "postgresql://hokm@127.0.0.1:" + std::to_string(dead_port_) + "/hokm",
                          "--schema-dir", SchemaDir(), "--spill-dir", (dir_ / "spill").string(),
                          "--metrics-port", std::to_string(metrics_port), "--batch-max-ms", "5"},
                         (dir_ / "sidecar.log").c_str());
  std::string page;
  ASSERT_TRUE(proc::WaitUntil(
      [&] {
        page = proc::HttpGet(metrics_port, "/metrics").body;
        return page.find("\nhokm_pg_replica_up 0\n") != std::string::npos &&
               page.find("\nhokm_pg_replica_poll_failures_total 0\n") == std::string::npos;
      },
      15s))
      << page << ReadFile(dir_ / "sidecar.log");
  EXPECT_EQ(page.find("hokm_pg_replica_lag_seconds "), std::string::npos) << page;
  EXPECT_TRUE(proc::WaitUntil(
      [&] {
        return One(primary_,
                   "SELECT count(*) FROM game_sessions WHERE status = 'finished' AND "
                   "game_id = " +
                       std::to_string(games_[0])) == "1";
      },
      30s))
      << "the sidecar stopped delivering while its replica was down\n"
      << ReadFile(dir_ / "sidecar.log");
  EXPECT_EQ(proc::HttpGet(metrics_port, "/health").status, 200);
  EXPECT_NE(ReadFile(dir_ / "sidecar.log")
                .find("read replica at 127.0.0.1:" + std::to_string(dead_port_) + ": down"),
            std::string::npos)
      << ReadFile(dir_ / "sidecar.log");
}

}  // namespace
}  // namespace hokm::sidecar::integration
