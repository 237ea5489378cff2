// sinks_test.cc: the Redis and PostgreSQL sinks against the real servers
// started by `make services`: full games arrive exactly once in both stores,
// replays change nothing, poison is dead-lettered while the rest commits,
// checkpoints commit with their batch, and the readers' contract of the
// stores (README "Reading the stores") holds.
#include <signal.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/records/record_types.h"
#include "tests/integration/stores.h"

namespace hokm::sidecar::integration {
namespace {

namespace fb = hokm::fb;
using namespace hokm::sidecar::testing;

constexpr std::uint64_t kTs0 = 1'790'000'000'000'000'000ull;  // 2026-09, in ns

// 1, 2, ..., n: the seqs of a game's records, each once.
std::vector<std::uint64_t> AllSeqs(std::size_t n) {
  std::vector<std::uint64_t> seqs(n);
  for (std::size_t k = 0; k < n; ++k) seqs[k] = k + 1;
  return seqs;
}

class SinksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    ids_ = IdRange::ForThisTest();
    const RedisUrl redis_url = RedisUrlOrDie();
    const PgUrl pg_url = PgUrlOrDie();
    ASSERT_FALSE(HasFailure());
    RedisSinkOptions redis_options;
    redis_options.stream_maxlen = 5000;  // keep whole games: the tests count entries
    auto redis = RedisSink::Connect(redis_url, redis_options);
    ASSERT_TRUE(redis.ok()) << NotAnswering("redis", redis_url.HostPort(), redis.status());
    redis_ = std::make_unique<RedisSink>(std::move(redis).value());
    auto pg = PgSink::Connect(pg_url);
    ASSERT_TRUE(pg.ok()) << NotAnswering("postgresql", pg_url.HostPort(), pg.status());
    pg_ = std::make_unique<PgSink>(std::move(pg).value());
    const Status schema = pg_->ApplySchema(SchemaDir());
    ASSERT_TRUE(schema.ok()) << schema.message();
    ASSERT_TRUE(probe_.Connect(redis_url))
        << "redis probe could not connect to " << redis_url.HostPort();
    pq_ = std::make_unique<pqxx::connection>(pg_url.ConnInfo());
    Clean();
  }

  void TearDown() override {
    if (pq_ && std::getenv("HOKM_TEST_KEEP") == nullptr) Clean();
  }

  // Everything this test's ids may have left in both stores.
  void Clean() {
    Exec(CleanIdsSql(ids_));
    for (const auto& payload : extra_dead_letters_) {
      Exec("DELETE FROM dead_letters WHERE payload = " +
           pq_->quote_raw(payload.data(), payload.size()));
    }
    std::vector<std::vector<std::string>> cmds;
    for (std::uint64_t g : used_games_) AppendGameCleanup(g, cmds);
    for (std::uint64_t p : used_players_) AppendPlayerCleanup(p, cmds);
    probe_.Pipeline(cmds);
  }

  pqxx::result Query(const std::string& sql) {
    pqxx::nontransaction tx(*pq_);
    return tx.exec(sql);
  }
  void Exec(const std::string& sql) { Query(sql); }
  long long Count(const std::string& sql) { return Query(sql)[0][0].as<long long>(); }

  std::string InGames(const std::string& column = "game_id") const {
    return column + " BETWEEN " + std::to_string(ids_.FirstGame()) + " AND " +
           std::to_string(ids_.LastGame());
  }

