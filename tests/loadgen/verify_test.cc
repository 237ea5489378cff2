// verify_test.cc: hokm-loadgen's --verify against the real servers: a small
// embedded run through the real hokm-sidecar verifies ok, then a Redis game
// altered on purpose and a move row deleted on purpose each make
// --verify-only report ok: false (and exit 1); the JSON report has exactly
// the keys of the contract. The same for --baseline seed and its own tables.
// A non-default rules variant verifies too; a hokm-engine with turn
// deadlines finishes a game whose client stopped moving.
// --disconnect-rate through hokm-engine (--mode shm) and in-process
// (embedded): every reconnected player's view is right and the stores
// verify.
//
// Integration tests (label `integration`): they need `make services` (or
// HOKM_REDIS_URL / HOKM_PG_URL) and fail, never skip, when a server is
// missing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/command_wire.h"
#include "core/rules/rules.h"
#include "shm/command_channel.h"
#include "shm/segment.h"
#include "tests/fault/engine_process.h"
#include "tests/integration/http_util.h"
#include "tests/integration/pgbouncer.h"
#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::loadgen {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using sidecar::integration::AppendGameCleanup;
using sidecar::integration::GameKey;
using sidecar::integration::PgUrlOrDie;
using sidecar::integration::PgUrlString;
using sidecar::integration::RedisProbe;
using sidecar::integration::RedisUrlOrDie;
using sidecar::integration::RedisUrlString;
using sidecar::integration::StoresDown;

using proc::WaitExit;
using proc::WaitUntil;

using proc::FreePort;

const std::set<std::string> kReportKeys = {"mode",
                                           "games_completed",
                                           "card_plays",
                                           "records",
                                           "wall_s",
                                           "card_plays_per_sec",
                                           "apply_latency_ns",
                                           "sync_lag_ms",
                                           "busy",
                                           "errors"};

std::set<std::string> Keys(const nlohmann::json& j) {
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  return keys;
}

// Every key of the contract, nested ones included, and no other.
void ExpectReportKeys(const nlohmann::json& j, bool with_verify) {
  std::set<std::string> want = kReportKeys;
  if (with_verify) want.insert("verify");
  EXPECT_EQ(Keys(j), want);
  EXPECT_EQ(Keys(j.at("apply_latency_ns")), (std::set<std::string>{"p50", "p99", "p999", "max"}));
  EXPECT_EQ(Keys(j.at("sync_lag_ms")), (std::set<std::string>{"redis", "postgres"}));
  EXPECT_EQ(Keys(j.at("sync_lag_ms").at("redis")), (std::set<std::string>{"p50", "p99", "max"}));
  EXPECT_EQ(Keys(j.at("sync_lag_ms").at("postgres")), (std::set<std::string>{"p50", "p99", "max"}));
  if (with_verify) {
    EXPECT_EQ(Keys(j.at("verify")),
              (std::set<std::string>{"games", "pg_games", "pg_moves", "redis_games", "lost",
                                     "duplicated", "mismatched", "ok"}));
  }
}

struct SavedGame {
  std::uint64_t id = 0;
  std::uint32_t last_seq = 0;
};

class LoadgenVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    shm_name_ = "hokm-lgv-" + std::to_string(::getpid()) + "-" + test;
    dir_ = fs::temp_directory_path() / shm_name_;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    (void)shm::Segment::Remove(shm_name_);
    redis_url_ = RedisUrlString();
    pg_url_ = PgUrlString();
    metrics_port_ = proc::FreePort();
    metrics_url_ = "http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics";
    const std::string down = StoresDown();
    ASSERT_TRUE(down.empty()) << down;
  }

  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    (void)shm::Segment::Remove(shm_name_);
    if (!games_.empty()) CleanStores();
    fs::remove_all(dir_);
  }

  // Runs a binary with stdout and stderr into `log`; returns its pid.
  pid_t Spawn(std::vector<std::string> args, const fs::path& log) {
    const pid_t pid = proc::Spawn(std::move(args), log.c_str());
    children_.push_back(pid);
    return pid;
  }
  int Finish(pid_t pid, std::chrono::seconds budget) {
    const int code = WaitExit(pid, budget);
    std::erase(children_, pid);
    return code;
  }
  static std::string Slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::vector<std::string> Loadgen(std::vector<std::string> extra) {
    std::vector<std::string> args = {HOKM_LOADGEN_BIN, "--redis-url", redis_url_,
                                     "--pg-url",       pg_url_,       "--sidecar-metrics",
                                     metrics_url_,     "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // --verify-only of the saved games: exit code and report.
  int VerifyOnly(const std::string& name, nlohmann::json& report) {
    const fs::path json = dir_ / (name + ".json");
    const fs::path log = dir_ / (name + ".log");
    const int code = Finish(
        Spawn(Loadgen({"--verify-only", games_file_.string(), "--json", json.string()}), log),
        std::chrono::seconds(120));
    report = nlohmann::json::parse(Slurp(json), nullptr, false);
    EXPECT_FALSE(report.is_discarded()) << "no JSON report; loadgen said:\n" << Slurp(log);
    return code;
  }

  void LoadSavedGames() {
    std::ifstream in(games_file_);
    std::string line;
    ASSERT_TRUE(std::getline(in, line)) << "empty --save-games file";
    while (std::getline(in, line)) {
      std::istringstream f(line);
      SavedGame g;
      f >> g.id >> g.last_seq;
      games_.push_back(g);
    }
  }

  // An embedded loadgen run (standard flags, --save-games, --json
  // report_path) delivered by the real sidecar (--drain-and-exit); loads the
  // saved games. Returns loadgen's exit code.
  int RunEmbeddedWithSidecar(std::vector<std::string> flags, const fs::path& report_path,
                             int budget_s) {
    games_file_ = dir_ / "games.txt";
    const std::vector<std::string> common = {
        "--mode",       "embedded",           "--shm-name",         shm_name_,
        "--fresh",      "--verify",           "--verify-timeout-s", std::to_string(budget_s / 2),
        "--json",       report_path.string(), "--wait-for-sidecar", "60",
        "--save-games", games_file_.string()};
    flags.insert(flags.begin(), common.begin(), common.end());
    const pid_t loadgen = Spawn(Loadgen(flags), dir_ / "loadgen.log");
    EXPECT_TRUE(
        WaitUntil([&] { return shm::Segment::Attach(shm_name_).ok(); }, std::chrono::seconds(30)))
        << "loadgen did not create the segment:\n"
        << Slurp(dir_ / "loadgen.log");
    const pid_t sidecar =
        Spawn({HOKM_SIDECAR_BIN, "--shm-name", shm_name_, "--redis-url", redis_url_, "--pg-url",
               sidecar_pg_url_.empty() ? pg_url_ : sidecar_pg_url_, "--spill-dir",
               (dir_ / "spill").string(), "--metrics-port", std::to_string(metrics_port_),
               "--batch-max-ms", "10", "--drain-and-exit", "--drain-timeout-s",
               std::to_string(budget_s / 2)},
              dir_ / "sidecar.log");
    const int code = Finish(loadgen, std::chrono::seconds(budget_s));
    EXPECT_EQ(Finish(sidecar, std::chrono::seconds(budget_s)), 0) << Slurp(dir_ / "sidecar.log");
    LoadSavedGames();
    return code;
  }

  std::string IdList() const {
    std::string ids;
    for (const SavedGame& g : games_) {
      if (!ids.empty()) ids += ',';
      ids += std::to_string(g.id);
    }
    return ids;
  }

  // Removes this test's games from both stores.
  void CleanStores() {
    try {
      pqxx::connection c(PgUrlOrDie().ConnInfo());
      pqxx::nontransaction tx(c);
      const std::string in = " WHERE game_id IN (" + IdList() + ")";
      if (seed_) {
        tx.exec("DELETE FROM seed_moves" + in);
      } else {
        for (const char* t :
             {"game_commands", "game_moves_v1", "hands", "game_participants", "game_sessions"}) {
          tx.exec(std::string("DELETE FROM ") + t + in);
        }
      }
    } catch (const std::exception&) {
      // Best effort: a test that failed on the server already said why.
    }
    RedisProbe probe;
    if (!probe.Connect(RedisUrlOrDie())) return;
    std::vector<std::vector<std::string>> dels;
    for (const SavedGame& g : games_) {
      const std::string id = std::to_string(g.id);
      if (seed_) {
        dels.push_back({"DEL", "seed:g:{" + id + "}"});
      } else {
        AppendGameCleanup(g.id, dels);
      }
    }
    probe.Pipeline(dels);
  }

  std::string shm_name_;
  fs::path dir_;
  fs::path games_file_;
  std::string redis_url_, pg_url_, metrics_url_;
  std::string sidecar_pg_url_;  // the sidecar's, when not pg_url_ (a pooler in front)
  int metrics_port_ = 0;
  std::vector<pid_t> children_;
  std::vector<SavedGame> games_;
  bool seed_ = false;
};

TEST_F(LoadgenVerifyTest, VerifyCatchesAnAlteredRedisGameAndADeletedMoveRow) {
  const fs::path report_path = dir_ / "run.json";
  // Loadgen creates the segment and waits for the sidecar, which attaches
  // to it once it exists.
  const int loadgen_code =
      RunEmbeddedWithSidecar({"--games", "50", "--threads", "2"}, report_path, 240);
  ASSERT_EQ(loadgen_code, 0) << Slurp(dir_ / "loadgen.log");
  ASSERT_EQ(games_.size(), 50u);

  const nlohmann::json run = nlohmann::json::parse(Slurp(report_path));
  ExpectReportKeys(run, true);
  EXPECT_EQ(run["mode"], "embedded");
  EXPECT_EQ(run["games_completed"], 50);
  EXPECT_GT(run["card_plays"].get<long long>(), 0);
  EXPECT_EQ(run["errors"], 0);
  EXPECT_EQ(run["verify"]["ok"], true) << run.dump();
  EXPECT_EQ(run["verify"]["games"], 50);
  // The real sidecar's lag histograms were scraped twice and subtracted
  // (no --ramp-s: the window is the whole play).
  EXPECT_NE(Slurp(dir_ / "loadgen.log").find("(after the ramp, before the end; bucket bounds)"),
            std::string::npos)
      << Slurp(dir_ / "loadgen.log");

  // A Redis game altered on purpose.
  RedisProbe probe;
  ASSERT_TRUE(probe.Connect(RedisUrlOrDie()));
  const std::string key = GameKey(games_[0].id);
  const std::string seq = probe.GameState(key)["seq"];
  ASSERT_EQ(seq, std::to_string(games_[0].last_seq));
  // A later entry whose state says another seq.
  const RedisProbe::Reply last = probe.Command({"XREVRANGE", key, "+", "-", "COUNT", "1"});
  ASSERT_TRUE(last && last->type == REDIS_REPLY_ARRAY && last->elements == 1);
  std::string state = RedisProbe::EntryField(last->element[0], "state");
  const std::string was = "\"seq\":" + seq + ",";
  ASSERT_NE(state.find(was), std::string::npos) << state;
  state.replace(state.find(was), was.size(), "\"seq\":999999,");
  const RedisProbe::Reply added =
      probe.Command({"XADD", key, "999999-0", "state", state, "events", "[]"});
  ASSERT_TRUE(added && added->type == REDIS_REPLY_STRING);
  nlohmann::json report;
  EXPECT_EQ(VerifyOnly("altered", report), 1);
  ExpectReportKeys(report, true);
  EXPECT_EQ(report["verify"]["ok"], false);
  EXPECT_EQ(report["verify"]["mismatched"], 1);
  EXPECT_EQ(report["verify"]["lost"], 0);

  // Put back, it verifies again: the alteration was what it caught.
  ASSERT_EQ(probe.Integer({"XDEL", key, "999999-0"}), 1);
  EXPECT_EQ(VerifyOnly("restored", report), 0);
  EXPECT_EQ(report["verify"]["ok"], true);

  // A move row deleted on purpose.
  {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::nontransaction tx(c);
    // A command row of one card play and nothing else: one record.
    const auto deleted = tx.exec(
        "DELETE FROM game_commands WHERE (game_id, seq) = (SELECT game_id, seq FROM game_commands "
        "WHERE game_id = " +
        std::to_string(games_[1].id) +
        " AND card IS NOT NULL AND records IS NULL ORDER BY seq LIMIT 1)");
    ASSERT_EQ(deleted.affected_rows(), 1u);
  }
  EXPECT_EQ(VerifyOnly("deleted", report), 1);
  EXPECT_EQ(report["verify"]["ok"], false);
  EXPECT_EQ(report["verify"]["lost"], 1);
  EXPECT_EQ(report["verify"]["mismatched"], 0);
  EXPECT_EQ(report["verify"]["duplicated"], 0);

  // A row that covers a seq another row already holds: a card play's
  // command with a second record, and a one-record row at that second seq.
  {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::nontransaction tx(c);
    const auto overlapping = tx.exec(
        "INSERT INTO game_commands (game_id, seq, ts_ns, seat, card) SELECT game_id, seq + 1, "
        "ts_ns, seat, card "
        "FROM game_commands WHERE game_id = " +
        std::to_string(games_[2].id) +
        " AND card IS NOT NULL AND records IS NOT NULL ORDER BY seq LIMIT 1");
    ASSERT_EQ(overlapping.affected_rows(), 1u);
  }
  EXPECT_EQ(VerifyOnly("duplicated", report), 1);
  EXPECT_EQ(report["verify"]["duplicated"], 1);
  EXPECT_EQ(report["verify"]["lost"], 1);  // the row deleted above
}

TEST_F(LoadgenVerifyTest, SeedBaselineVerifiesItsOwnTablesAndCatchesADeletedRow) {
  seed_ = true;
  games_file_ = dir_ / "games.txt";
  const fs::path report_path = dir_ / "seed.json";
  const int code =
      Finish(Spawn(Loadgen({"--baseline", "seed", "--games", "20", "--threads", "2", "--pipeline",
                            "4", "--verify", "--json", report_path.string(), "--save-games",
                            games_file_.string()}),
                   dir_ / "seed.log"),
             std::chrono::seconds(300));
  ASSERT_NO_FATAL_FAILURE(LoadSavedGames());
  ASSERT_EQ(code, 0) << Slurp(dir_ / "seed.log");
  const nlohmann::json run = nlohmann::json::parse(Slurp(report_path));
  ExpectReportKeys(run, true);
  EXPECT_EQ(run["mode"], "seed-baseline");
  EXPECT_EQ(run["games_completed"], 20);
  EXPECT_EQ(run["verify"]["ok"], true) << run.dump();
  EXPECT_EQ(run["verify"]["pg_moves"], run["records"]);
  ASSERT_EQ(games_.size(), 20u);

  {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::nontransaction tx(c);
    const auto deleted =
        tx.exec("DELETE FROM seed_moves WHERE game_id = " + std::to_string(games_[0].id) +
                " AND seq = " + std::to_string(games_[0].last_seq));
    ASSERT_EQ(deleted.affected_rows(), 1u);
  }
  nlohmann::json report;
  EXPECT_EQ(VerifyOnly("deleted", report), 1);
  ExpectReportKeys(report, true);
  EXPECT_EQ(report["mode"], "seed-baseline");
  EXPECT_EQ(report["verify"]["ok"], false);
  EXPECT_EQ(report["verify"]["lost"], 1);
}

// Every rules variant under load: a non-default variant played through the
// real pipeline verifies ok, and the stores show the variant was played.
TEST_F(LoadgenVerifyTest, VerifyPassesForANonDefaultRulesVariant) {
  const fs::path report_path = dir_ / "run.json";
  const int loadgen_code = RunEmbeddedWithSidecar(
      {"--games", "20", "--play-all-tricks", "--target-points", "3", "--kot-points-hakem", "1",
       "--kot-points-opponents", "4", "--first-hakem", "random"},
      report_path, 120);
  ASSERT_EQ(loadgen_code, 0) << Slurp(dir_ / "loadgen.log");
  ASSERT_EQ(games_.size(), 20u);
  const nlohmann::json run = nlohmann::json::parse(Slurp(report_path));
  EXPECT_EQ(run["verify"]["ok"], true) << run.dump();
  EXPECT_EQ(run["errors"], 0);

  pqxx::connection c(PgUrlOrDie().ConnInfo());
  pqxx::nontransaction tx(c);
  const std::string in = " AND game_id IN (" + IdList() + ")";
  // Each game was created with the variant.
  EXPECT_EQ(
      tx.exec1("SELECT count(*) FROM game_moves WHERE type = 1 AND body->>'target_points' = "
               "'3' AND (body->>'play_all_tricks')::bool AND body->>'first_hakem' = '1' AND "
               "body->>'kot_points_hakem_team' = '1' AND body->>'kot_points_opponents' = '4'" +
               in)[0]
          .as<int>(),
      20);
  // And played by it: every scored hand ran all 13 tricks, and every game
  // ended at 3 points or more.
  EXPECT_EQ(
      tx.exec1("SELECT count(*) FROM game_moves WHERE type = 8" + in)[0].as<long long>(),
      13 * tx.exec1("SELECT count(*) FROM game_moves WHERE type = 9" + in)[0].as<long long>());
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM game_sessions WHERE status = 'finished' AND "
                     "greatest(points_a, points_b) >= 3" +
                     in)[0]
                .as<int>(),
            20);
}

