// check_test.cc: `hokmctl check` (ctl/check.cc) against the real servers: an
// engine in this process, the real hokm-sidecar binary, some games played
// to the end and some left live; check --all is clean, then finds a deleted
// PostgreSQL row (pg_gap), a changed Redis state field (redis_field) and a
// deleted stream (redis_missing), each by game and kind, and nothing else.
//
// Redis: the test uses its own database (/9 of the server's URL) and
// empties it first, so no stream of another run is in what --all reads.
// PostgreSQL needs no such care: check reads only the games it finds in the
// segment and in Redis.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/engine.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "tests/ctl/ctl_run.h"
#include "tests/ctl/engine_games.h"
#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::sidecar::integration {
namespace {

namespace fs = std::filesystem;

// Runs hokmctl with `args`; returns its exit code and stdout.
std::pair<int, std::string> Hokmctl(const std::vector<std::string>& args) {
  const ctl::testing::CtlResult r = ctl::testing::RunCtl(args);
  return {r.exit_code, r.out};
}

class CheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* prefix = std::getenv("HOKM_SHM_NAME");
    shm_name_ = std::string(prefix && *prefix ? prefix : "hokm-ctl") + "-check-" +
                std::to_string(::getpid());
    spill_dir_ = fs::temp_directory_path() / shm_name_;
    fs::remove_all(spill_dir_);
    (void)shm::Segment::Remove(shm_name_);
    RedisUrl url = RedisUrlOrDie();
    url.db = 9;
    redis_url_ =
        "redis://" + (url.password.empty() ? "" : ":" + url.password + "@") + url.HostPort() + "/9";
    pg_url_ = PgUrlString();
    ASSERT_TRUE(redis_.Connect(url))
        << NotAnswering("redis", url.HostPort(), Status::Unavailable("connect failed"));
    ASSERT_EQ(std::string(redis_.Command({"FLUSHDB"})->str), "OK");
    try {
      pqxx::connection c(PgUrlOrDie().ConnInfo());
    } catch (const std::exception& e) {
      FAIL() << NotAnswering("postgres", PgUrlOrDie().HostPort(), Status::Unavailable(e.what()));
    }
    player_base_ = IdRange::ForThisTest().counter << 16;
  }
  void TearDown() override {
    engine_.reset();
    if (sidecar_ > 0) {
      ::kill(sidecar_, SIGKILL);
      ::waitpid(sidecar_, nullptr, 0);
    }
    (void)shm::Segment::Remove(shm_name_);
    fs::remove_all(spill_dir_);
  }

  void Start() {
    EngineOptions o;
    o.shm_name = shm_name_;
    o.capacity = 1024;
    o.ring_bytes = 16 << 20;
    o.command_ring_bytes = 1 << 16;
    o.client_slots = 4;
    o.reuse_existing = false;
    auto e = Engine::Open(o);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(e).value();
    sidecar_ = proc::Spawn({HOKM_SIDECAR_BIN, "--shm-name", shm_name_, "--redis-url", redis_url_,
                            "--pg-url", pg_url_, "--spill-dir", spill_dir_.string(),
                            "--metrics-port", "0", "--batch-max-ms", "10"});
  }

  // Creates a game with four players and plays `moves` bot moves in it (or
  // to its end when moves < 0).
  std::uint64_t Play(int moves, std::uint64_t seed) {
    return ctl::testing::PlayGame(
        *engine_, {.seed = seed,
                   .first_player = player_base_ + 1 + static_cast<std::uint64_t>(seed % 1000) * 4,
                   .bot_seed = seed,
                   .moves = moves});
  }

  // Until the sidecar has committed the change ring to its end: both stores
  // hold every record.
  void WaitDelivered() {
    const shm::Ring ring = engine_->segment().change_ring(0);
    ASSERT_TRUE(proc::WaitUntil([&] { return ring.HeadPosition() >= ring.TailPosition(); },
                                std::chrono::seconds(60)))
        << "the sidecar did not deliver within 60 s";
  }

  nlohmann::json Check(int expect_exit) {
    const auto [code, out] = Hokmctl({"check", "--all", "--json", "--rate", "0", "--shm-name",
                                      shm_name_, "--redis-url", redis_url_, "--pg-url", pg_url_});
    EXPECT_EQ(code, expect_exit) << out;
    nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << out;
    return j.is_object() ? j : nlohmann::json::object();
  }

  // The (game, kind) pairs of the report's differences.
  static std::set<std::pair<std::uint64_t, std::string>> Found(const nlohmann::json& j) {
    std::set<std::pair<std::uint64_t, std::string>> out;
    for (const auto& d : j.value("differences", nlohmann::json::array())) {
      out.emplace(d.value("game", 0ull), d.value("kind", ""));
    }
    return out;
  }

  std::string shm_name_;
  fs::path spill_dir_;
  std::string redis_url_, pg_url_;
  std::uint64_t player_base_ = 0;
  std::unique_ptr<Engine> engine_;
  pid_t sidecar_ = -1;
  RedisProbe redis_;
};

