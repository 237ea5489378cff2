// rebuild_redis_test.cc: hokmctl rebuild-redis against the real servers and
// a real segment: after FLUSHALL, a live game of the segment's game table
// and a game that finished a minute ago (in PostgreSQL through the sink)
// are back in Redis with the right state, the live game's players and
// the active set, the finished game's TTL, rated marker and leaderboard; then
// the same without a segment (PostgreSQL's games only) and for one game.
#include <pwd.h>

#include <sstream>
#include <string>

#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "shm/segment.h"
#include "tests/ctl/stores_fixture.h"

namespace hokm::ctl::testing {
namespace {

using namespace hokm::sidecar::integration;
using sidecar::PublicState;
using sidecar::RecordRef;
using sidecar::testing::OwnedRecord;
using sidecar::testing::ScriptedGame;

class RebuildRedisTest : public StoresTest {
 protected:
  void SetUp() override {
    StoresTest::SetUp();
    if (HasFailure()) return;
    (void)shm::Segment::Remove(shm_);
    CleanStores({ids_.Game(1)});
  }

  void TearDown() override {
    (void)shm::Segment::Remove(shm_);
    if (pq_) CleanStores({ids_.Game(1), live_id_});
  }

  // A segment with one live game in its table: created, four players
  // seated (ids_.Player(5..8)), `moves` bot moves played.
  void MakeLiveGame(int moves) {
    shm::SegmentOptions options;
    options.name = shm_;
    options.table_capacity = 64;
    options.command_ring_bytes = 1 << 16;
    options.change_ring_bytes = 1 << 16;
    options.client_slots = 4;
    options.response_ring_bytes = 1 << 12;
    auto segment = shm::Segment::Create(options);
    ASSERT_TRUE(segment.ok()) << segment.status().message();
    segment_.emplace(std::move(segment).value());
    auto a = segment_->table().Allocate(0, [&](std::uint64_t game_id) {
      core::GameState s{};
      core::ChangeBuffer out;
      EXPECT_EQ(core::CreateGame(s, game_id, "LIVE", 77, core::RulesConfig{}, out),
                core::CommandResult::kOk);
      for (int seat = 0; seat < core::kSeats; ++seat) {
        out.Clear();
        EXPECT_EQ(core::Join(s, seat, ids_.Player(5 + seat), out), core::CommandResult::kOk);
      }
      core::RandomBot bot(77);
      for (int k = 0; k < moves && core::SeatToAct(s) >= 0; ++k) {
        out.Clear();
        EXPECT_EQ(core::Apply(s, bot.NextCommand(s), out), core::CommandResult::kOk);
      }
      live_state_ = s;
      return s;
    });
    ASSERT_TRUE(a.has_value());
    live_id_ = a->game_id;
  }

  // A game through both sinks that finished about a minute ago.
  void MakeFinishedGame() {
    finished_ =
        PlayRealGame(ids_.Game(1), {ids_.Player(1), ids_.Player(2), ids_.Player(3), ids_.Player(4)},
                     5, NowNs() - 60'000'000'000ull);
    ASSERT_GE(finished_.winner_team, 0);
    std::vector<const OwnedRecord*> records;
    for (const OwnedRecord& r : finished_.records) records.push_back(&r);
    const std::vector<RecordRef> refs = sidecar::testing::Refs(records, 100);
    ASSERT_TRUE(redis_->Write(refs).ok());
    const Status s = pg_->WriteBatch(refs, "", 0);
    ASSERT_TRUE(s.ok()) << s.message();
  }

  void ExpectLiveGameBack() {
    bool has_stream = false;
    const std::optional<PublicState> got = probe_.TopState(GameKey(live_id_), &has_stream);
    ASSERT_TRUE(has_stream) << "no stream for the live game " << live_id_;
    ASSERT_TRUE(got.has_value());
    PublicState want = PublicState::FromGame(live_state_);
    want.updated_ms = got->updated_ms;
    EXPECT_EQ(*got, want) << "the live game's state is not the segment's";
    EXPECT_GT(live_state_.seq, 5u);
    for (int seat = 0; seat < 4; ++seat) {
      auto h = probe_.Hash(PlayerKey(ids_.Player(5 + seat)));
      EXPECT_EQ(h["game"], std::to_string(live_id_));
      EXPECT_EQ(h["seat"], std::to_string(seat));
    }
    EXPECT_TRUE(
        probe_.Score(sidecar::keys::Active(live_id_), std::to_string(live_id_)).has_value());
  }

  void ExpectFinishedGameBack() {
    bool has_stream = false;
    const std::optional<PublicState> got = probe_.TopState(GameKey(ids_.Game(1)), &has_stream);
    ASSERT_TRUE(has_stream) << "no stream for the finished game";
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->phase, PublicState::Phase::kFinished);
    EXPECT_EQ(got->seq, finished_.records.size());
    EXPECT_EQ(got->winner, finished_.winner_team);
    EXPECT_EQ(got->points[0], finished_.points_a);
    EXPECT_EQ(got->points[1], finished_.points_b);
    for (int seat = 0; seat < 4; ++seat) EXPECT_EQ(got->seats[seat], ids_.Player(1 + seat));
    const long long ttl = probe_.Integer({"PTTL", GameKey(ids_.Game(1))});
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 15 * 60 * 1000) << "a finished game keeps what is left of its 15 min";
    // Rated: in the rated set of the leaderboard shard of each player.
    for (int seat = 0; seat < 4; ++seat) {
      EXPECT_TRUE(probe_
                      .Score(sidecar::keys::RatedShard(
                                 sidecar::keys::LeaderboardShardOf(ids_.Player(1 + seat))),
                             std::to_string(ids_.Game(1)))
                      .has_value())
          << "seat " << seat;
    }
  }