// Turn deadlines end to end: hokm-engine --turn-timeout-ms plays a whole
// game for a client that seats four players and then never moves, waking for
// each deadline (not its park timeout, set long here), and both stores show
// every move flagged on_timeout.
TEST_F(LoadgenVerifyTest, TheEngineFinishesAGameWhoseClientStoppedMoving) {
  constexpr int kTimeoutMs = 20;
  const pid_t engine =
      Spawn({HOKM_ENGINE_BIN, "--shm-name", shm_name_, "--fresh", "--capacity", "64", "--ring-mb",
             "1", "--metrics-port", "0", "--wait", "park", "--wait-timeout-ms", "1000",
             "--turn-timeout-ms", std::to_string(kTimeoutMs)},
            dir_ / "engine.log");
  std::optional<shm::Segment> segment = proc::AttachWhenServing(shm_name_, engine);
  ASSERT_TRUE(segment) << "hokm-engine did not start:\n" << Slurp(dir_ / "engine.log");
  const pid_t sidecar = Spawn(
      {HOKM_SIDECAR_BIN, "--shm-name", shm_name_, "--redis-url", redis_url_, "--pg-url", pg_url_,
       "--spill-dir", (dir_ / "spill").string(), "--metrics-port", "0", "--batch-max-ms", "10"},
      dir_ / "sidecar.log");

  auto client = shm::CommandClient::Register(*segment);
  ASSERT_TRUE(client.ok()) << client.status().message();
  std::uint64_t request = 0;
  const auto send = [&](const core::Command& c) {
    EXPECT_EQ(core::SendCommand(*client, ++request, c), shm::WriteResult::kOk);
    shm::CommandResponse r{};
    EXPECT_TRUE(WaitUntil([&] { return client->TryReceive(r); }, std::chrono::seconds(10)));
    EXPECT_EQ(core::ResultOf(r), core::CommandResult::kOk);
    return r;
  };
  core::Command create{};
  create.type = core::CommandType::kCreateGame;
  create.seed = 77;
  create.config.target_points = 1;  // one hand: at most 53 moves
  std::memcpy(create.room, "clock", 5);
  const std::uint64_t game = send(create).game_id;
  ASSERT_NE(game, 0u);
  games_.push_back({game, 0});  // cleaned from the stores at the end
  for (int seat = 0; seat < 4; ++seat) {
    core::Command join{};
    join.type = core::CommandType::kJoin;
    join.game_id = game;
    join.seat = static_cast<std::uint8_t>(seat);
    join.player_id = (game & 0xFFFF'FFFF) * 4 + static_cast<std::uint64_t>(seat) + 1;
    send(join);
  }
  // The client moves no more. 53 moves of 20 ms each: about a second when
  // the engine wakes for each deadline; a second per move if only its park
  // timeout woke it.
  const auto start = Clock::now();
  core::GameState s{};
  ASSERT_TRUE(
      WaitUntil([&] { return segment->table().ReadGame(game, s) == shm::ReadResult::kNoSuchGame; },
                std::chrono::seconds(10)))
      << "the game did not end; phase " << static_cast<int>(s.phase) << ", seq " << s.seq;
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(53 * kTimeoutMs * 3));

  pqxx::connection c(PgUrlOrDie().ConnInfo());
  const std::string id = std::to_string(game);
  ASSERT_TRUE(WaitUntil(
      [&] {
        pqxx::nontransaction tx(c);
        return tx.exec1(
                     "SELECT count(*) FROM game_sessions WHERE status = 'finished' AND "
                     "game_id = " +
                     id)[0]
                   .as<int>() == 1;
      },
      std::chrono::seconds(20)))
      << "PostgreSQL never showed the game finished:\n"
      << Slurp(dir_ / "sidecar.log");
  pqxx::nontransaction tx(c);
  const auto moves = tx.exec1(
      "SELECT count(*), count(*) FILTER (WHERE (body->>'on_timeout')::bool) FROM game_moves "
      "WHERE type IN (5, 7) AND game_id = " +
      id);
  EXPECT_GE(moves[0].as<int>(), 1 + 28);  // trump and at least 7 tricks
  EXPECT_EQ(moves[1].as<int>(), moves[0].as<int>()) << "every move was the engine's";
  EXPECT_EQ(tx.exec1("SELECT body->>'turn_timeout_ms' FROM game_moves WHERE type = 1 AND "
                     "game_id = " +
                     id)[0]
                .as<std::string>(),
            std::to_string(kTimeoutMs));

  RedisProbe probe;
  ASSERT_TRUE(probe.Connect(RedisUrlOrDie()));
  int flagged = 0;
  for (const nlohmann::json& e : probe.Events(GameKey(game))) {
    if (e.value("on_timeout", false)) ++flagged;
  }
  EXPECT_EQ(flagged, moves[0].as<int>());
  ::kill(sidecar, SIGTERM);
  EXPECT_EQ(Finish(sidecar, std::chrono::seconds(30)), 0);
  ::kill(engine, SIGTERM);
  EXPECT_EQ(Finish(engine, std::chrono::seconds(30)), 0);
}

