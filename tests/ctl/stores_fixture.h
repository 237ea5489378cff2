// stores_fixture.h: the fixture of the hokmctl repair tests: both sinks
// (the sidecar's code, to put games and dead letters into the stores the
// way the sidecar does), raw clients to look at the stores, this test's
// ids (tests/integration/stores.h) and the cleanup of what they left.
#pragma once

#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/ctl/run_hokmctl.h"

namespace hokm::ctl::testing {

inline std::uint64_t NowNs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

class StoresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    using namespace hokm::sidecar::integration;
    ::signal(SIGPIPE, SIG_IGN);
    ids_ = IdRange::ForThisTest();
    const sidecar::RedisUrl redis_url = RedisUrlOrDie();
    const sidecar::PgUrl pg_url = PgUrlOrDie();
    ASSERT_FALSE(HasFailure());
    sidecar::RedisSinkOptions redis_options;
    redis_options.stream_maxlen = 5000;  // whole games: the tests count events
    auto redis = sidecar::RedisSink::Connect(redis_url, redis_options);
    ASSERT_TRUE(redis.ok()) << NotAnswering("redis", redis_url.HostPort(), redis.status());
    redis_ = std::make_unique<sidecar::RedisSink>(std::move(redis).value());
    auto pg = sidecar::PgSink::Connect(pg_url);
    ASSERT_TRUE(pg.ok()) << NotAnswering("postgresql", pg_url.HostPort(), pg.status());
    pg_ = std::make_unique<sidecar::PgSink>(std::move(pg).value());
    const Status schema = pg_->ApplySchema(SchemaDir());
    ASSERT_TRUE(schema.ok()) << schema.message();
    ASSERT_TRUE(probe_.Connect(redis_url))
        << "redis probe: cannot connect to " << redis_url.HostPort();
    pq_ = std::make_unique<pqxx::connection>(pg_url.ConnInfo());
  }

  pqxx::result Query(const std::string& sql) {
    pqxx::nontransaction tx(*pq_);
    return tx.exec(sql);
  }
  void Exec(const std::string& sql) { Query(sql); }
  long long Count(const std::string& sql) { return Query(sql)[0][0].as<long long>(); }

  // Removes from both stores what this test's ids and `games` (outside
  // them: a segment's) may hold, dead letters of the ids included.
  void CleanStores(const std::vector<std::uint64_t>& games) {
    using hokm::sidecar::integration::GameKey;
    using hokm::sidecar::integration::PlayerKey;
    const std::string range =
        std::to_string(ids_.FirstGame()) + " AND " + std::to_string(ids_.LastGame());
    const std::string players =
        std::to_string(ids_.FirstPlayer()) + " AND " + std::to_string(ids_.LastPlayer());
    Exec("DELETE FROM game_commands WHERE game_id BETWEEN " + range + ";" +
         "DELETE FROM game_sessions WHERE game_id BETWEEN " + range + ";" +
         "DELETE FROM game_participants WHERE game_id BETWEEN " + range + ";" +
         "DELETE FROM hands WHERE game_id BETWEEN " + range + ";" +
         "DELETE FROM dead_letters WHERE game_id BETWEEN " + range + ";" +
         "DELETE FROM players WHERE player_id BETWEEN " + players + ";" +
         "DELETE FROM sidecar_checkpoint WHERE name = '" + ids_.Checkpoint() + "';");
    std::vector<std::vector<std::string>> cmds;
    for (std::uint64_t g : games) sidecar::integration::AppendGameCleanup(g, cmds);
    for (int p = 1; p <= kPlayers; ++p)
      sidecar::integration::AppendPlayerCleanup(ids_.Player(p), cmds);
    probe_.Pipeline(cmds);
  }

  // The tests seat ids_.Player(1 .. kPlayers).
  static constexpr int kPlayers = 8;

  hokm::sidecar::integration::IdRange ids_;
  std::unique_ptr<sidecar::RedisSink> redis_;
  std::unique_ptr<sidecar::PgSink> pg_;
  hokm::sidecar::integration::RedisProbe probe_;
  std::unique_ptr<pqxx::connection> pq_;
};

}  // namespace hokm::ctl::testing
