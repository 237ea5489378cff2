// metrics_test.cc: the real hokm-engine and hokm-sidecar binaries'
// /metrics, /health, /readyz and /livez, judged by Prometheus's own tools:
// `promtool check metrics` over both pages, a real `prometheus` scraping
// both with docker/prometheus.yml, the sidecar's /health turning 503 while
// its Redis is stopped and 200 again after, the engine's while its segment
// header is not a hokm segment's, and --metrics-bind's check.
//
// promtool and prometheus come from Debian's `prometheus` package
// (scripts/setup.sh); a test fails, never skips, when one is missing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "shm/segment.h"
#include "sidecar/sink_client.h"
#include "sidecar/window.h"
#include "tests/integration/http_util.h"
#include "tests/integration/own_redis.h"
#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::sidecar::integration {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using proc::HttpGet;
using proc::WaitUntil;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// What `args` (args[0] a path) printed on stdout and stderr, with stdin
// from `input`, and its exit code (as proc::WaitExit).
struct ToolRun {
  int exit_code = -1;
  std::string output;
};
ToolRun RunTool(std::vector<std::string> args, const fs::path& input, const fs::path& log) {
  const pid_t pid =
      proc::Spawn(std::move(args), {.in = input.c_str(), .out = log.c_str(), .err = log.c_str()});
  ToolRun run;
  run.exit_code = proc::WaitExit(pid, std::chrono::seconds(30));
  run.output = ReadFile(log);
  return run;
}

// Replaces the one `from` in `text`; false when it is not there.
bool ReplaceOnce(std::string& text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  if (at == std::string::npos) return false;
  text.replace(at, from.size(), to);
  return true;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    shm_name_ = "hokm-metrics-" + std::to_string(::getpid()) + "-" + test;
    dir_ = fs::temp_directory_path() / shm_name_;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    (void)shm::Segment::Remove(shm_name_);
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    (void)shm::Segment::Remove(shm_name_);
    fs::remove_all(dir_);
  }

  pid_t Spawn(std::vector<std::string> args, const std::string& log_name) {
    const pid_t pid = proc::Spawn(std::move(args), (dir_ / log_name).c_str());
    children_.push_back(pid);
    return pid;
  }
  std::string Log(const std::string& log_name) const {
    return "--- " + log_name + ":\n" + ReadFile(dir_ / log_name);
  }

  // hokm-engine with 2 shards on a free port, once its /readyz says 200.
  void StartEngine() {
    engine_port_ = proc::FreePort();
    Spawn({HOKM_ENGINE_BIN, "--shm-name", shm_name_, "--fresh", "--capacity", "1024", "--ring-mb",
           "1", "--shards", "2", "--metrics-bind", "127.0.0.1", "--metrics-port",
           std::to_string(engine_port_)},
          "engine.log");
    ASSERT_TRUE(WaitUntil([&] { return HttpGet(engine_port_, "/readyz").status == 200; }, 10s))
        << "hokm-engine's /readyz never said 200\n"
        << Log("engine.log");
  }

  // hokm-sidecar on a free port against `redis_url` and the test
  // PostgreSQL, once its /health answers.
  void StartSidecar(const std::string& redis_url) {
    sidecar_port_ = proc::FreePort();
    Spawn({HOKM_SIDECAR_BIN, "--shm-name", shm_name_, "--redis-url", redis_url, "--pg-url",
           PgUrlString(), "--schema-dir", SchemaDir(), "--spill-dir", (dir_ / "spill").string(),
           "--metrics-port", std::to_string(sidecar_port_), "--batch-max-ms", "10"},
          "sidecar.log");
    ASSERT_TRUE(WaitUntil([&] { return HttpGet(sidecar_port_, "/health").status != 0; }, 10s))
        << "hokm-sidecar's /health never answered\n"
        << Log("sidecar.log");
  }

  // Both, against the test servers.
  void StartBoth() {
    const std::string down = StoresDown();
    ASSERT_TRUE(down.empty()) << down;
    ASSERT_NO_FATAL_FAILURE(StartEngine());
    ASSERT_NO_FATAL_FAILURE(StartSidecar(RedisUrlString()));
  }

  // The path of a tool of Debian's prometheus package ("" and a failure
  // saying so when it is missing).
  static std::string PrometheusTool(const char* name) {
    const std::string path = proc::FindInPath(name);
    EXPECT_FALSE(path.empty()) << name
                               << " not found in PATH: install Debian's prometheus package "
                                  "(scripts/setup.sh)";
    return path;
  }

  std::string shm_name_;
  fs::path dir_;
  std::vector<pid_t> children_;
  int engine_port_ = 0;
  int sidecar_port_ = 0;
};