// The sidecar through a pgBouncer in transaction pooling mode with two
// server connections for all its sessions (each transaction may land on
// either, startup options are refused): every record arrives once and the
// run verifies against PostgreSQL directly. The sidecar gets the URL as a
// libpq key=value string, the other form libpq takes.
TEST_F(LoadgenVerifyTest, SidecarThroughPgBouncerInTransactionModeVerifies) {
  sidecar::integration::OwnPgBouncer bouncer(dir_ / "pgbouncer");
  const std::string down = bouncer.Start(PgUrlOrDie());
  ASSERT_TRUE(down.empty()) << down;
  sidecar_pg_url_ = bouncer.Url().ConnInfo();
  const fs::path report_path = dir_ / "run.json";
  const int loadgen_code =
      RunEmbeddedWithSidecar({"--games", "30", "--threads", "2"}, report_path, 60);
  ASSERT_EQ(loadgen_code, 0) << Slurp(dir_ / "loadgen.log");
  ASSERT_EQ(games_.size(), 30u);
  const nlohmann::json run = nlohmann::json::parse(Slurp(report_path));
  EXPECT_EQ(run["verify"]["ok"], true) << run.dump();
  EXPECT_EQ(run["verify"]["lost"], 0) << run.dump();
  EXPECT_EQ(run["verify"]["duplicated"], 0) << run.dump();
  // The sidecar's sessions went through pgBouncer (it logs each login).
  EXPECT_NE(bouncer.Log().find("login attempt"), std::string::npos) << bouncer.Log();
  EXPECT_NE(Slurp(dir_ / "sidecar.log").find("127.0.0.1:" + std::to_string(bouncer.port())),
            std::string::npos)
      << Slurp(dir_ / "sidecar.log");
}

