// archive_test.cc: hokmctl archive and restore against the real PostgreSQL
// server, as the real binary: games that ended 400 days ago, in a game-id
// range of this test's own (its own partition), are archived with
// --older-than 365d (no other test's games are that old, so no other range
// moves); the partition is gone, the manifest (--list --json) says what the
// file holds; one game restored replays (hokmctl replay, exit 0); restoring
// twice adds nothing; --keep deletes an archive past retention; a corrupt
// file restores nothing and exits 1.
#include <filesystem>
#include <fstream>

#include "tests/ctl/stores_fixture.h"

namespace hokm::ctl::testing {
namespace {

namespace fs = std::filesystem;
using namespace hokm::sidecar::integration;
using sidecar::RecordRef;
using sidecar::testing::OwnedRecord;
using sidecar::testing::ScriptedGame;

constexpr int kBits = 52;  // the sink's partition_span_bits
constexpr int kGames = 3;

class ArchiveTest : public StoresTest {
 protected:
  void SetUp() override {
    StoresTest::SetUp();
    if (HasFailure()) return;
    // A block no engine reaches for centuries and no other test uses.
    block_ = 1024 + static_cast<std::int64_t>(ids_.counter % 1000);
    dir_ = fs::temp_directory_path() /
           ("hokm-archive-test-" + std::to_string(::getpid()) + "-" + std::to_string(ids_.counter));
    Clean();
  }
  void TearDown() override {
    if (pq_) Clean();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::string Part() const { return "game_commands_52_" + std::to_string(block_); }
  std::uint64_t Game(int k) const { return (static_cast<std::uint64_t>(block_) << kBits) | k; }
  std::string InRange() const {
    return "game_id >= " + std::to_string(block_ << kBits) + " AND game_id < " +
           std::to_string((block_ + 1) << kBits);
  }

  void Clean() {
    Exec("DROP TABLE IF EXISTS " + Part() + "; DELETE FROM game_commands WHERE " + InRange() +
         "; DELETE FROM game_sessions WHERE " + InRange() +
         "; DELETE FROM game_participants WHERE " + InRange() + "; DELETE FROM hands WHERE " +
         InRange() + "; DELETE FROM players WHERE player_id BETWEEN " +
         std::to_string(ids_.FirstPlayer()) + " AND " + std::to_string(ids_.LastPlayer()));
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // kGames games played to their end 400 days ago, through the sink.
  void PlayOldGames() {
    const std::uint64_t day_ns = 86'400'000'000'000ull;
    for (int k = 1; k <= kGames; ++k) {
      const ScriptedGame g = PlayRealGame(
          Game(k), {ids_.Player(1), ids_.Player(2), ids_.Player(3), ids_.Player(4)},
          static_cast<std::uint64_t>(k) * 7, NowNs() - 400 * day_ns + k * 1'000'000'000ull);
      ASSERT_GE(g.winner_team, 0);
      std::vector<const OwnedRecord*> records;
      for (const OwnedRecord& r : g.records) records.push_back(&r);
      const Status s = pg_->WriteBatch(sidecar::testing::Refs(records, 100 * k), "", 0);
      ASSERT_TRUE(s.ok()) << s.message();
    }
    ASSERT_TRUE(Query("SELECT to_regclass('" + Part() + "')")[0][0].as<std::string>() == Part())
        << "the sink made no partition " << Part();
  }

  long long Rows(const std::string& table, const std::string& where) {
    return Count("SELECT count(*) FROM " + table + " WHERE " + where);
  }

  // Archives with --older-than 365d; the path of this range's file.
  std::string ArchiveOld() {
    const CtlRun run = RunHokmctl({"archive", "--older-than", "365d", "--to", dir_.string()},
                                  "hokm-wt-archive-test");
    EXPECT_EQ(run.exit_code, 0) << run.Text();
    EXPECT_NE(run.out.find("archived range 52_" + std::to_string(block_) + ": 3 game(s)"),
              std::string::npos)
        << run.Text();
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("hokm-52_" + std::to_string(block_) + "-", 0) == 0 &&
          e.path().extension() == ".zst")
        return e.path().string();
    }
    ADD_FAILURE() << "no archive file in " << dir_ << "\n" << run.Text();
    return "";
  }

  std::int64_t block_ = 0;
  fs::path dir_;
};

TEST_F(ArchiveTest, ArchiveListRestoreReplayAndRetention) {
  PlayOldGames();
  ASSERT_FALSE(HasFailure());
  const long long commands = Rows("game_commands", InRange());
  const long long hands = Rows("hands", InRange());
  ASSERT_GT(commands, 3 * 20);
  const long long one_game = Rows("game_commands", "game_id = " + std::to_string(Game(2)));

  const std::string file = ArchiveOld();
  ASSERT_FALSE(file.empty());
  EXPECT_TRUE(Query("SELECT to_regclass('" + Part() + "')")[0][0].is_null())
      << "the partition is still there";
  EXPECT_EQ(Rows("game_commands", InRange()), 0);
  EXPECT_EQ(Rows("game_sessions", InRange()), kGames) << "the summary rows stay";
  EXPECT_EQ(
      Count("SELECT count(*) FROM audit_log WHERE action = 'archive' AND details->>'range' = '52_" +
            std::to_string(block_) + "'"),
      1);

  // The manifest, through --list --json.
  const CtlRun list =
      RunHokmctl({"archive", "--list", "--json", "--to", dir_.string()}, "hokm-wt-archive-test");
  ASSERT_EQ(list.exit_code, 0) << list.Text();
  const nlohmann::json j = list.Json();
  ASSERT_EQ(j["count"], 1) << list.Text();
  const nlohmann::json& m = j["archives"][0];
  EXPECT_EQ(m["path"], file);
  EXPECT_EQ(m["present"], true);
  EXPECT_EQ(m["games"], kGames);
  EXPECT_EQ(m["first_game_id"], Game(1));
  EXPECT_EQ(m["last_game_id"], Game(kGames));
  EXPECT_EQ(m["rows"]["game_commands"], commands);
  EXPECT_EQ(m["rows"]["game_sessions"], kGames);
  EXPECT_EQ(m["rows"]["hands"], hands);
  EXPECT_EQ(m["partitions"], nlohmann::json::array({Part()}));
  EXPECT_EQ(m["sha256"].get<std::string>().size(), 64u);
  EXPECT_LT(m["compressed_bytes"].get<long long>(), m["raw_bytes"].get<long long>());
  EXPECT_EQ(m["bytes_on_disk"], m["compressed_bytes"]);

  // One game back, and it replays through the rules.
  const std::string g2 = std::to_string(Game(2));
  const CtlRun one =
      RunHokmctl({"restore", "--archive", file, "--game", g2, "--json"}, "hokm-wt-archive-test");
  ASSERT_EQ(one.exit_code, 0) << one.Text();
  EXPECT_EQ(one.Json()["inserted"]["game_commands"], one_game) << one.Text();
  EXPECT_EQ(Rows("game_commands", InRange()), one_game) << "only game 2 is back";
  const CtlRun replay = RunHokmctl({"replay", g2}, "hokm-wt-archive-test");
  EXPECT_EQ(replay.exit_code, 0) << replay.Text();

  // Twice, then the whole archive twice: nothing duplicated.
  const CtlRun again =
      RunHokmctl({"restore", "--archive", file, "--game", g2, "--json"}, "hokm-wt-archive-test");
  ASSERT_EQ(again.exit_code, 0) << again.Text();
  EXPECT_EQ(again.Json()["inserted"]["game_commands"], 0) << again.Text();
  for (int k = 0; k < 2; ++k) {
    const CtlRun all = RunHokmctl({"restore", "--archive", file}, "hokm-wt-archive-test");
    ASSERT_EQ(all.exit_code, 0) << all.Text();
    EXPECT_EQ(Rows("game_commands", InRange()), commands);
    EXPECT_EQ(Rows("game_sessions", InRange()), kGames);
    EXPECT_EQ(Rows("hands", InRange()), hands);
  }
  EXPECT_GE(
      Count("SELECT count(*) FROM audit_log WHERE action = 'restore' AND details->>'file' = '" +
            file + "'"),
      4);

  // Retention: a fresh archive stays; one made 40 days ago goes.
  const CtlRun keep =
      RunHokmctl({"archive", "--keep", "30d", "--to", dir_.string()}, "hokm-wt-archive-test");
  ASSERT_EQ(keep.exit_code, 0) << keep.Text();
  EXPECT_TRUE(fs::exists(file)) << keep.Text();
  const std::string manifest = file.substr(0, file.size() - 4) + ".json";
  nlohmann::json mj = nlohmann::json::parse(std::ifstream(manifest));
  mj["created_unix"] = mj["created_unix"].get<long long>() - 40 * 86400;
  std::ofstream(manifest, std::ios::trunc) << mj.dump(2);
  const CtlRun old =
      RunHokmctl({"archive", "--keep", "30d", "--to", dir_.string()}, "hokm-wt-archive-test");
  ASSERT_EQ(old.exit_code, 0) << old.Text();
  EXPECT_NE(old.out.find("deleted " + file), std::string::npos) << old.Text();
  EXPECT_FALSE(fs::exists(file));
  EXPECT_FALSE(fs::exists(manifest));
}

TEST_F(ArchiveTest, ACorruptArchiveRestoresNothing) {
  PlayOldGames();
  ASSERT_FALSE(HasFailure());
  const std::string file = ArchiveOld();
  ASSERT_FALSE(file.empty());
  ASSERT_EQ(Rows("game_commands", InRange()), 0);

  // One byte in the middle of the compressed stream changed.
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 100u);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;

  const CtlRun run = RunHokmctl({"restore", "--archive", file}, "hokm-wt-archive-test");
  EXPECT_EQ(run.exit_code, 1) << run.Text();
  EXPECT_NE(run.err.find("nothing restored"), std::string::npos) << run.Text();
  EXPECT_EQ(Rows("game_commands", InRange()), 0) << "a corrupt archive wrote rows";
  EXPECT_EQ(
      Count("SELECT count(*) FROM audit_log WHERE action = 'restore' AND details->>'file' = '" +
            file + "'"),
      0);
}

}  // namespace
}  // namespace hokm::ctl::testing
