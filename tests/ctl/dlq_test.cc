// dlq_test.cc: hokmctl dlq against the real servers. A real game goes
// through both sinks (the sidecar's code) while a CHECK constraint on the
// test's game_commands partition makes PostgreSQL refuse one of its
// commands, which the sink dead-letters; a corrupt record is dead-lettered
// too. Then: list and show find them; replay while the cause is still
// there leaves the dead letters with the new reason (exit 1); after the
// constraint is dropped replay stores the command exactly once (a second
// replay has nothing to do, and a replay of rows stored already changes
// nothing: the stores' seq guards); purge asks unless --yes; every replay
// and purge leaves an audit_log row.
#include <pwd.h>

#include <algorithm>
#include <set>

#include "tests/ctl/stores_fixture.h"

namespace hokm::ctl::testing {
namespace {

namespace fb = hokm::fb;
using namespace hokm::sidecar::integration;
using sidecar::RecordRef;
using sidecar::testing::OwnedRecord;
using sidecar::testing::ScriptedGame;

std::string OsUserName() {
  const passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : "";
}

class DlqTest : public StoresTest {
 protected:
  void SetUp() override {
    StoresTest::SetUp();
    if (HasFailure()) return;
    partition_ =
        Query("SELECT hokm_ensure_commands_partition(" + std::to_string(ids_.FirstGame()) + ", " +
              std::to_string(sidecar::PgSinkOptions{}.partition_span_bits) + ")")[0][0]
            .as<std::string>();
    Clean();
  }

  void TearDown() override {
    if (pq_) Clean();
  }

  void Clean() {
    Exec("ALTER TABLE " + partition_ + " DROP CONSTRAINT IF EXISTS hokm_test_dlq");
    CleanStores({game_id()});
    if (!corrupt_.bytes.empty())
      Exec("DELETE FROM dead_letters WHERE payload = " +
           pq_->quote_raw(corrupt_.bytes.data(), corrupt_.bytes.size()));
  }

  std::uint64_t game_id() const { return ids_.Game(1); }
  std::string G() const { return std::to_string(game_id()); }

  // What both stores hold of the game: compared before and after a replay
  // that must change nothing.
  std::string Snapshot() {
    std::string s;
    s += "moves=" + std::to_string(Count("SELECT count(*) FROM game_moves WHERE game_id = " + G()));
    s += " commands=" +
         std::to_string(Count("SELECT count(*) FROM game_commands WHERE game_id = " + G()));
    s += " hands=" + std::to_string(Count("SELECT count(*) FROM hands WHERE game_id = " + G()));
    s += " session=" + Query(
                           "SELECT status || '/' || hands || '/' || points_a || '/' || "
                           "points_b FROM game_sessions WHERE game_id = " +
                           G())[0][0]
                           .as<std::string>();
    for (const auto& row : Query("SELECT player_id, games, wins, losses, rating FROM players "
                                 "WHERE player_id BETWEEN " +
                                 std::to_string(ids_.FirstPlayer()) + " AND " +
                                 std::to_string(ids_.LastPlayer()) + " ORDER BY player_id")) {
      s += " p" + row[0].as<std::string>() + ":" + row[1].as<std::string>() + "/" +
           row[2].as<std::string>() + "/" + row[3].as<std::string>() + "/" +
           row[4].as<std::string>();
    }
    s += " redis_events=" + std::to_string(probe_.EventSeqs(GameKey(game_id())).size());
    s += " redis_seq=" + probe_.GameState(GameKey(game_id()))["seq"];
    return s;
  }