// --disconnect-rate through hokm-engine: players drop and reconnect by
// PlayerConnection commands; each reconnected player's view, read from the
// segment as a client of hokm-engine reads it, is exactly its own hand and
// the public state; the disconnects reach PostgreSQL as records, and the
// run verifies.
TEST_F(LoadgenVerifyTest, ReconnectedPlayersSeeTheirOwnHandThroughHokmEngine) {
  games_file_ = dir_ / "games.txt";
  const fs::path report_path = dir_ / "run.json";
  const pid_t engine = Spawn({HOKM_ENGINE_BIN, "--shm-name", shm_name_, "--fresh", "--capacity",
                              "1000", "--ring-mb", "16", "--metrics-port", "0"},
                             dir_ / "engine.log");
  ASSERT_TRUE(proc::AttachWhenServing(shm_name_, engine)) << Slurp(dir_ / "engine.log");
  const pid_t sidecar = Spawn(
      {HOKM_SIDECAR_BIN, "--shm-name", shm_name_, "--redis-url", redis_url_, "--pg-url", pg_url_,
       "--spill-dir", (dir_ / "spill").string(), "--metrics-port", std::to_string(metrics_port_),
       "--batch-max-ms", "10", "--drain-and-exit", "--drain-timeout-s", "60"},
      dir_ / "sidecar.log");
  const int loadgen_code = Finish(
      Spawn(Loadgen({"--mode", "shm", "--shm-name", shm_name_, "--games", "20", "--disconnect-rate",
                     "0.1", "--verify", "--verify-timeout-s", "60", "--wait-for-sidecar", "30",
                     "--json", report_path.string(), "--save-games", games_file_.string()}),
            dir_ / "loadgen.log"),
      std::chrono::seconds(120));
  ::kill(engine, SIGTERM);
  EXPECT_EQ(Finish(engine, std::chrono::seconds(30)), 0) << Slurp(dir_ / "engine.log");
  EXPECT_EQ(Finish(sidecar, std::chrono::seconds(60)), 0) << Slurp(dir_ / "sidecar.log");
  ASSERT_NO_FATAL_FAILURE(LoadSavedGames());
  ASSERT_EQ(loadgen_code, 0) << Slurp(dir_ / "loadgen.log");

  const nlohmann::json run = nlohmann::json::parse(Slurp(report_path));
  EXPECT_EQ(run["mode"], "shm");
  EXPECT_EQ(run["games_completed"], 20);
  EXPECT_EQ(run["errors"], 0);
  EXPECT_EQ(run["verify"]["ok"], true) << run.dump();
  const long long reconnects = run["reconnects"].get<long long>();
  EXPECT_GT(reconnects, 20) << run.dump();
  EXPECT_EQ(run["reconnect_mismatches"], 0) << Slurp(dir_ / "loadgen.log");
  // About a tenth of the turns (trump choices and card plays).
  const long long turns = run["card_plays"].get<long long>();
  EXPECT_GT(reconnects, turns / 20) << turns << " card plays";
  EXPECT_LT(reconnects, turns / 5) << turns << " card plays";

  // Each reconnect is a disconnect and a connect, stored once each.
  pqxx::connection c(PgUrlOrDie().ConnInfo());
  pqxx::nontransaction tx(c);
  const auto stored = tx.exec1(
      "SELECT count(*) FILTER (WHERE NOT (body->>'connected')::boolean), "
      "count(*) FILTER (WHERE (body->>'connected')::boolean) FROM game_moves "
      "WHERE type = 12 AND game_id IN (" +
      IdList() + ")");
  EXPECT_EQ(stored[0].as<long long>(), reconnects);
  EXPECT_EQ(stored[1].as<long long>(), reconnects);
}

// The same in-process (--mode embedded, the views through
// Engine::PlayerView), without the stores: --drain consumes the records.
TEST_F(LoadgenVerifyTest, ReconnectedPlayersSeeTheirOwnHandInProcess) {
  const fs::path report_path = dir_ / "run.json";
  const int code =
      Finish(Spawn(Loadgen({"--mode", "embedded", "--shm-name", shm_name_, "--fresh", "--games",
                            "20", "--threads", "2", "--drain", "--disconnect-rate", "0.5", "--json",
                            report_path.string()}),
                   dir_ / "loadgen.log"),
             std::chrono::seconds(60));
  ASSERT_EQ(code, 0) << Slurp(dir_ / "loadgen.log");
  const nlohmann::json run = nlohmann::json::parse(Slurp(report_path));
  EXPECT_EQ(run["errors"], 0);
  EXPECT_GT(run["reconnects"].get<long long>(), run["card_plays"].get<long long>() / 4);
  EXPECT_EQ(run["reconnect_mismatches"], 0) << Slurp(dir_ / "loadgen.log");
  EXPECT_NE(Slurp(dir_ / "loadgen.log").find("reconnects"), std::string::npos);
}

}  // namespace
}  // namespace hokm::loadgen