  // n games through the real rules; seats from a pool of pool_size players.
  std::vector<ScriptedGame> RealGames(int n, int pool_size, std::uint64_t seed) {
    std::vector<ScriptedGame> games;
    for (int i = 0; i < n; ++i) {
      std::array<std::uint64_t, 4> seats{};
      for (int s = 0; s < 4; ++s) seats[s] = ids_.Player(1 + (i * 7 + s * 3) % pool_size);
      games.push_back(
          PlayRealGame(ids_.Game(1 + i), seats, seed + i, kTs0 + std::uint64_t(i) * 1'000'000'000));
      Track(games.back());
    }
    return games;
  }

  void Track(const ScriptedGame& g) {
    used_games_.insert(g.game_id);
    used_players_.insert(g.players.begin(), g.players.end());
  }

  // Both sinks, batch_size records at a time (a batch ends at a command's
  // end, as the sidecar cuts them), checkpoint at each batch's end.
  void Deliver(const std::vector<RecordRef>& refs, std::size_t batch_size) {
    for (std::size_t at = 0, n = 0; at < refs.size(); at += n) {
      n = std::min(batch_size, refs.size() - at);
      while (at + n < refs.size() && refs[at + n].position == refs[at + n - 1].position) ++n;
      const std::span<const RecordRef> batch(refs.data() + at, n);
      const Status r = redis_->Write(batch);
      ASSERT_TRUE(r.ok()) << r.message();
      const Status p = pg_->WriteBatch(batch, ids_.Checkpoint(), batch.back().position);
      ASSERT_TRUE(p.ok()) << p.message();
    }
  }

  // Every Redis key of this test's games and players, in a canonical text:
  // the game's state and every event of its stream in order, player hash
  // fields sorted, the kind of TTL, and (unless with_active is false) each
  // game's score in its active-set shard.
  std::string RedisDump(bool with_active = true) {
    std::string out;
    // n: no TTL; s: at most the 15 min of a finished game; l: longer.
    const auto ttl = [&](const std::string& key) {
      const long long ms = probe_.Integer({"PTTL", key});
      return std::string(ms <= 0 ? "n" : ms <= 15 * 60 * 1000 ? "s" : "l");
    };
    const auto hash = [&](const std::string& key) {
      std::map<std::string, std::string> h = probe_.Hash(key);
      out += key + " ttl=" + ttl(key) + " {";
      for (const auto& [f, v] : h) out += f + "=" + v + ",";
      out += "}\n";
    };
    for (std::uint64_t g : used_games_) {
      out += GameKey(g) + " ttl=" + ttl(GameKey(g)) + " {";
      for (const auto& [f, v] : probe_.GameState(GameKey(g))) out += f + "=" + v + ",";
      out += "}\nevents";
      for (const auto& e : probe_.Events(GameKey(g))) out += " " + e.dump();
      out += "\n";
      if (with_active)
        out += "active=" +
               std::to_string(probe_.Score(keys::Active(g), std::to_string(g)).value_or(-1)) + "\n";
    }
    for (std::uint64_t p : used_players_) {
      hash(PlayerKey(p));
      out += "lb=" +
             std::to_string(probe_.Score(keys::Leaderboard(p), std::to_string(p)).value_or(-1)) +
             "\n";
    }
    return out;
  }

  struct PlayerTally {
    long long games = 0, wins = 0, losses = 0;
    long long Rating() const { return 1500 + 16 * (wins - losses); }
  };
  static std::map<std::uint64_t, PlayerTally> Tally(const std::vector<ScriptedGame>& games) {
    std::map<std::uint64_t, PlayerTally> t;
    for (const auto& g : games) {
      if (g.winner_team < 0) continue;
      for (int s = 0; s < 4; ++s) {
        auto& p = t[g.players[s]];
        ++p.games;
        ++(s % 2 == g.winner_team ? p.wins : p.losses);
      }
    }
    return t;
  }

  // What both stores hold for this test's ids, to compare before and after a replay.
  std::string Snapshot() {
    std::string s;
    for (const char* table :
         {"game_moves", "game_sessions", "game_participants", "hands", "dead_letters"}) {
      s += std::string(table) + "=" +
           std::to_string(
               Count(std::string("SELECT count(*) FROM ") + table + " WHERE " + InGames())) +
           " ";
    }
    for (const auto& row : Query(
             "SELECT player_id, games, wins, losses, rating FROM players WHERE player_id BETWEEN " +
             std::to_string(ids_.FirstPlayer()) + " AND " + std::to_string(ids_.LastPlayer()) +
             " ORDER BY player_id")) {
      s += "p" + row[0].as<std::string>() + ":" + row[1].as<std::string>() + "/" +
           row[2].as<std::string>() + "/" + row[3].as<std::string>() + "/" +
           row[4].as<std::string>() + " ";
    }
    s += Query("SELECT status || hands || points_a || points_b FROM game_sessions WHERE " +
               InGames() + " ORDER BY game_id LIMIT 1")[0][0]
             .as<std::string>() +
         " ";
    for (std::uint64_t g : used_games_) {
      auto h = probe_.GameState(GameKey(g));
      s += "g" + std::to_string(g) + ":" + h["seq"] + "/" + h["phase"] + "/" +
           std::to_string(probe_.EventSeqs(GameKey(g)).size()) + " ";
    }
    for (std::uint64_t p : used_players_) {
      s += "lb" + std::to_string(p) + ":" +
           std::to_string(probe_.Score(keys::Leaderboard(p), std::to_string(p)).value_or(-1)) + " ";
    }
    return s;
  }

  IdRange ids_;
  std::unique_ptr<RedisSink> redis_;
  std::unique_ptr<PgSink> pg_;
  RedisProbe probe_;
  std::unique_ptr<pqxx::connection> pq_;
  std::set<std::uint64_t> used_games_;
  std::set<std::uint64_t> used_players_;
  std::vector<std::vector<std::uint8_t>> extra_dead_letters_;
};

TEST_F(SinksTest, ThousandRealGamesLandExactlyOnceInBothStores) {
  constexpr int kGames = 1000;
  constexpr int kPool = 64;
  const std::vector<ScriptedGame> games = RealGames(kGames, kPool, 1000);
  const auto records = Interleave(games);
  const std::vector<RecordRef> refs = Refs(records);
  for (const RecordRef& r : refs) ASSERT_EQ(CheckRecord(r), nullptr);
  Deliver(refs, 1000);
  ASSERT_FALSE(HasFailure());

  // PostgreSQL: every record once, every game, seat, hand and player.
  EXPECT_EQ(Count("SELECT count(*) FROM game_moves WHERE " + InGames()),
            static_cast<long long>(records.size()));
  EXPECT_EQ(Count("SELECT count(*) FROM (SELECT game_id FROM game_moves WHERE " + InGames() +
                  " GROUP BY game_id HAVING count(*) = max(seq) AND min(seq) = 1) g"),
            kGames);
  std::size_t hands = 0;
  for (const auto& g : games) hands += g.hands.size();
  EXPECT_EQ(Count("SELECT count(*) FROM hands WHERE " + InGames()), static_cast<long long>(hands));
  EXPECT_EQ(Count("SELECT count(*) FROM game_participants WHERE " + InGames()), 4LL * kGames);
  std::map<std::uint64_t, const ScriptedGame*> by_id;
  for (const auto& g : games) by_id[g.game_id] = &g;
  int checked = 0;
  for (const auto& row : Query("SELECT game_id, status, winner_team, points_a, points_b, hands, "
                               "finished_at IS NOT NULL "
                               "FROM game_sessions WHERE " +
                               InGames())) {
    const ScriptedGame& g = *by_id.at(row[0].as<std::uint64_t>());
    EXPECT_EQ(row[1].as<std::string>(), "finished");
    EXPECT_EQ(row[2].as<int>(), g.winner_team);
    EXPECT_EQ(row[3].as<int>(), g.points_a);
    EXPECT_EQ(row[4].as<int>(), g.points_b);
    EXPECT_EQ(row[5].as<std::size_t>(), g.hands.size());
    EXPECT_TRUE(row[6].as<bool>());
    ++checked;
  }
  EXPECT_EQ(checked, kGames);
  // The hands of one game in detail, tricks included.
  const ScriptedGame& first = games.front();
  const auto hand_rows = Query(
      "SELECT hand_no, hakem, trump, winner_team, points_awarded, kot, tricks_a, tricks_b "
      "FROM hands WHERE game_id = " +
      std::to_string(first.game_id) + " ORDER BY hand_no");
  ASSERT_EQ(hand_rows.size(), first.hands.size());
  for (std::size_t k = 0; k < first.hands.size(); ++k) {
    const HandSummary& h = first.hands[k];
    EXPECT_EQ(hand_rows[k][0].as<int>(), h.hand_no);
    EXPECT_EQ(hand_rows[k][1].as<int>(), h.hakem);
    EXPECT_EQ(hand_rows[k][2].as<int>(), h.trump);
    EXPECT_EQ(hand_rows[k][3].as<int>(), h.winner_team);
    EXPECT_EQ(hand_rows[k][4].as<int>(), h.points_awarded);
    EXPECT_EQ(hand_rows[k][5].as<bool>(), h.kot);
    EXPECT_EQ(hand_rows[k][6].as<int>(), h.tricks_a);
    EXPECT_EQ(hand_rows[k][7].as<int>(), h.tricks_b);
  }
  // ts is the engine's ts_ns to the microsecond.
  const ScriptedGame& last = games.back();
  const RecordRef last_ref =
      VerifyRecord(last.records.back().bytes.data(),
                   static_cast<std::uint32_t>(last.records.back().bytes.size()), 0);
  EXPECT_EQ(
      Count("SELECT (extract(epoch FROM ts) * 1000000)::bigint FROM game_moves WHERE game_id = " +
            std::to_string(last.game_id) + " AND seq = " + std::to_string(last.records.size())),
      static_cast<long long>(last_ref.record->ts_ns() / 1000));
  EXPECT_EQ(Query("SELECT body->>'winner_team' FROM game_moves WHERE game_id = " +
                  std::to_string(last.game_id) +
                  " AND seq = " + std::to_string(last.records.size()) + " AND type = 10")[0][0]
                .as<int>(),
            last.winner_team);

  const auto tally = Tally(games);
  for (const auto& row :
       Query("SELECT player_id, games, wins, losses, rating FROM players WHERE player_id BETWEEN " +
             std::to_string(ids_.FirstPlayer()) + " AND " + std::to_string(ids_.LastPlayer()))) {
    const PlayerTally& t = tally.at(row[0].as<std::uint64_t>());
    EXPECT_EQ(row[1].as<long long>(), t.games);
    EXPECT_EQ(row[2].as<long long>(), t.wins);
    EXPECT_EQ(row[3].as<long long>(), t.losses);
    EXPECT_EQ(row[4].as<long long>(), t.Rating());
  }
  EXPECT_EQ(Count("SELECT count(*) FROM players WHERE player_id BETWEEN " +
                  std::to_string(ids_.FirstPlayer()) + " AND " + std::to_string(ids_.LastPlayer())),
            kPool);

  // The analytics views answer, and agree with the tables.
  EXPECT_EQ(Count("SELECT count(*) FROM analytics.player_performance WHERE player_id BETWEEN " +
                  std::to_string(ids_.FirstPlayer()) + " AND " + std::to_string(ids_.LastPlayer()) +
                  " AND win_rate IS NOT NULL"),
            kPool);
  EXPECT_EQ(Count("SELECT count(*) FROM analytics.leaderboard WHERE player_id BETWEEN " +
                  std::to_string(ids_.FirstPlayer()) + " AND " + std::to_string(ids_.LastPlayer())),
            kPool);
  EXPECT_EQ(Count("SELECT count(*) FROM analytics.active_sessions WHERE " + InGames()), 0);
  EXPECT_GE(Count("SELECT games_finished FROM analytics.game_statistics_summary"), kGames);
  EXPECT_GE(Count("SELECT hands_total FROM analytics.game_statistics_summary"),
            static_cast<long long>(hands));

  // Redis: each game's final state and its whole move stream; the leaderboard.
  for (const auto& g : games) {
    auto h = probe_.GameState(GameKey(g.game_id));
    ASSERT_EQ(h["phase"], "finished") << g.game_id;
    EXPECT_EQ(h["seq"], std::to_string(g.records.size()));
    EXPECT_EQ(h["winner"], std::to_string(g.winner_team));
    EXPECT_EQ(h["points_a"], std::to_string(g.points_a));
    EXPECT_EQ(h["points_b"], std::to_string(g.points_b));
    EXPECT_EQ(h["s0"], std::to_string(g.players[0]));
    EXPECT_EQ(probe_.EventSeqs(GameKey(g.game_id)), AllSeqs(g.records.size()));
    const long long ttl = probe_.Integer({"PTTL", GameKey(g.game_id)});
    EXPECT_GT(ttl, 0);
    EXPECT_LE(ttl, 15 * 60 * 1000);
    EXPECT_FALSE(probe_.Score(keys::Active(g.game_id), std::to_string(g.game_id)).has_value());
  }
  for (const auto& [player, t] : tally) {
    EXPECT_EQ(probe_.Score(keys::Leaderboard(player), std::to_string(player)).value_or(-1),
              static_cast<double>(t.Rating()))
        << player;
    EXPECT_GT(probe_.Integer({"PTTL", PlayerKey(player)}), 0);
  }
  const RedisSinkStats rs = redis_->stats();
  EXPECT_EQ(rs.records_applied, records.size());
  EXPECT_EQ(rs.records_duplicate, 0u);
  const PgSinkStats ps = pg_->stats();
  EXPECT_EQ(ps.moves_inserted, records.size());
  EXPECT_EQ(ps.dead_letters, 0u);
  // The unit of delivery is the command: one row per command, at most one
  // stream entry per game per batch.
  std::set<std::pair<std::uint64_t, std::uint32_t>> commands;
  for (const OwnedRecord* r : records) commands.emplace(r->game_id, r->command);
  EXPECT_EQ(ps.rows_inserted, commands.size());
  EXPECT_EQ(Count("SELECT count(*) FROM game_commands WHERE " + InGames()),
            static_cast<long long>(commands.size()));
  EXPECT_LT(commands.size(), records.size() * 9 / 10);
  EXPECT_LE(rs.entries, commands.size());
  std::printf(
      "[ stats    ] %zu records, %zu commands: redis %llu entries, %llu commands in %llu round "
      "trips, %.0f records/s; postgresql %llu rows, %llu transactions, %llu round trips, "
      "%.0f records/s\n",
      records.size(), commands.size(), static_cast<unsigned long long>(rs.entries),
      static_cast<unsigned long long>(rs.commands), static_cast<unsigned long long>(rs.round_trips),
      records.size() * 1e6 / double(rs.total_batch_us),
      static_cast<unsigned long long>(ps.rows_inserted),
      static_cast<unsigned long long>(ps.transactions),
      static_cast<unsigned long long>(ps.round_trips),
      records.size() * 1e6 / double(ps.total_batch_us));
}

TEST_F(SinksTest, DeliveringTheSameRecordsAgainChangesNothing) {
  const std::vector<ScriptedGame> games = RealGames(60, 16, 77);
  const auto records = Interleave(games);
  const std::vector<RecordRef> refs = Refs(records);
  Deliver(refs, 500);
  ASSERT_FALSE(HasFailure());
  const std::string before = Snapshot();
  const RedisSinkStats r0 = redis_->stats();
  const PgSinkStats p0 = pg_->stats();

  Deliver(refs, 137);  // everything again, cut differently
  const std::vector<RecordRef> tail(refs.begin() + static_cast<std::ptrdiff_t>(refs.size() / 2),
                                    refs.end());
  Deliver(tail, 1000);  // and the second half a third time
  ASSERT_FALSE(HasFailure());

  EXPECT_EQ(Snapshot(), before);
  const std::uint64_t replayed = refs.size() + tail.size();
  EXPECT_EQ(redis_->stats().records_applied, r0.records_applied);
  EXPECT_EQ(redis_->stats().records_duplicate - r0.records_duplicate, replayed);
  EXPECT_EQ(pg_->stats().moves_inserted, p0.moves_inserted);
  EXPECT_EQ(pg_->stats().moves_duplicate - p0.moves_duplicate, replayed);
  EXPECT_GT(pg_->stats().replay_paths, p0.replay_paths);
  EXPECT_EQ(p0.replay_paths, 0u) << "first delivery took the replay path";
}

TEST_F(SinksTest, PoisonRecordsAreDeadLetteredAndEverythingElseDelivered) {
  const std::vector<ScriptedGame> games = RealGames(8, 8, 5);
  // Three kinds of poison, each in the middle of the stream:
  //  1. bytes that fail FlatBuffers verification,
  //  2. a record that verifies but CheckRecord refuses (seat 9),
  //  3. a record both checks pass but PostgreSQL refuses: a CHECK constraint
  //     on this test's game_commands partition rejects room "POISON!".
  ScriptedGame poison_game;
  poison_game.game_id = ids_.Game(500);
  poison_game.records.push_back(GameCreated(poison_game.game_id, 1, kTs0, "POISON!"));
  Track(poison_game);
  OwnedRecord corrupt = CardPlayed(ids_.Game(501), 1, kTs0, 0, 0);
  corrupt.bytes[0] = 0xF0;
  corrupt.bytes[1] = 0xFF;
  const OwnedRecord bad_seat = CardPlayed(ids_.Game(502), 1, kTs0, 9, 0);
  used_games_.insert(ids_.Game(502));
  extra_dead_letters_.push_back(corrupt.bytes);
  Clean();

  const std::string partition =
      Query("SELECT hokm_ensure_commands_partition(" + std::to_string(ids_.FirstGame()) + ", " +
            std::to_string(PgSinkOptions{}.partition_span_bits) + ")")[0][0]
          .as<std::string>();
  Exec("ALTER TABLE " + partition + " DROP CONSTRAINT IF EXISTS hokm_test_poison");
  Exec("ALTER TABLE " + partition +
       " ADD CONSTRAINT hokm_test_poison CHECK (records->0->>'room' IS DISTINCT FROM 'POISON!')");

  auto records = Interleave(games);
  const std::size_t good = records.size();
  records.insert(records.begin() + static_cast<std::ptrdiff_t>(good / 4), &corrupt);
  records.insert(records.begin() + static_cast<std::ptrdiff_t>(good / 2), &bad_seat);
  records.insert(records.begin() + static_cast<std::ptrdiff_t>(3 * good / 4),
                 &poison_game.records[0]);
  const std::vector<RecordRef> refs = Refs(records, 1000);
  ASSERT_EQ(refs[good / 4].record, nullptr);

  Deliver(refs, refs.size());  // one batch: the poison must be bisected out
  Deliver(refs, 100);          // and again, cut up: still once
  Exec("ALTER TABLE " + partition + " DROP CONSTRAINT IF EXISTS hokm_test_poison");
  ASSERT_FALSE(HasFailure());

  EXPECT_EQ(Count("SELECT count(*) FROM game_moves WHERE " + InGames()),
            static_cast<long long>(good));
  EXPECT_EQ(Count("SELECT count(*) FROM game_sessions WHERE status = 'finished' AND " + InGames()),
            8);
  const auto dead = Query(
      "SELECT game_id, seq, reason, ring_position, payload FROM dead_letters WHERE " + InGames() +
      " OR payload = " + pq_->quote_raw(corrupt.bytes.data(), corrupt.bytes.size()) +
      " ORDER BY ring_position");
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_TRUE(dead[0][0].is_null());
  EXPECT_EQ(dead[0][2].as<std::string>(), "failed FlatBuffers verification");
  EXPECT_EQ(dead[0][3].as<std::uint64_t>(), refs[good / 4].position);
  EXPECT_EQ(dead[1][0].as<std::uint64_t>(), ids_.Game(502));
  EXPECT_EQ(dead[1][2].as<std::string>(), "seat not 0..3");
  EXPECT_EQ(dead[2][0].as<std::uint64_t>(), poison_game.game_id);
  EXPECT_NE(dead[2][2].as<std::string>().find("hokm_test_poison"), std::string::npos)
      << dead[2][2].as<std::string>();
  EXPECT_NE(dead[2][2].as<std::string>().find("23514"), std::string::npos);
  const pqxx::binarystring payload(dead[2][4]);
  EXPECT_EQ(payload.str(),
            std::string(poison_game.records[0].bytes.begin(), poison_game.records[0].bytes.end()));
  EXPECT_GT(pg_->stats().bisections, 0u);
  EXPECT_EQ(pg_->ReadCheckpoint(ids_.Checkpoint())->value_or(0), refs.back().position);

  // Redis skipped what failed the checks and applied the rest (PostgreSQL's
  // own constraint is not Redis's business).
  EXPECT_EQ(redis_->stats().records_rejected, 4u);
  EXPECT_EQ(probe_.GameState(GameKey(poison_game.game_id))["room"], "POISON!");
  EXPECT_TRUE(probe_.GameState(GameKey(ids_.Game(502))).empty());
  for (const auto& g : games) EXPECT_EQ(probe_.GameState(GameKey(g.game_id))["phase"], "finished");
}

TEST_F(SinksTest, CheckpointCommitsWithTheBatchAndNeverMovesBack) {
  const std::string name = ids_.Checkpoint();
  auto none = pg_->ReadCheckpoint(name);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(none->has_value());

  const std::vector<ScriptedGame> games = RealGames(2, 8, 9);
  const std::vector<RecordRef> refs = Refs(Interleave(games), 5000);
  ASSERT_TRUE(pg_->WriteBatch(std::span(refs).first(10), name, refs[9].position).ok());
  EXPECT_EQ(pg_->ReadCheckpoint(name)->value(), refs[9].position);
  ASSERT_TRUE(pg_->WriteBatch(std::span(refs).first(5), name, refs[4].position).ok());
  EXPECT_EQ(pg_->ReadCheckpoint(name)->value(), refs[9].position)
      << "a replayed older batch moved it back";
  ASSERT_TRUE(pg_->WriteBatch({}, name, refs[20].position).ok());
  EXPECT_EQ(pg_->ReadCheckpoint(name)->value(), refs[20].position);
  EXPECT_EQ(Count("SELECT count(*) FROM game_moves WHERE " + InGames()), 10);
}

TEST_F(SinksTest, ApplyingTheSchemaAgainAppliesNothing) {
  int applied = -1;
  ASSERT_TRUE(pg_->ApplySchema(SchemaDir(), &applied).ok());
  EXPECT_EQ(applied, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations WHERE version IN (1, 2, 3, 4)"), 4);
  const Status missing = pg_->ApplySchema("/nonexistent/schema/dir");
  EXPECT_FALSE(missing.ok());
}

// The schema's record_types rows name the types of core::kRecordTypes, tag
// for tag: the one list the sinks and the SQL they send are built from.
TEST_F(SinksTest, TheSchemasRecordTypesAreTheRecordTable) {
  std::map<int, std::string> stored;
  for (const auto& row : Query("SELECT type, name FROM record_types"))
    stored[row[0].as<int>()] = row[1].as<std::string>();
  std::map<int, std::string> table;
  for (const core::RecordTypeInfo& t : core::kRecordTypes) table[core::RecordTag(t.type)] = t.name;
  EXPECT_EQ(stored, table);
}

// Readers' contract 6: a stale record never moves a game back, whether the
// sink knows it is stored (its probe) or not (the XADD guard).
TEST_F(SinksTest, AReplayedStaleBatchNeverMovesAGameBackwards) {
  const std::vector<ScriptedGame> games = RealGames(3, 12, 21);
  const std::vector<RecordRef> refs = Refs(Interleave(games));
  const auto first = std::span(refs).first(refs.size() / 2);
  const auto second = std::span(refs).subspan(refs.size() / 2);
  auto behind = RedisSink::Connect(RedisUrlOrDie());
  ASSERT_TRUE(behind.ok()) << behind.status().message();
  ASSERT_TRUE(behind->Write(first).ok());
  ASSERT_TRUE(redis_->Write(refs).ok());  // probes: knows the first half is stored
  const std::string whole = RedisDump(false);
  for (const auto& g : games) {
    EXPECT_EQ(probe_.GameState(GameKey(g.game_id))["seq"], std::to_string(g.records.size()));
  }
  // A sink that probes: drops the stale records before sending them.
  auto fresh = RedisSink::Connect(RedisUrlOrDie());
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  ASSERT_TRUE(fresh->Write(first).ok());
  EXPECT_EQ(fresh->stats().records_applied, 0u);
  EXPECT_EQ(fresh->stats().records_duplicate, first.size());
  EXPECT_EQ(fresh->stats().entries, 0u);
  // A sink that believes only the first half is stored sends the second
  // half: Redis refuses every entry (ID at or below the stream's top).
  ASSERT_TRUE(behind->Write(second).ok());
  EXPECT_EQ(behind->stats().records_applied, first.size());
  EXPECT_EQ(behind->stats().records_duplicate, second.size());
  // Once refused, it probes again: the stale first half is dropped too.
  ASSERT_TRUE(behind->Write(first).ok());
  EXPECT_EQ(behind->stats().records_duplicate, refs.size());
  EXPECT_EQ(RedisDump(false), whole);
}

// Readers' contract 1 and 2: the current public state with one call, and
// every event after seq N with one call.
TEST_F(SinksTest, StateFollowsTheGameMidTrickAndEventsReadOnBySeq) {
  // Scripted (not the rules): a game stopped after two card plays of the first trick.
  const ScriptedGame g = ScriptGame(
      ids_.Game(1), {ids_.Player(1), ids_.Player(2), ids_.Player(3), ids_.Player(4)}, 3, kTs0);
  Track(g);
  std::vector<const OwnedRecord*> head;
  int cards = 0;
  for (const auto& r : g.records) {
    head.push_back(&r);
    if (r.type == fb::Body::CardPlayed && ++cards == 2) break;
  }
  const std::vector<RecordRef> refs = Refs(head);
  // The first five records one batch each (one entry each), the rest in one.
  for (std::size_t k = 0; k < 5; ++k)
    ASSERT_TRUE(redis_->Write(std::span(refs).subspan(k, 1)).ok());
  ASSERT_TRUE(redis_->Write(std::span(refs).subspan(5)).ok());
  EXPECT_EQ(redis_->stats().entries, 6u);
  ASSERT_TRUE(pg_->WriteBatch(refs, "", 0).ok());
  const auto* hakem_rec = refs[5].record->body_as_HakemChosen();
  ASSERT_NE(hakem_rec, nullptr);
  const int hakem = hakem_rec->seat();
  const auto* c1 = refs[refs.size() - 2].record->body_as_CardPlayed();
  const auto* c2 = refs.back().record->body_as_CardPlayed();
  auto h = probe_.GameState(GameKey(g.game_id));
  EXPECT_EQ(h["seq"], std::to_string(refs.size()));
  EXPECT_EQ(h["phase"], "playing");
  EXPECT_EQ(h["hakem"], std::to_string(hakem));
  EXPECT_EQ(h["hand"], "1");
  EXPECT_EQ(h["turn"], std::to_string((hakem + 2) % 4));
  EXPECT_EQ(h["leader"], std::to_string(hakem));
  EXPECT_EQ(c1->seat(), hakem);
  EXPECT_EQ(h["t" + std::to_string(c1->seat())], std::to_string(c1->card()));
  EXPECT_EQ(h["t" + std::to_string(c2->seat())], std::to_string(c2->card()));
  EXPECT_EQ(h["t" + std::to_string((hakem + 2) % 4)], "");
  EXPECT_EQ(h["t" + std::to_string((hakem + 3) % 4)], "");
  EXPECT_EQ(h["s2"], std::to_string(ids_.Player(3)));
  EXPECT_EQ(h["room"], "R" + std::to_string(g.game_id % 100000));
  EXPECT_EQ(h["updated_ms"], std::to_string(refs.back().record->ts_ns() / 1'000'000));
  EXPECT_TRUE(probe_.Score(keys::Active(g.game_id), std::to_string(g.game_id)).has_value());
  // Entry ids are <last seq>-0: XRANGE from N+1 gives every event after N
  // (the first entry may also hold events at or before N: skip them).
  for (std::uint64_t n : {0, 3, 4, 5, 7}) {
    std::vector<std::uint64_t> after;
    for (const auto& e : probe_.Events(GameKey(g.game_id), std::to_string(n + 1), "+")) {
      if (e.value("seq", 0ull) > n) after.push_back(e.value("seq", 0ull));
    }
    std::vector<std::uint64_t> want;
    for (std::uint64_t q = n + 1; q <= refs.size(); ++q) want.push_back(q);
    EXPECT_EQ(after, want) << "after seq " << n;
  }
  const RedisProbe::Reply after3 =
      probe_.Command({"XRANGE", GameKey(g.game_id), "4", "+", "COUNT", "1"});
  ASSERT_TRUE(after3 && after3->type == REDIS_REPLY_ARRAY && after3->elements == 1);
  EXPECT_EQ(std::string(after3->element[0]->element[0]->str), "4-0");
  const long long ttl = probe_.Integer({"PTTL", GameKey(g.game_id)});
  EXPECT_GT(ttl, 15 * 60 * 1000);
  EXPECT_LE(ttl, 4 * 3600 * 1000);
  EXPECT_EQ(probe_.Hash(PlayerKey(ids_.Player(2)))["seat"], "1");
  EXPECT_EQ(Query("SELECT status FROM analytics.active_sessions WHERE game_id = " +
                  std::to_string(g.game_id))[0][0]
                .as<std::string>(),
            "playing");
  EXPECT_EQ(Count("SELECT last_seq FROM analytics.active_sessions WHERE game_id = " +
                  std::to_string(g.game_id)),
            static_cast<long long>(refs.size()));
}

// A player's disconnect and reconnect (PlayerConnection records, README
// "Reconnection"): hokm:p:{PLAYER} says where the player sits and whether it
// is connected, its 30 min TTL refreshed by each record, and
// analytics.active_sessions counts the game's connected and disconnected
// players; a replayed disconnect changes nothing.
TEST_F(SinksTest, PlayerConnectionsKeepThePlayerHashAndActiveSessionsCurrent) {
  const std::uint64_t g = ids_.Game(1);
  const std::array<std::uint64_t, 4> seats = {ids_.Player(1), ids_.Player(2), ids_.Player(3),
                                              ids_.Player(4)};
  used_games_.insert(g);
  used_players_.insert(seats.begin(), seats.end());
  std::uint32_t seq = 0;
  std::uint64_t ts = kTs0;
  std::vector<OwnedRecord> seated;
  seated.push_back(GameCreated(g, ++seq, ts, "RECON"));
  for (int seat = 0; seat < 4; ++seat)
    seated.push_back(PlayerJoined(g, ++seq, ts += 1'000'000, seat, seats[seat]));
  std::vector<const OwnedRecord*> all;
  for (const auto& r : seated) all.push_back(&r);
  Deliver(Refs(all), 64);
  ASSERT_FALSE(HasFailure());
  const std::string where = " FROM analytics.active_sessions WHERE game_id = " + std::to_string(g);
  const auto sessions = [&] {
    const pqxx::result r =
        Query("SELECT players, players_connected, players_disconnected, last_seq" + where);
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? std::string("none")
                     : r[0][0].as<std::string>() + " " + r[0][1].as<std::string>() + " " +
                           r[0][2].as<std::string>() + " seq " + r[0][3].as<std::string>();
  };
  EXPECT_EQ(sessions(), "4 4 0 seq 5");
  const std::string key = PlayerKey(seats[1]);
  EXPECT_EQ(probe_.Hash(key)["connected"], "1");

  // Seat 1 drops; its hash had only a minute left, the record gives it 30 again.
  ASSERT_EQ(probe_.Integer({"PEXPIRE", key, "60000"}), 1);
  const OwnedRecord dropped = PlayerConnection(g, ++seq, ts += 1'000'000'000, 1, seats[1], false);
  Deliver(Refs({&dropped}, 100), 64);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(sessions(), "4 3 1 seq 6");
  std::map<std::string, std::string> h = probe_.Hash(key);
  EXPECT_EQ(h["game"], std::to_string(g));
  EXPECT_EQ(h["seat"], "1");
  EXPECT_EQ(h["connected"], "0");
  EXPECT_EQ(h["last_seen"], std::to_string(ts / 1'000'000));
  const long long ttl_ms = probe_.Integer({"PTTL", key});
  EXPECT_GT(ttl_ms, 60'000);
  EXPECT_LE(ttl_ms, 1800 * 1000);
  EXPECT_EQ(probe_.Hash(PlayerKey(seats[2]))["connected"], "1") << "only seat 1 dropped";

  // It reconnects.
  const OwnedRecord back = PlayerConnection(g, ++seq, ts += 1'000'000'000, 1, seats[1], true);
  Deliver(Refs({&back}, 101), 64);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(sessions(), "4 4 0 seq 7");
  EXPECT_EQ(probe_.Hash(key)["connected"], "1");
  EXPECT_EQ(probe_.Hash(key)["last_seen"], std::to_string(ts / 1'000'000));

  // The disconnect delivered again (a replay) is stored already: no change.
  Deliver(Refs({&dropped}, 100), 64);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(sessions(), "4 4 0 seq 7");
}

TEST_F(SinksTest, AbandonedGamesLeaveRatingsAloneAndLeaveTheActiveSet) {
  const std::array<std::uint64_t, 4> seats = {ids_.Player(1), ids_.Player(2), ids_.Player(3),
                                              ids_.Player(4)};
  const ScriptedGame g = ScriptGame(ids_.Game(1), seats, 8, kTs0, /*abandon_after_hands=*/2);
  Track(g);
  std::vector<const OwnedRecord*> all;
  for (const auto& r : g.records) all.push_back(&r);
  // Seat 1 drops its connection and then leaves, after the game ended.
  std::uint32_t seq = static_cast<std::uint32_t>(g.records.size());
  const OwnedRecord disconnected =
      PlayerConnection(g.game_id, ++seq, kTs0 + 1'000'000'000'000ull, 1, seats[1], false);
  const OwnedRecord left = PlayerLeft(g.game_id, ++seq, kTs0 + 1'000'000'001'000ull, 1, seats[1]);
  all.push_back(&disconnected);
  all.push_back(&left);
  Deliver(Refs(all), 64);
  ASSERT_FALSE(HasFailure());

  EXPECT_EQ(
      Query("SELECT status FROM game_sessions WHERE game_id = " + std::to_string(g.game_id))[0][0]
          .as<std::string>(),
      "abandoned");
  EXPECT_EQ(Count("SELECT count(*) FROM hands WHERE game_id = " + std::to_string(g.game_id)), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM players WHERE games > 0 AND player_id BETWEEN " +
                  std::to_string(ids_.FirstPlayer()) + " AND " + std::to_string(ids_.LastPlayer())),
            0);
  EXPECT_EQ(
      Count("SELECT count(*) FROM game_participants WHERE left_at IS NOT NULL AND game_id = " +
            std::to_string(g.game_id)),
      1);
  EXPECT_EQ(Count("SELECT count(*) FROM analytics.active_sessions WHERE " + InGames()), 0);

  auto h = probe_.GameState(GameKey(g.game_id));
  EXPECT_EQ(h["phase"], "abandoned");
  EXPECT_EQ(h["s1"], "0");
  EXPECT_FALSE(probe_.Score(keys::Active(g.game_id), std::to_string(g.game_id)).has_value());
  EXPECT_LE(probe_.Integer({"PTTL", GameKey(g.game_id)}), 15 * 60 * 1000);
  for (std::uint64_t p : seats)
    EXPECT_FALSE(probe_.Score(keys::Leaderboard(p), std::to_string(p)).has_value());
  auto p1 = probe_.Hash(PlayerKey(seats[1]));
  EXPECT_EQ(p1["connected"], "0");
  EXPECT_EQ(p1["game"], "0");
  EXPECT_EQ(probe_.Hash(PlayerKey(seats[0]))["game"], std::to_string(g.game_id));
}

TEST_F(SinksTest, LosingTheConnectionIsUnavailableAndTheNextCallReconnects) {
  const std::string name = "hokm-test-" + std::to_string(ids_.counter);
  RedisSinkOptions redis_options;
  redis_options.client_name = name;
  auto redis = RedisSink::Connect(RedisUrlOrDie(), redis_options);
  ASSERT_TRUE(redis.ok()) << redis.status().message();
  PgSinkOptions pg_options;
  pg_options.application_name = name;
  auto pg = PgSink::Connect(PgUrlOrDie(), pg_options);
  ASSERT_TRUE(pg.ok()) << pg.status().message();

  const std::vector<ScriptedGame> games = RealGames(2, 8, 41);
  const std::vector<RecordRef> refs = Refs(Interleave(games));
  // Halves that end at a command's end, as the sidecar cuts its batches.
  std::size_t half = refs.size() / 2;
  while (refs[half].position == refs[half - 1].position) ++half;
  const auto first = std::span(refs).first(half);
  const auto second = std::span(refs).subspan(half);
  ASSERT_TRUE(redis->Write(first).ok());
  ASSERT_TRUE(pg->WriteBatch(first, ids_.Checkpoint(), first.back().position).ok());

  // The servers drop the sinks' connections.
  EXPECT_EQ(probe_.Integer({"CLIENT", "KILL", "ID",
                            [&] {
                              const RedisProbe::Reply list = probe_.Command({"CLIENT", "LIST"});
                              const std::string text(list->str, list->len);
                              const std::size_t at = text.find(" name=" + name + " ");
                              const std::size_t line = text.rfind("id=", at);
                              return text.substr(line + 3, text.find(' ', line) - line - 3);
                            }()}),
            1);
  Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + name +
       "'");

  const Status r = redis->Write(second);
  EXPECT_EQ(r.code(), Status::Code::kUnavailable) << r.message();
  const Status p = pg->WriteBatch(second, ids_.Checkpoint(), second.back().position);
  EXPECT_EQ(p.code(), Status::Code::kUnavailable) << p.message();

  // Retried, the same batches go through on fresh connections.
  const Status r2 = redis->Write(second);
  ASSERT_TRUE(r2.ok()) << r2.message();
  const Status p2 = pg->WriteBatch(second, ids_.Checkpoint(), second.back().position);
  ASSERT_TRUE(p2.ok()) << p2.message();
  EXPECT_EQ(redis->stats().reconnects, 1u);
  EXPECT_EQ(pg->stats().reconnects, 1u);
  EXPECT_EQ(Count("SELECT count(*) FROM game_moves WHERE " + InGames()),
            static_cast<long long>(refs.size()));
  for (const auto& g : games) {
    EXPECT_EQ(probe_.EventSeqs(GameKey(g.game_id)), AllSeqs(g.records.size()));
  }
}

// However the records are cut into batches, every game ends in the same
// keys, and at every point in between a game's state is that of its last
// event.
TEST_F(SinksTest, EveryBatchingLeavesTheSameKeys) {
  std::vector<ScriptedGame> games = RealGames(10, 12, 91);
  for (int i = 0; i < 2; ++i) {  // and two games abandoned mid-way
    games.push_back(ScriptGame(ids_.Game(40 + i),
                               {ids_.Player(30 + 4 * i), ids_.Player(31 + 4 * i),
                                ids_.Player(32 + 4 * i), ids_.Player(33 + 4 * i)},
                               5 + i, kTs0, /*abandon_after_hands=*/1 + i));
    Track(games.back());
  }
  const std::vector<RecordRef> refs = Refs(Interleave(games));
  std::string dumps[2];
  std::uint64_t entries[2] = {0, 0};
  for (int uneven = 0; uneven < 2; ++uneven) {
    Clean();
    auto sink = RedisSink::Connect(RedisUrlOrDie());
    ASSERT_TRUE(sink.ok()) << sink.status().message();
    std::size_t cut = 0;
    for (std::size_t at = 0; at < refs.size(); at += cut) {
      // Small, uneven batches (most runs a record or two of a game), or big ones.
      cut = uneven ? 1 + (at * 7919) % 23 : 2000;
      const auto batch = std::span(refs).subspan(at, std::min(cut, refs.size() - at));
      const Status w = sink->Write(batch);
      ASSERT_TRUE(w.ok()) << w.message();
      if (uneven && (at / 23) % 25 == 0) {
        for (const auto& g : games) {
          const auto seqs = probe_.EventSeqs(GameKey(g.game_id));
          const auto h = probe_.GameState(GameKey(g.game_id));
          ASSERT_EQ(seqs, AllSeqs(seqs.size())) << g.game_id;
          EXPECT_EQ(h.empty() ? "" : h.at("seq"), seqs.empty() ? "" : std::to_string(seqs.back()));
        }
      }
    }
    dumps[uneven] = RedisDump();
    EXPECT_EQ(sink->stats().records_applied, refs.size());
    entries[uneven] = sink->stats().entries;
  }
  EXPECT_LT(entries[0], entries[1]) << "big batches should need fewer entries";
  EXPECT_EQ(dumps[1], dumps[0]);
}

// A pipeline cut short (a crash) can leave a game's stream without its
// last entries; the next sink finds where the stream ends and adds exactly
// those.
TEST_F(SinksTest, TheNextSinkCompletesAStreamCutShort) {
  const std::vector<ScriptedGame> games = RealGames(3, 12, 17);
  const std::vector<RecordRef> refs = Refs(Interleave(games));
  const std::size_t half = refs.size() / 2;
  const std::size_t end = half + 40;
  {
    auto sink = RedisSink::Connect(RedisUrlOrDie());
    ASSERT_TRUE(sink.ok()) << sink.status().message();
    ASSERT_TRUE(sink->Write(std::span(refs).first(half)).ok());
    ASSERT_TRUE(sink->Write(std::span(refs).subspan(half, end - half)).ok());
  }
  // A new sink refreshes the active set at once, to its own batch's time.
  const std::string whole = RedisDump(false);
  // Take the second write's entries back out of each game's stream.
  std::size_t removed = 0;
  for (const auto& g : games) {
    std::uint64_t keep = 0, last = 0;
    std::size_t dropped = 0;
    for (std::size_t k = 0; k < end; ++k) {
      const fb::ChangeRecord& r = *refs[k].record;
      if (r.game_id() != g.game_id) continue;
      if (k < half) {
        keep = r.game_seq();
      } else {
        last = r.game_seq();
        ++dropped;
      }
    }
    if (dropped == 0) continue;
    EXPECT_EQ(probe_.Integer({"XDEL", GameKey(g.game_id), std::to_string(last) + "-0"}), 1);
    const RedisProbe::Reply set =
        probe_.Command({"XSETID", GameKey(g.game_id), std::to_string(keep) + "-0"});
    ASSERT_TRUE(set && set->type == REDIS_REPLY_STATUS) << (set && set->str ? set->str : "");
    removed += dropped;
  }
  ASSERT_GT(removed, 0u);
  ASSERT_NE(RedisDump(false), whole);

  auto again = RedisSink::Connect(RedisUrlOrDie());
  ASSERT_TRUE(again.ok()) << again.status().message();
  ASSERT_TRUE(again->Write(std::span(refs).subspan(half, end - half)).ok());
  EXPECT_EQ(again->stats().records_applied, removed);
  EXPECT_EQ(again->stats().records_duplicate, end - half - removed);
  EXPECT_EQ(RedisDump(false), whole);
}

// Readers' contract 5: no card of a hand is readable from Redis before it
// is played: not in any key of the games, not on the notification channel.
// PostgreSQL keeps the deals (replay needs them).
TEST_F(SinksTest, NoDealtCardIsReadableFromRedis) {
  RedisProbe subscriber;
  ASSERT_TRUE(subscriber.Connect(RedisUrlOrDie()));
  RedisProbe::Reply sub = subscriber.Command({"SUBSCRIBE", std::string(keys::kEventsChannel)});
  ASSERT_TRUE(sub && sub->type == REDIS_REPLY_ARRAY);
  const std::vector<ScriptedGame> games = RealGames(20, 16, 61);
  const std::vector<RecordRef> refs = Refs(Interleave(games));
  Deliver(refs, 300);
  ASSERT_FALSE(HasFailure());

  // Every value of every key the games and their players have.
  std::set<std::string> game_keys;
  for (std::uint64_t g : used_games_) game_keys.insert(GameKey(g));
  for (std::uint64_t p : used_players_) game_keys.insert(PlayerKey(p));
  std::vector<std::string> values;
  std::size_t deals = 0;
  for (const std::string& key : game_keys) {
    const RedisProbe::Reply type = probe_.Command({"TYPE", key});
    const std::string t(type->str, type->len);
    if (t == "stream") {
      const RedisProbe::Reply xs = probe_.Command({"XRANGE", key, "-", "+"});
      for (std::size_t k = 0; k < xs->elements; ++k) {
        const redisReply* fields = xs->element[k]->element[1];
        for (std::size_t f = 0; f < fields->elements; ++f)
          values.emplace_back(fields->element[f]->str, fields->element[f]->len);
      }
      for (const auto& e : probe_.Events(key)) {
        if (e.value("type", "") != "CardsDealt") continue;
        ++deals;
        EXPECT_FALSE(e.contains("cards")) << e.dump();
        EXPECT_TRUE(e.contains("count")) << e.dump();
      }
    } else if (t == "hash") {
      for (const auto& [f, v] : probe_.Hash(key)) values.push_back(f + "=" + v);
    } else if (t == "string") {
      values.push_back(probe_.Command({"GET", key})->str);
    } else {
      EXPECT_EQ(t, "none") << key;
    }
  }
  EXPECT_GT(deals, 0u);
  // What the subscriber was told: a message per batch naming the games and
  // their last seq; each game's last record among them.
  // Every Write had new entries, so each published one message, sent before
  // Write returned.
  std::map<std::uint64_t, std::uint64_t> told;
  for (std::uint64_t n = 0; n < redis_->stats().batches; ++n) {
    void* raw = nullptr;
    ASSERT_EQ(redisGetReply(subscriber.context(), &raw), REDIS_OK) << "message " << n;
    RedisProbe::Reply m(static_cast<redisReply*>(raw));
    ASSERT_TRUE(m && m->type == REDIS_REPLY_ARRAY && m->elements == 3);
    const std::string text(m->element[2]->str, m->element[2]->len);
    values.push_back(text);
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    ASSERT_TRUE(j.is_object() && j["games"].is_array()) << text;
    for (const auto& pair : j["games"]) {
      auto& seq = told[pair[0].get<std::uint64_t>()];
      seq = std::max(seq, pair[1].get<std::uint64_t>());
    }
  }
  for (const auto& g : games) EXPECT_EQ(told[g.game_id], g.records.size()) << g.game_id;
  for (const std::string& v : values) {
    EXPECT_EQ(v.find("\"cards\""), std::string::npos) << v.substr(0, 200);
  }
  // Each state's table holds only cards played in the trick under way.
  // PostgreSQL has every deal, cards included.
  EXPECT_EQ(
      Count("SELECT count(*) FROM game_moves WHERE type = 6 AND body ? 'cards' AND " + InGames()),
      static_cast<long long>(deals));
}

// The login of a role of schemas/postgres/006_roles.sql: env (what
// scripts/services.sh exports), else the owner's URL with the role's name
// and the passfile scripts/services.sh writes.
PgUrl RoleUrl(const char* env, const char* role) {
  if (const std::string s = EnvOr(env, ""); !s.empty()) {
    auto u = ParsePgUrl(s);
    EXPECT_TRUE(u.ok()) << env << ": " << u.status().message();
    return u.ok() ? *u : PgUrl{};
  }
  PgUrl u = PgUrlOrDie();
  u.params["user"] = role;
  u.params.erase("password");
  if (u.Get("passfile").empty()) {
    u.params["passfile"] = std::string(HOKM_SOURCE_DIR) + "/.local/pgpass";
  }
  return u;
}

// Runs sql on c (rolled back); the SQLSTATE it failed with, "" when it did
// not.
std::string FailsWith(pqxx::connection& c, const std::string& sql) {
  try {
    pqxx::work tx(c);
    tx.exec(sql);
    return "";
  } catch (const pqxx::insufficient_privilege&) {
    return "42501";  // libpqxx 6 leaves sqlstate() empty in this class
  } catch (const pqxx::sql_error& e) {
    return e.sqlstate().empty() ? std::string("no SQLSTATE: ") + e.what() : e.sqlstate();
  }
}

// hokm_writer: the sidecar's work (a start-up migration that finds the
// schema current, the COPY batch, the replay path's TEMP staging, a
// checkpoint) and no DDL.
TEST_F(SinksTest, WriterRoleStoresGamesWhenTheSchemaIsCurrentAndRunsNoDdl) {
  const PgUrl url = RoleUrl("HOKM_PG_WRITER_URL", "hokm_writer");
  auto writer = PgSink::Connect(url);
  ASSERT_TRUE(writer.ok()) << writer.status().message()
                           << " (scripts/services.sh start creates the hokm_writer login)";
  const Status schema = writer->ApplySchema(SchemaDir());  // the owner applied it in SetUp
  ASSERT_TRUE(schema.ok()) << schema.message();
  const std::vector<ScriptedGame> games = RealGames(2, 8, 31);
  std::vector<const OwnedRecord*> records;
  for (const ScriptedGame& g : games) {
    for (const OwnedRecord& r : g.records) records.push_back(&r);
  }
  const std::vector<RecordRef> refs = Refs(records);
  Status s = writer->WriteBatch(refs, ids_.Checkpoint(), refs.back().position);
  ASSERT_TRUE(s.ok()) << s.message();
  s = writer->WriteBatch(refs, ids_.Checkpoint(), refs.back().position);  // a replay
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(writer->stats().replay_paths, 1u);
  EXPECT_EQ(Count("SELECT count(*) FROM game_moves WHERE " + InGames()),
            static_cast<long long>(records.size()));
  EXPECT_EQ(
      Count("SELECT count(*) FROM game_sessions WHERE " + InGames() + " AND status = 'finished'"),
      2);

  pqxx::connection c(url.ConnInfo());
  for (const char* ddl :
       {"CREATE TABLE hokm_writer_probe (x int)", "DROP TABLE game_commands",
        "ALTER TABLE players ADD COLUMN hokm_writer_probe int", "TRUNCATE players",
        "CREATE SCHEMA hokm_writer_probe", "DELETE FROM game_commands WHERE game_id = -1",
        "CREATE OR REPLACE VIEW hokm_writer_probe AS SELECT 1"}) {
    EXPECT_EQ(FailsWith(c, ddl), "42501") << "hokm_writer: " << ddl;  // insufficient_privilege
  }
}

// hokm_reader: every analytics view, and nothing else.
TEST_F(SinksTest, ReaderRoleReadsTheAnalyticsViewsAndWritesNothing) {
  const PgUrl url = RoleUrl("HOKM_PG_READER_URL", "hokm_reader");
  std::unique_ptr<pqxx::connection> c;
  try {
    c = std::make_unique<pqxx::connection>(url.ConnInfo());
  } catch (const std::exception& e) {
    FAIL() << "hokm_reader cannot log in at " << url.HostPort() << ": " << e.what()
           << " (scripts/services.sh start creates the login)";
  }
  for (const char* view :
       {"player_performance", "game_statistics_summary", "active_sessions", "leaderboard"}) {
    EXPECT_EQ(FailsWith(*c, std::string("SELECT * FROM analytics.") + view + " LIMIT 5"), "")
        << view;
  }
  for (const char* sql :
       {"SELECT * FROM game_commands LIMIT 1", "INSERT INTO players (player_id) VALUES (-1)",
        "UPDATE sidecar_checkpoint SET position = 0", "DELETE FROM game_sessions",
        "CREATE TABLE hokm_reader_probe (x int)"}) {
    EXPECT_EQ(FailsWith(*c, sql), "42501") << "hokm_reader: " << sql;
  }
}

}  // namespace
}  // namespace hokm::sidecar::integration
