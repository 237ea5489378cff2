// migrate_test.cc: hokmctl migrate against the real PostgreSQL: status on
// an up-to-date database lists every schema file and exits 0; a new file
// in a --schema-dir is pending (exit 1) until `up` applies it, through the
// sidecar's own code (PgSink::Migrate), with an audit_log row.
#include <pwd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "sidecar/pg/pg_sink.h"
#include "tests/ctl/run_hokmctl.h"

namespace hokm::ctl::testing {
namespace {

namespace fs = std::filesystem;
using sidecar::integration::NotAnswering;
using sidecar::integration::PgUrlOrDie;
using sidecar::integration::SchemaDir;

// A version no real schema file will take; the test removes what it adds.
constexpr int kTestVersion = 99999;
constexpr const char* kTestFile = "99999_hokmctl_migrate_test.sql";

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const sidecar::PgUrl url = PgUrlOrDie();
    ASSERT_FALSE(HasFailure());
    auto sink = sidecar::PgSink::Connect(url);
    ASSERT_TRUE(sink.ok()) << NotAnswering("postgresql", url.HostPort(), sink.status());
    const Status s = sink->ApplySchema(SchemaDir());
    ASSERT_TRUE(s.ok()) << s.message();
    pq_ = std::make_unique<pqxx::connection>(url.ConnInfo());
    dir_ = fs::temp_directory_path() / ("hokmctl-migrate-" + std::to_string(::getpid()));
    Clean();
  }
  void TearDown() override {
    if (pq_) Clean();
  }
  void Clean() {
    pqxx::nontransaction tx(*pq_);
    tx.exec("DELETE FROM schema_migrations WHERE version = " + std::to_string(kTestVersion));
    tx.exec("DROP TABLE IF EXISTS hokmctl_migrate_test");
    fs::remove_all(dir_);
  }

  // The names of the schema files in dir.
  static std::set<std::string> Files(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".sql") names.insert(e.path().filename().string());
    return names;
  }

  std::unique_ptr<pqxx::connection> pq_;
  fs::path dir_;
  const std::string shm_ = TestSegmentName("migrate");
};

TEST_F(MigrateTest, StatusOnAnUpToDateDatabaseListsEveryFileAndExitsZero) {
  const std::set<std::string> files = Files(SchemaDir());
  ASSERT_GE(files.size(), 4u);
  const CtlRun run = RunHokmctl({"migrate", "status", "--json", "--schema-dir", SchemaDir()}, shm_);
  ASSERT_EQ(run.exit_code, 0) << run.Text();
  const nlohmann::json j = run.Json();
  ASSERT_TRUE(j.is_object()) << run.Text();
  EXPECT_EQ(j["pending"], 0);
  std::set<std::string> listed;
  for (const auto& m : j["migrations"]) {
    if (!m["has_file"].get<bool>()) continue;
    listed.insert(m["name"].get<std::string>());
    EXPECT_TRUE(m["applied"].get<bool>()) << m.dump();
    EXPECT_FALSE(m["applied_at"].get<std::string>().empty()) << m.dump();
  }
  EXPECT_EQ(listed, files);

  // The human form, from the default directory (the sidecar's: the build
  // tree's share/hokm/postgres, a link to the same files).
  const CtlRun human = RunHokmctl({"migrate"}, shm_);
  ASSERT_EQ(human.exit_code, 0) << human.Text();
  for (const std::string& f : files)
    EXPECT_NE(human.out.find(f), std::string::npos) << f << " not listed:\n" << human.Text();
}

TEST_F(MigrateTest, ANewFileIsPendingUntilUpAppliesIt) {
  fs::create_directories(dir_);
  for (const std::string& f : Files(SchemaDir()))
    fs::copy_file(fs::path(SchemaDir()) / f, dir_ / f);
  std::ofstream(dir_ / kTestFile) << "CREATE TABLE hokmctl_migrate_test (x integer);\n";

  const CtlRun pending = RunHokmctl({"migrate", "status", "--json", "--schema-dir", dir_}, shm_);
  ASSERT_EQ(pending.exit_code, 1) << pending.Text();
  const nlohmann::json j = pending.Json();
  EXPECT_EQ(j["pending"], 1) << pending.Text();
  bool seen = false;
  for (const auto& m : j["migrations"]) {
    if (m["version"] == kTestVersion) {
      seen = true;
      EXPECT_EQ(m["name"], kTestFile);
      EXPECT_FALSE(m["applied"].get<bool>());
    } else {
      EXPECT_TRUE(m["applied"].get<bool>()) << m.dump();
    }
  }
  EXPECT_TRUE(seen) << pending.Text();
  EXPECT_NE(pending.err.find("pending"), std::string::npos) << pending.Text();

  const auto audit_before =
      pqxx::nontransaction(*pq_).exec1("SELECT coalesce(max(id), 0) FROM audit_log")[0].as<long>();
  const CtlRun up = RunHokmctl({"migrate", "up", "--schema-dir", dir_}, shm_);
  ASSERT_EQ(up.exit_code, 0) << up.Text();
  EXPECT_NE(up.out.find(kTestFile), std::string::npos) << up.Text();
  {
    pqxx::nontransaction tx(*pq_);
    EXPECT_TRUE(
        tx.exec1("SELECT to_regclass('public.hokmctl_migrate_test') IS NOT NULL")[0].as<bool>());
    const passwd* pw = ::getpwuid(::geteuid());
    ASSERT_NE(pw, nullptr);
    EXPECT_EQ(tx.exec_params("SELECT count(*) FROM audit_log WHERE action = 'schema_migration' "
                             "AND (details->>'version')::int = $1 AND actor = $2 AND id > $3",
                             kTestVersion, std::string(pw->pw_name), audit_before)[0][0]
                  .as<int>(),
              1);
  }

  const CtlRun after = RunHokmctl({"migrate", "status", "--schema-dir", dir_}, shm_);
  EXPECT_EQ(after.exit_code, 0) << after.Text();
  // The source directory lacks the file: listed as applied without one, not pending.
  const CtlRun source =
      RunHokmctl({"migrate", "status", "--json", "--schema-dir", SchemaDir()}, shm_);
  EXPECT_EQ(source.exit_code, 0) << source.Text();
  bool without_file = false;
  const nlohmann::json listed = source.Json();
  for (const auto& m : listed["migrations"])
    if (m["version"] == kTestVersion) without_file = !m["has_file"].get<bool>();
  EXPECT_TRUE(without_file) << source.Text();
}

TEST_F(MigrateTest, AServerThatDoesNotAnswerIsExitOneWithAMessage) {
  const CtlRun run =
      RunHokmctl({"migrate", "--pg-url", "postgresql://hokm:secret@127.0.0.1:1/hokm"}, shm_);
  EXPECT_EQ(run.exit_code, 1) << run.Text();
  EXPECT_EQ(run.err.rfind("hokmctl: ", 0), 0u) << run.Text();
  EXPECT_EQ(run.err.find("secret"), std::string::npos) << "a password printed:\n" << run.Text();
}

}  // namespace
}  // namespace hokm::ctl::testing