TEST_F(MetricsTest, PromtoolFindsNothingWrongWithEitherPage) {
  const std::string promtool = PrometheusTool("promtool");
  ASSERT_FALSE(promtool.empty());
  ASSERT_NO_FATAL_FAILURE(StartBoth());

  const std::regex sub_base_unit("^[a-z_]*_(ms|us|ns|milliseconds|microseconds)[_{ ]");
  for (const auto& [what, port] :
       {std::pair{"engine", engine_port_}, std::pair{"sidecar", sidecar_port_}}) {
    const proc::HttpAnswer page = HttpGet(port, "/metrics");
    ASSERT_EQ(page.status, 200) << what;
    const fs::path file = dir_ / (std::string(what) + ".prom");
    WriteFile(file, page.body);
    const ToolRun check =
        RunTool({promtool, "check", "metrics"}, file, dir_ / (std::string(what) + ".promtool"));
    EXPECT_EQ(check.exit_code, 0) << what << ": promtool check metrics:\n"
                                  << check.output << "--- the page:\n"
                                  << page.body;
    EXPECT_EQ(check.output, "") << what << ": promtool check metrics";

    // What promtool does not look at: the build, and every family's HELP.
    EXPECT_NE(page.body.find("\nhokm_build_info{version=\""), std::string::npos) << page.body;
    std::istringstream lines(page.body);
    std::set<std::string> helped, typed;
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("# HELP ", 0) == 0) helped.insert(line.substr(7, line.find(' ', 7) - 7));
      if (line.rfind("# TYPE ", 0) == 0) typed.insert(line.substr(7, line.find(' ', 7) - 7));
      EXPECT_FALSE(std::regex_search(line, sub_base_unit)) << what << ": not a base unit: " << line;
    }
    EXPECT_EQ(helped, typed) << what;
    EXPECT_GT(typed.size(), 5u) << what;
  }
  // The sinks' own counters are on the page before a store was written to.
  const std::string sidecar = HttpGet(sidecar_port_, "/metrics").body;
  EXPECT_NE(sidecar.find("\nhokm_sidecar_pg_transactions_total 0\n"), std::string::npos) << sidecar;
}