  const std::string shm_ = TestSegmentName("rebuild");
  std::optional<shm::Segment> segment_;
  core::GameState live_state_{};
  std::uint64_t live_id_ = 0;
  ScriptedGame finished_;
};

// rebuild-redis rewrites the latest ended games of the whole database: a
// game another suite altered on purpose (a deleted row, a changed card)
// does not replay, and it exits 1 saying how many it left out. Any other
// problem, or another exit code, fails; this test's own games must be back
// either way (checked by the callers).
void ExpectRebuilt(const CtlRun& run) {
  if (run.exit_code == 0) return;
  ASSERT_EQ(run.exit_code, 1) << run.Text();
  std::istringstream err(run.err);
  for (std::string line; std::getline(err, line);) {
    if (line.rfind("hokmctl: ", 0) == 0) {
      EXPECT_NE(line.find("ended game(s) left out"), std::string::npos) << run.Text();
    }
  }
}

TEST_F(RebuildRedisTest, AfterFlushallTheLiveAndTheFinishedGameAreBack) {
  MakeFinishedGame();
  MakeLiveGame(30);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(probe_.Command({"FLUSHALL"}));
  ASSERT_EQ(probe_.Integer({"DBSIZE"}), 0);

  const CtlRun run = RunHokmctl({"rebuild-redis", "--json"}, shm_);
  ExpectRebuilt(run);
  const nlohmann::json j = run.Json();
  EXPECT_EQ(j["segment"], shm_) << run.Text();
  EXPECT_EQ(j["live_games"], 1) << run.Text();
  EXPECT_GE(j["ended_games"].get<int>(), 1) << run.Text();
  EXPECT_EQ(j["marker_set"], true) << run.Text();
  ExpectLiveGameBack();
  ExpectFinishedGameBack();
  EXPECT_EQ(probe_.Integer({"EXISTS", MarkerKey()}), 1);
  // The leaderboard from PostgreSQL's ratings.
  for (const auto& row : pqxx::nontransaction(*pq_).exec(
           "SELECT player_id, rating FROM players WHERE player_id BETWEEN " +
           std::to_string(ids_.Player(1)) + " AND " + std::to_string(ids_.Player(4)))) {
    EXPECT_EQ(probe_.Score(sidecar::keys::Leaderboard(row[0].as<std::uint64_t>()),
                           row[0].as<std::string>()),
              row[1].as<double>());
  }
  const passwd* pw = ::getpwuid(::geteuid());
  ASSERT_NE(pw, nullptr);
  pqxx::nontransaction tx(*pq_);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM audit_log WHERE action = 'rebuild_redis' AND actor = " +
                     tx.quote(pw->pw_name) + " AND details->>'segment' = " + tx.quote(shm_))[0]
                .as<int>(),
            1);
}

TEST_F(RebuildRedisTest, WithoutASegmentOnlyPostgresqlsGamesComeBack) {
  MakeFinishedGame();
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(probe_.Command({"FLUSHALL"}));

  const CtlRun run = RunHokmctl({"rebuild-redis"}, shm_);
  ExpectRebuilt(run);
  EXPECT_NE(run.out.find("no segment " + shm_), std::string::npos) << run.Text();
  ExpectFinishedGameBack();
  EXPECT_EQ(probe_.Integer({"EXISTS", MarkerKey()}), 0)
      << "without the segment's live games the marker is the sidecar's to set";
}

TEST_F(RebuildRedisTest, OneGameAloneLiveOrFinished) {
  MakeFinishedGame();
  MakeLiveGame(12);
  ASSERT_FALSE(HasFailure());
  probe_.Command({"DEL", GameKey(live_id_), GameKey(ids_.Game(1))});

  const CtlRun live =
      RunHokmctl({"rebuild-redis", "--game", std::to_string(live_id_), "--json"}, shm_);
  ASSERT_EQ(live.exit_code, 0) << live.Text();
  EXPECT_EQ(live.Json()["live_games"], 1) << live.Text();
  EXPECT_EQ(live.Json()["ended_games"], 0) << live.Text();
  ExpectLiveGameBack();
  EXPECT_TRUE(probe_.GameState(GameKey(ids_.Game(1))).empty()) << "only the game asked for";

  const CtlRun ended =
      RunHokmctl({"rebuild-redis", "--game", std::to_string(ids_.Game(1)), "--json"}, shm_);
  ASSERT_EQ(ended.exit_code, 0) << ended.Text();
  EXPECT_EQ(ended.Json()["ended_games"], 1) << ended.Text();
  ExpectFinishedGameBack();

  const CtlRun unknown =
      RunHokmctl({"rebuild-redis", "--game", std::to_string(ids_.Game(999))}, shm_);
  EXPECT_EQ(unknown.exit_code, 1) << unknown.Text();
  EXPECT_NE(unknown.err.find("nothing rebuilt"), std::string::npos) << unknown.Text();
}

}  // namespace
}  // namespace hokm::ctl::testing