  std::string partition_;
  OwnedRecord corrupt_;
  const std::string shm_ = TestSegmentName("dlq");  // none: replay goes without one
};

TEST_F(DlqTest, PoisonIsListedReplayedExactlyOnceAfterItsCauseIsGoneAndPurged) {
  const std::array<std::uint64_t, 4> players = {ids_.Player(1), ids_.Player(2), ids_.Player(3),
                                                ids_.Player(4)};
  const ScriptedGame game = PlayRealGame(game_id(), players, 11, NowNs() - 60'000'000'000ull);
  ASSERT_EQ(game.winner_team >= 0, true) << "the game did not finish";
  // The poisoned command: the one that scores the first hand (a card play,
  // its trick, the score, the next deal: several records, and derived rows).
  const auto scored = std::find_if(game.records.begin(), game.records.end(),
                                   [](const auto& r) { return r.type == fb::Body::HandScored; });
  ASSERT_NE(scored, game.records.end());
  const std::uint32_t command = scored->command;
  std::vector<const OwnedRecord*> poisoned;
  for (const OwnedRecord& r : game.records)
    if (r.command == command) poisoned.push_back(&r);
  ASSERT_GE(poisoned.size(), 3u);
  const std::uint32_t first_seq = poisoned.front()->seq;
  corrupt_ = sidecar::testing::CardPlayed(ids_.Game(2), 1, NowNs(), 0, 0);
  corrupt_.bytes[0] = 0xF0;
  corrupt_.bytes[1] = 0xFF;
  Clean();  // a corrupt record of an earlier run
  Exec("ALTER TABLE " + partition_ + " ADD CONSTRAINT hokm_test_dlq CHECK (game_id <> " + G() +
       " OR seq <> " + std::to_string(first_seq) + ")");

  std::vector<const OwnedRecord*> records;
  for (const OwnedRecord& r : game.records) records.push_back(&r);
  records.insert(records.begin() + 10, &corrupt_);
  const std::vector<RecordRef> refs = sidecar::testing::Refs(records, 7000);
  ASSERT_EQ(refs[10].record, nullptr);
  ASSERT_TRUE(redis_->Write(refs).ok());
  const Status written = pg_->WriteBatch(refs, ids_.Checkpoint(), refs.back().position);
  ASSERT_TRUE(written.ok()) << written.message();
  const long long total = static_cast<long long>(game.records.size());
  ASSERT_EQ(Count("SELECT count(*) FROM dead_letters WHERE game_id = " + G() +
                  " AND reason LIKE '%hokm_test_dlq%'"),
            static_cast<long long>(poisoned.size()));
  ASSERT_EQ(Count("SELECT count(*) FROM game_moves WHERE game_id = " + G()),
            total - static_cast<long long>(poisoned.size()));
  const auto corrupt_id = Query("SELECT id FROM dead_letters WHERE payload = " +
                                pq_->quote_raw(corrupt_.bytes.data(), corrupt_.bytes.size()))[0][0]
                              .as<std::int64_t>();
  // The dead letters of the command, by seq: (id, seq, bytes).
  struct Letter {
    std::int64_t id;
    std::uint32_t seq;
    std::size_t bytes;
  };
  std::vector<Letter> letters;
  for (const auto& row : Query("SELECT id, seq, octet_length(payload) FROM dead_letters WHERE "
                               "game_id = " +
                               G() + " ORDER BY seq"))
    letters.push_back(
        {row[0].as<std::int64_t>(), row[1].as<std::uint32_t>(), row[2].as<std::size_t>()});
  ASSERT_EQ(letters.size(), poisoned.size());

  // list: every one, with its reason and size.
  const CtlRun list = RunHokmctl({"dlq", "list", "--json", "--limit", "0"}, shm_);
  ASSERT_EQ(list.exit_code, 0) << list.Text();
  const nlohmann::json listed = list.Json();
  ASSERT_TRUE(listed.is_object()) << list.Text();
  std::size_t ours = 0;
  bool corrupt_listed = false;
  for (const auto& d : listed["dead_letters"]) {
    if (d["id"] == corrupt_id) {
      corrupt_listed = true;
      EXPECT_TRUE(d["game_id"].is_null());
      EXPECT_EQ(d["reason"], "failed FlatBuffers verification");
      EXPECT_EQ(d["bytes"], corrupt_.bytes.size());
    }
    if (!d["game_id"].is_number() || d["game_id"].get<std::uint64_t>() != game_id()) continue;
    ++ours;
    const auto seq = d["seq"].get<std::uint32_t>();
    const auto it = std::find_if(poisoned.begin(), poisoned.end(),
                                 [&](const OwnedRecord* r) { return r->seq == seq; });
    ASSERT_NE(it, poisoned.end()) << d.dump();
    EXPECT_EQ(d["bytes"], (*it)->bytes.size());
    EXPECT_NE(d["reason"].get<std::string>().find("hokm_test_dlq"), std::string::npos) << d.dump();
  }
  EXPECT_EQ(ours, poisoned.size()) << list.Text();
  EXPECT_TRUE(corrupt_listed) << list.Text();
  const CtlRun human = RunHokmctl({"dlq", "list", "--limit", "0"}, shm_);
  EXPECT_EQ(human.exit_code, 0) << human.Text();
  EXPECT_NE(human.out.find("hokm_test_dlq"), std::string::npos) << human.Text();

  // show: the record as JSON, or the bytes in hex.
  const CtlRun show = RunHokmctl({"dlq", "show", std::to_string(letters[0].id), "--json"}, shm_);
  ASSERT_EQ(show.exit_code, 0) << show.Text();
  const nlohmann::json shown = show.Json();
  EXPECT_EQ(shown["record"]["game_id"], game_id()) << show.Text();
  EXPECT_EQ(shown["record"]["seq"], letters[0].seq) << show.Text();
  EXPECT_EQ(shown["record"]["type"], "CardPlayed") << show.Text();
  const CtlRun show_bad = RunHokmctl({"dlq", "show", std::to_string(corrupt_id), "--json"}, shm_);
  ASSERT_EQ(show_bad.exit_code, 0) << show_bad.Text();
  EXPECT_TRUE(show_bad.Json()["record"].is_null()) << show_bad.Text();
  EXPECT_EQ(show_bad.Json()["hex"].get<std::string>().substr(0, 4), "f0ff") << show_bad.Text();

  // replay while the constraint is there: refused again, the rows stay,
  // their reason the server's new message.
  Exec("UPDATE dead_letters SET reason = 'stale reason' WHERE game_id = " + G());
  const CtlRun refused = RunHokmctl({"dlq", "replay", std::to_string(letters[0].id)}, shm_);
  EXPECT_EQ(refused.exit_code, 1) << refused.Text();
  EXPECT_EQ(Count("SELECT count(*) FROM dead_letters WHERE game_id = " + G() +
                  " AND reason LIKE '%hokm_test_dlq%'"),
            static_cast<long long>(poisoned.size()));
  EXPECT_EQ(Count("SELECT count(*) FROM game_moves WHERE game_id = " + G()),
            total - static_cast<long long>(poisoned.size()));

  // The cause removed: replaying one dead letter stores its whole command.
  Exec("ALTER TABLE " + partition_ + " DROP CONSTRAINT hokm_test_dlq");
  const auto saved = Query(
      "SELECT game_id, seq, record_type, ring_position, reason, payload FROM dead_letters "
      "WHERE game_id = " +
      G() + " ORDER BY seq");
  const CtlRun replay = RunHokmctl({"dlq", "replay", std::to_string(letters.back().id)}, shm_);
  ASSERT_EQ(replay.exit_code, 0) << replay.Text();
  EXPECT_NE(replay.out.find("replayed"), std::string::npos) << replay.Text();
  EXPECT_EQ(Count("SELECT count(*) FROM dead_letters WHERE game_id = " + G()), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM game_moves WHERE game_id = " + G()), total);
  EXPECT_EQ(Count("SELECT count(DISTINCT seq) FROM game_moves WHERE game_id = " + G()), total);
  EXPECT_EQ(Count("SELECT count(*) FROM game_commands WHERE game_id = " + G() +
                  " AND seq = " + std::to_string(first_seq)),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM hands WHERE game_id = " + G()),
            static_cast<long long>(game.hands.size()));
  EXPECT_EQ(Query("SELECT status || '/' || hands || '/' || points_a || '/' || points_b FROM "
                  "game_sessions WHERE game_id = " +
                  G())[0][0]
                .as<std::string>(),
            "finished/" + std::to_string(game.hands.size()) + "/" + std::to_string(game.points_a) +
                "/" + std::to_string(game.points_b));
  EXPECT_EQ(Count("SELECT count(*) FROM players WHERE games = 1 AND player_id BETWEEN " +
                  std::to_string(ids_.FirstPlayer()) + " AND " + std::to_string(ids_.LastPlayer())),
            4);
  std::vector<std::uint64_t> all_seqs(game.records.size());
  for (std::size_t k = 0; k < all_seqs.size(); ++k) all_seqs[k] = k + 1;
  EXPECT_EQ(probe_.EventSeqs(GameKey(game_id())), all_seqs) << "redis: each record once";
  const std::string after_replay = Snapshot();

  // Again: nothing to do, nothing changed.
  const CtlRun again = RunHokmctl({"dlq", "replay", std::to_string(letters.back().id)}, shm_);
  EXPECT_EQ(again.exit_code, 0) << again.Text();
  EXPECT_NE(again.out.find("nothing to do"), std::string::npos) << again.Text();
  EXPECT_EQ(Snapshot(), after_replay);

  // The rows back as if hokmctl had died after Redis and before the
  // commit (or two replays raced): the seq guards of both stores make the
  // replay store nothing twice, and the rows go.
  for (const auto& row : saved) {
    const pqxx::binarystring payload(row[5]);
    Exec(
        "INSERT INTO dead_letters (game_id, seq, record_type, ring_position, reason, payload) "
        "VALUES (" +
        row[0].as<std::string>() + ", " + row[1].as<std::string>() + ", " +
        row[2].as<std::string>() + ", " + row[3].as<std::string>() + ", 'again', " +
        pq_->quote_raw(reinterpret_cast<const unsigned char*>(payload.data()), payload.size()) +
        ")");
  }
  const auto again_id =
      Query("SELECT min(id) FROM dead_letters WHERE game_id = " + G())[0][0].as<std::int64_t>();
  const CtlRun guarded = RunHokmctl({"dlq", "replay", std::to_string(again_id)}, shm_);
  EXPECT_EQ(guarded.exit_code, 0) << guarded.Text();
  EXPECT_NE(guarded.out.find("postgresql 0 record(s) inserted"), std::string::npos)
      << guarded.Text();
  EXPECT_NE(guarded.out.find("redis 0 applied"), std::string::npos) << guarded.Text();
  EXPECT_EQ(Count("SELECT count(*) FROM dead_letters WHERE game_id = " + G()), 0);
  EXPECT_EQ(Snapshot(), after_replay);

  // The corrupt bytes cannot be replayed whatever the schema.
  const CtlRun cannot = RunHokmctl({"dlq", "replay", std::to_string(corrupt_id)}, shm_);
  EXPECT_EQ(cannot.exit_code, 1) << cannot.Text();
  EXPECT_NE(cannot.err.find("cannot be replayed"), std::string::npos) << cannot.Text();

  // purge: no terminal and no --yes is a usage error; --yes purges.
  const CtlRun asks = RunHokmctl({"dlq", "purge", std::to_string(corrupt_id)}, shm_);
  EXPECT_EQ(asks.exit_code, 2) << asks.Text();
  EXPECT_NE(asks.err.find("--yes"), std::string::npos) << asks.Text();
  EXPECT_EQ(Count("SELECT count(*) FROM dead_letters WHERE id = " + std::to_string(corrupt_id)), 1);
  const CtlRun purge = RunHokmctl({"dlq", "purge", std::to_string(corrupt_id), "--yes"}, shm_);
  EXPECT_EQ(purge.exit_code, 0) << purge.Text();
  EXPECT_EQ(Count("SELECT count(*) FROM dead_letters WHERE id = " + std::to_string(corrupt_id)), 0);

  // The audit trail: who (the OS user) did what.
  const std::string actor = pq_->quote(OsUserName());
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE action = 'dlq_replay' AND actor = " +
                  actor + " AND game_id = " + G()),
            3)
      << "refused, replayed, replayed with the rows stored already";
  EXPECT_EQ(
      Count("SELECT count(*) FROM audit_log WHERE action = 'dlq_replay' AND actor = " + actor +
            " AND game_id = " + G() +
            " AND (details->'replayed'->0->>'inserted')::int = " + std::to_string(poisoned.size())),
      1);
  EXPECT_EQ(
      Count("SELECT count(*) FROM audit_log WHERE action = 'dlq_replay' AND actor = " + actor +
            " AND details->'unreplayable'->0->>'id' = '" + std::to_string(corrupt_id) + "'"),
      1);
  EXPECT_EQ(Count("SELECT count(*) FROM audit_log WHERE action = 'dlq_purge' AND actor = " + actor +
                  " AND details->'ids' @> '[" + std::to_string(corrupt_id) + "]'"),
            1);
}

TEST_F(DlqTest, ReplayAndPurgeNeedAnIdOrAll) {
  EXPECT_EQ(RunHokmctl({"dlq", "replay"}, shm_).exit_code, 2);
  EXPECT_EQ(RunHokmctl({"dlq", "purge", "--yes"}, shm_).exit_code, 2);
  EXPECT_EQ(RunHokmctl({"dlq", "purge", "5", "--all", "--yes"}, shm_).exit_code, 2);
  EXPECT_EQ(RunHokmctl({"dlq", "show"}, shm_).exit_code, 2);
  const CtlRun down = RunHokmctl({"dlq", "list", "--redis-url", "redis://127.0.0.1:1/0", "--pg-url",
                                  "postgresql://hokm:secret@127.0.0.1:1/hokm"},
                                 shm_);
  EXPECT_EQ(down.exit_code, 1) << down.Text();
  EXPECT_EQ(down.err.find("secret"), std::string::npos) << down.Text();
}

}  // namespace
}  // namespace hokm::ctl::testing