TEST_F(MetricsTest, ARealPrometheusScrapesBothWithTheProjectsConfig) {
  const std::string prometheus = PrometheusTool("prometheus");
  const std::string promtool = PrometheusTool("promtool");
  ASSERT_FALSE(prometheus.empty() || promtool.empty());
  ASSERT_NO_FATAL_FAILURE(StartBoth());

  // docker/prometheus.yml as it is, then pointed at this test's loopback ports.
  const fs::path project_config = fs::path(HOKM_SOURCE_DIR) / "docker" / "prometheus.yml";
  const ToolRun checked =
      RunTool({promtool, "check", "config", project_config.string()}, "/dev/null", dir_ / "check");
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  std::string config = ReadFile(project_config);
  const std::string engine = "127.0.0.1:" + std::to_string(engine_port_);
  const std::string sidecar = "127.0.0.1:" + std::to_string(sidecar_port_);
  ASSERT_TRUE(ReplaceOnce(config, "targets: [\"engine:9464\"]", "targets: [\"" + engine + "\"]"))
      << config;
  ASSERT_TRUE(ReplaceOnce(config, "targets: [\"sidecar:9465\"]", "targets: [\"" + sidecar + "\"]"))
      << config;
  ASSERT_TRUE(ReplaceOnce(config, "\n  scrape_interval: 5s\n", "\n  scrape_interval: 500ms\n"))
      << config;
  ASSERT_TRUE(ReplaceOnce(config, "\n  scrape_timeout: 4s\n", "\n  scrape_timeout: 400ms\n"))
      << config;
  WriteFile(dir_ / "prometheus.yml", config);
  const int port = proc::FreePort();
  Spawn({prometheus, "--config.file=" + (dir_ / "prometheus.yml").string(),
         "--storage.tsdb.path=" + (dir_ / "tsdb").string(),
         "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
        "prometheus.log");

  // Both targets up, as Prometheus's API says.
  nlohmann::json targets;
  const bool up = WaitUntil(
      [&] {
        const proc::HttpAnswer a = HttpGet(port, "/api/v1/targets?state=active");
        if (a.status != 200) return false;
        targets = nlohmann::json::parse(a.body, nullptr, false);
        if (targets.is_discarded()) return false;
        std::set<std::string> jobs_up;
        for (const auto& t : targets["data"]["activeTargets"]) {
          if (t.value("health", "") == "up") jobs_up.insert(t["labels"].value("job", ""));
        }
        return jobs_up == std::set<std::string>{"hokm-engine", "hokm-sidecar"};
      },
      15s);
  ASSERT_TRUE(up) << "not both targets up:\n" << targets.dump(1) << "\n" << Log("prometheus.log");

  // hokm_ series with values: the build of each, the engine's capacity.
  nlohmann::json result;
  const auto query = [&](const std::string& q) {
    const proc::HttpAnswer a = HttpGet(port, "/api/v1/query?query=" + q);
    result = nlohmann::json::parse(a.body, nullptr, false);
    return a.status == 200 && !result.is_discarded() ? result["data"]["result"]
                                                     : nlohmann::json::array();
  };
  ASSERT_TRUE(WaitUntil([&] { return query("hokm_build_info").size() == 2; }, 10s))
      << result.dump(1);
  for (const auto& series : result["data"]["result"]) {
    EXPECT_EQ(series["value"][1], "1") << series.dump();
    EXPECT_FALSE(series["metric"].value("commit", "").empty()) << series.dump();
    EXPECT_FALSE(series["metric"].value("version", "").empty()) << series.dump();
  }
  const nlohmann::json capacity = query("hokm_engine_table_capacity");
  ASSERT_EQ(capacity.size(), 1u) << result.dump(1);
  EXPECT_EQ(capacity[0]["value"][1], "1024");
  EXPECT_EQ(query("hokm_sidecar_breaker_state").size(), 2u) << result.dump(1);
}

TEST_F(MetricsTest, SidecarHealthIs503WhileItsRedisIsStoppedAnd200After) {
  const std::string down = StoresDown();
  ASSERT_TRUE(down.empty()) << down;
  OwnRedis redis(dir_ / "redis");
  ASSERT_TRUE(redis.Start()) << "redis-server did not start (scripts/setup.sh installs it)";
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  ASSERT_NO_FATAL_FAILURE(StartSidecar(redis.Url()));
  proc::HttpAnswer health;
  const auto health_is = [&](int status) {
    health = HttpGet(sidecar_port_, "/health");
    return health.status == status;
  };
  ASSERT_TRUE(WaitUntil([&] { return health_is(200); }, 10s)) << health.body;
  EXPECT_EQ(HttpGet(sidecar_port_, "/readyz").status, 200);

  redis.Stop();
  ASSERT_TRUE(WaitUntil([&] { return health_is(503); }, 10s))
      << "still " << health.status << ": " << health.body << "\n"
      << Log("sidecar.log");
  const nlohmann::json j = nlohmann::json::parse(health.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << health.body;
  EXPECT_EQ(j["status"], "degraded");
  EXPECT_EQ(j["ready"], false);
  ASSERT_FALSE(j["reasons"].empty()) << health.body;
  EXPECT_NE(j["reasons"][0].get<std::string>().find("redis"), std::string::npos) << health.body;
  EXPECT_NE(j["redis"]["breaker"], "closed") << health.body;
  // The keys other tools read are all still there.
  for (const char* key : {"engine_attached", "lag_records", "pending_records", "corrupt_rings"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_TRUE(j["postgres"].contains("spill_records"));
  EXPECT_EQ(HttpGet(sidecar_port_, "/readyz").status, 503);
  EXPECT_EQ(HttpGet(sidecar_port_, "/livez").status, 200) << "not ready, but alive";

  ASSERT_TRUE(redis.Start()) << "redis-server did not restart";
  ASSERT_TRUE(WaitUntil([&] { return health_is(200); }, 15s))
      << "still " << health.status << ": " << health.body << "\n"
      << Log("sidecar.log");
  EXPECT_NE(health.body.find("\"reasons\":[]"), std::string::npos) << health.body;
}

TEST_F(MetricsTest, EngineHealthIs503WhileItsSegmentHeaderIsNotAHokmSegments) {
  ASSERT_NO_FATAL_FAILURE(StartEngine());
  proc::HttpAnswer health = HttpGet(engine_port_, "/health");
  ASSERT_EQ(health.status, 200) << health.body;
  const nlohmann::json j = nlohmann::json::parse(health.body, nullptr, false);
  EXPECT_EQ(j["status"], "ok") << health.body;
  EXPECT_EQ(j["shards_running"], 2) << health.body;
  for (const char* key : {"shards", "active_games", "busy", "max_change_ring_fill"})
    EXPECT_TRUE(j.contains(key)) << key;

  auto segment = shm::Segment::Attach(shm_name_);
  ASSERT_TRUE(segment.ok()) << segment.status().message();
  std::uint64_t magic = 0;
  std::memcpy(&magic, segment->base(), sizeof magic);
  const std::uint64_t overwritten = ~magic;
  std::memcpy(segment->base(), &overwritten, sizeof overwritten);
  const bool unavailable = WaitUntil(
      [&] {
        health = HttpGet(engine_port_, "/health");
        return health.status == 503;
      },
      5s);
  const int readyz = HttpGet(engine_port_, "/readyz").status;
  const int livez = HttpGet(engine_port_, "/livez").status;
  std::memcpy(segment->base(), &magic, sizeof magic);  // the engine may exit cleanly
  ASSERT_TRUE(unavailable) << health.body;
  EXPECT_NE(health.body.find("not a hokm segment"), std::string::npos) << health.body;
  EXPECT_EQ(readyz, 503);
  EXPECT_EQ(livez, 200);
  EXPECT_TRUE(WaitUntil([&] { return HttpGet(engine_port_, "/health").status == 200; }, 5s));
}

TEST_F(MetricsTest, MetricsBindRefusesWhatIsNoAddress) {
  for (const char* bin : {HOKM_ENGINE_BIN, HOKM_SIDECAR_BIN}) {
    const pid_t pid =
        Spawn({bin, "--shm-name", shm_name_, "--metrics-bind", "everywhere"}, "bad.log");
    const int code = proc::WaitExit(pid, 10s);
    std::erase(children_, pid);
    EXPECT_NE(code, 0) << bin;
    EXPECT_NE(ReadFile(dir_ / "bad.log").find("everywhere"), std::string::npos)
        << bin << " " << Log("bad.log");
  }
  EXPECT_FALSE(shm::Segment::Attach(shm_name_).ok()) << "refused before creating a segment";
}

// hokm-sidecar's PostgreSQL counters on /metrics (PgSinkClient::StatsText) go
// on counting when the server drops the connection and the client connects
// a new sink; they neither vanish nor start again at zero.
TEST(PgClientCountersTest, CountOnOverAReconnect) {
  const std::string down = StoresDown();
  ASSERT_TRUE(down.empty()) << down;
  const IdRange ids = IdRange::ForThisTest();
  {
    auto schema = PgSink::Connect(PgUrlOrDie());  // the tables, on a new server
    ASSERT_TRUE(schema.ok()) << schema.status().message();
    const Status applied = schema->ApplySchema(SchemaDir());
    ASSERT_TRUE(applied.ok()) << applied.message();
  }
  pqxx::connection pq(PgUrlOrDie().ConnInfo());
  const auto exec = [&](const std::string& sql) {
    pqxx::nontransaction tx(pq);
    return tx.exec(sql);
  };
  // The client checkpoints as <prefix><shard>: shard 0 here.
  const std::string clean =
      CleanIdsSql(ids) + "DELETE FROM sidecar_checkpoint WHERE name = '" + ids.Checkpoint() + "0';";
  exec(clean);
  const std::vector<testing::ScriptedGame> games = {PlayRealGame(
      ids.Game(1), {ids.Player(1), ids.Player(2), ids.Player(3), ids.Player(4)}, 11, 1'000'000)};
  const std::vector<RecordRef> refs = testing::Refs(testing::Interleave(games));
  std::size_t half = refs.size() / 2;  // at a command's end, as the sidecar cuts batches
  while (refs[half].position == refs[half - 1].position) ++half;
  const auto first = std::span(refs).first(half);
  const auto second = std::span(refs).subspan(half);
  const auto last_of = [](std::span<const RecordRef> batch) {
    return WindowEntry{batch.back(), 1, 0, true};
  };
  const auto transactions = [](const std::string& text) {
    const std::string name = "\nhokm_sidecar_pg_transactions_total ";
    const std::size_t at = text.find(name);
    return at == std::string::npos ? -1 : std::atol(text.c_str() + at + name.size());
  };

  PgSinkClient client(PgUrlOrDie(), SchemaDir(), ids.Checkpoint());
  EXPECT_EQ(transactions("\n" + client.StatsText()), 0) << "zeros before the first connect";
  const auto sidecar_backends = [&] {
    std::set<int> pids;
    for (const auto& row :
         exec("SELECT pid FROM pg_stat_activity WHERE application_name = 'hokm-sidecar'"))
      pids.insert(row[0].as<int>());
    return pids;
  };
  const std::set<int> others = sidecar_backends();
  const Status wrote = client.Write(first, last_of(first));
  ASSERT_TRUE(wrote.ok()) << wrote.message();
  const long after_first = transactions("\n" + client.StatsText());
  EXPECT_GT(after_first, 0);

  // The server drops this client's connection (only its: the backends of
  // hokm-sidecar that were there before it connected stay).
  int dropped = 0;
  for (const int pid : sidecar_backends()) {
    if (others.count(pid) != 0) continue;
    exec("SELECT pg_terminate_backend(" + std::to_string(pid) + ")");
    ++dropped;
  }
  ASSERT_EQ(dropped, 1);
  const Status lost = client.Write(second, last_of(second));
  EXPECT_EQ(lost.code(), Status::Code::kUnavailable) << lost.message();
  EXPECT_EQ(transactions("\n" + client.StatsText()), after_first)
      << "the dropped sink's counts stay on the page";
  const Status again = client.Write(second, last_of(second));
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_GT(transactions("\n" + client.StatsText()), after_first)
      << "the new sink's counts add to the old one's";
  exec(clean);
}

}  // namespace
}  // namespace hokm::sidecar::integration