TEST_F(CheckTest, CleanAfterARunThenFindsEachFaultByGameAndKind) {
  Start();
  std::vector<std::uint64_t> finished, live;
  for (int k = 0; k < 12; ++k) finished.push_back(Play(-1, 1000 + k));
  for (int k = 0; k < 12; ++k) live.push_back(Play(5 + 3 * k, 2000 + k));
  WaitDelivered();

  // Clean: every game checked, none differing.
  nlohmann::json j = Check(0);
  EXPECT_EQ(j["live"]["in_segment"], live.size());
  EXPECT_EQ(j["live"]["checked"], live.size());
  EXPECT_EQ(j["live"]["ok"], live.size());
  EXPECT_EQ(j["finished"]["checked"], finished.size());
  EXPECT_EQ(j["finished"]["ok"], finished.size());
  EXPECT_EQ(j["continuity"]["games"], live.size() + finished.size());
  EXPECT_EQ(j["differences_total"], 0);

  // 1. A PostgreSQL row deleted from the middle of a finished game.
  const std::uint64_t gap_game = finished[3];
  {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::work tx(c);
    const auto r = tx.exec(
        "DELETE FROM game_commands WHERE (game_id, seq) = (SELECT game_id, seq FROM "
        "game_commands WHERE game_id = " +
        std::to_string(gap_game) + " ORDER BY seq OFFSET 20 LIMIT 1) RETURNING seq");
    ASSERT_EQ(r.size(), 1u);
    tx.commit();
  }
  j = Check(1);
  EXPECT_EQ(Found(j), (std::set<std::pair<std::uint64_t, std::string>>{{gap_game, "pg_gap"}}))
      << j.dump();
  EXPECT_EQ(j["kinds"]["pg_gap"], 1);

  // 2. One field of a live game's state changed in Redis: its last entry
  // written again with the points altered (the stream's entries cannot be
  // edited in place: DEL, then XADD the same ID).
  const std::uint64_t field_game = live[7];
  const std::string key = GameKey(field_game);
  {
    auto top = redis_.Command({"XREVRANGE", key, "+", "-", "COUNT", "1"});
    ASSERT_TRUE(top && top->type == REDIS_REPLY_ARRAY && top->elements == 1);
    const std::string id(top->element[0]->element[0]->str, top->element[0]->element[0]->len);
    nlohmann::json state = nlohmann::json::parse(RedisProbe::EntryField(top->element[0], "state"));
    ASSERT_TRUE(state.is_object());
    state["points"] = {5, 6};
    const std::string events = RedisProbe::EntryField(top->element[0], "events");
    redis_.Command({"DEL", key});
    auto added = redis_.Command({"XADD", key, id, "state", state.dump(), "events", events});
    ASSERT_TRUE(added && added->type == REDIS_REPLY_STRING)
        << (added && added->str ? added->str : "no reply");
  }
  j = Check(1);
  const auto found = Found(j);
  EXPECT_TRUE(found.contains({field_game, "redis_field"})) << j.dump();
  EXPECT_TRUE(found.contains({gap_game, "pg_gap"})) << j.dump();
  EXPECT_EQ(found.size(), 2u) << j.dump();
  bool named_points = false;
  for (const auto& d : j["differences"]) {
    if (d["game"] == field_game) {
      named_points = d["field"] == "points" && d["redis"] == "[5,6]" && d["segment"] != "[5,6]";
    }
  }
  EXPECT_TRUE(named_points) << j.dump();

  // 3. A live game's stream deleted.
  const std::uint64_t missing_game = live[2];
  ASSERT_EQ(redis_.Integer({"DEL", GameKey(missing_game)}), 1);
  j = Check(1);
  EXPECT_EQ(
      Found(j),
      (std::set<std::pair<std::uint64_t, std::string>>{
          {gap_game, "pg_gap"}, {field_game, "redis_field"}, {missing_game, "redis_missing"}}))
      << j.dump();
  EXPECT_EQ(j["differing_games"], 3);
  EXPECT_EQ(j["live"]["ok"], live.size() - 2);

  // The human output names them too.
  const auto [code, text] = Hokmctl({"check", "--all", "--rate", "0", "--shm-name", shm_name_,
                                     "--redis-url", redis_url_, "--pg-url", pg_url_});
  EXPECT_EQ(code, 1);
  EXPECT_NE(text.find("game " + std::to_string(missing_game) + " redis_missing"), std::string::npos)
      << text;
  EXPECT_NE(text.find("game " + std::to_string(gap_game) + " pg_gap"), std::string::npos) << text;
}

TEST_F(CheckTest, UsageErrorsExit2AndAStoreDownExits1) {
  EXPECT_EQ(Hokmctl({"check", "--all", "--sample", "5"}).first, 2);
  EXPECT_EQ(Hokmctl({"check", "--rate", "-1"}).first, 2);
  EXPECT_EQ(Hokmctl({"check", "--shm-name", shm_name_, "--redis-url", "redis://127.0.0.1:1/0",
                     "--pg-url", pg_url_})
                .first,
            1);
}

}  // namespace
}  // namespace hokm::sidecar::integration
