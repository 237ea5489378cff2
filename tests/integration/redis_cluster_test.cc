// redis_cluster_test.cc: the whole pipeline against a real Redis Cluster of
// three masters and three replicas (issue 17 item 2), started on loopback
// ports of its own by scripts/redis_cluster.sh: hokm-loadgen's embedded
// engine, the hokm-sidecar binary with the cluster's seed list, and
// loadgen's --verify (every game and move exactly once in PostgreSQL, every
// game's Redis state the engine's), then hokmctl's check and game through
// the cluster. The failover test SIGKILLs a master under load: its replica
// takes over, PostgreSQL loses nothing and Redis converges to the engine's
// state.
//
// The cluster's ports: HOKM_TEST_REDIS_CLUSTER_PORT (7100) .. +5, and
// their cluster bus +10000. A cluster that cannot start fails the test with
// the script's output; PostgreSQL is the one of scripts/services.sh
// (HOKM_PG_URL), and its absence fails the test too. Never skipped.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <vector>

#include "shm/segment.h"
#include "sidecar/redis/client.h"
#include "sidecar/redis/keys.h"
#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::sidecar::integration {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using proc::WaitExit;
using proc::WaitUntil;

std::string ClusterBasePort() { return EnvOr("HOKM_TEST_REDIS_CLUSTER_PORT", "7100"); }

// scripts/redis_cluster.sh `command` on the test's ports: its exit code,
// stdout and stderr in *out.
int ClusterScript(const std::string& command, std::string* out) {
  const std::string line = "HOKM_REDIS_CLUSTER_PORT=" + ClusterBasePort() + " '" +
                           std::string(HOKM_SOURCE_DIR) + "/scripts/redis_cluster.sh' " + command +
                           " 2>&1";
  FILE* pipe = ::popen(line.c_str(), "r");
  if (pipe == nullptr) {
    *out = "popen failed";
    return -1;
  }
  char buf[4096];
  out->clear();
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) *out += buf;
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class RedisClusterTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    std::string out;
    if (ClusterScript("stop", &out) != 0) std::fprintf(stderr, "%s", out.c_str());
  }

  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    shm_name_ = "hokm-rc-" + std::to_string(::getpid()) + "-" + test;
    dir_ = fs::temp_directory_path() / shm_name_;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    (void)shm::Segment::Remove(shm_name_);
    pg_url_ = PgUrlString();
    try {
      pqxx::connection c(PgUrlOrDie().ConnInfo());
    } catch (const std::exception& e) {
      FAIL() << NotAnswering("postgres", PgUrlOrDie().HostPort(), Status::Unavailable(e.what()));
    }
    metrics_port_ = proc::FreePort();

    std::string out;
    const int code = ClusterScript("start", &out);
    ASSERT_EQ(code, 0) << "the Redis Cluster did not start (scripts/redis_cluster.sh start, "
                          "ports "
                       << ClusterBasePort() << "..+5, needs redis-server 7 and redis-cli):\n"
                       << out;
    const std::string prefix = "HOKM_REDIS_CLUSTER_URL=";
    const std::size_t at = out.find(prefix);
    ASSERT_NE(at, std::string::npos) << "no URL in the script's output:\n" << out;
    cluster_url_ = out.substr(at + prefix.size(), out.find('\n', at) - at - prefix.size());
    auto url = ParseRedisUrl(cluster_url_);
    ASSERT_TRUE(url.ok()) << cluster_url_ << ": " << url.status().message();
    ASSERT_TRUE(url->cluster) << cluster_url_;
    url_ = *url;
    // Each test starts from empty masters: the keys the test checks are its own.
    Result<RedisClient> client = RedisClient::Connect(url_);
    ASSERT_TRUE(client.ok()) << client.status().message();
    ASSERT_TRUE(client->is_cluster());
    ASSERT_EQ(client->masters(), 3u) << client->Where();
    const Status flushed = client->ForEachMaster([](RedisConnection& node, std::string_view where) {
      RedisReply r = node.Command({"FLUSHALL"});
      if (!r || IsErrorReply(r.get()))
        return Status::Unavailable("FLUSHALL at " + std::string(where) + ": " + ReplyText(r.get()));
      return Status::Ok();
    });
    ASSERT_TRUE(flushed.ok()) << flushed.message();
  }

  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    (void)shm::Segment::Remove(shm_name_);
    if (!HasFailure()) fs::remove_all(dir_);
  }

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
  // Whether the child still runs (WNOWAIT: an exited child stays to be reaped by Finish).
  static bool Running(pid_t pid) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == 0;
  }

  // hokm-loadgen --mode embedded --verify against the cluster, with
  // `flags`; then the sidecar on its segment (loadgen waits for it).
  // Returns {loadgen pid, sidecar pid}.
  std::pair<pid_t, pid_t> StartRun(std::vector<std::string> flags, int budget_s) {
    std::vector<std::string> args = {
        HOKM_LOADGEN_BIN,
        "--mode",
        "embedded",
        "--shm-name",
        shm_name_,
        "--fresh",
        "--verify",
        "--verify-timeout-s",
        std::to_string(budget_s),
        "--redis-url",
        cluster_url_,
        "--pg-url",
        pg_url_,
        "--sidecar-metrics",
        "http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics",
        "--wait-for-sidecar",
        "60",
        "--json",
        (dir_ / "run.json").string(),
        "--save-games",
        (dir_ / "games.txt").string(),
        "--quiet"};
    args.insert(args.end(), flags.begin(), flags.end());
    const pid_t loadgen = Spawn(std::move(args), dir_ / "loadgen.log");
    EXPECT_TRUE(
        WaitUntil([&] { return shm::Segment::Attach(shm_name_).ok(); }, std::chrono::seconds(30)))
        << "loadgen did not create the segment:\n"
        << Slurp(dir_ / "loadgen.log");
    const pid_t sidecar =
        Spawn({HOKM_SIDECAR_BIN, "--shm-name", shm_name_, "--redis-url", cluster_url_, "--pg-url",
               pg_url_, "--spill-dir", (dir_ / "spill").string(), "--metrics-port",
               std::to_string(metrics_port_), "--batch-max-ms", "10", "--drain-and-exit",
               "--drain-timeout-s", std::to_string(budget_s)},
              dir_ / "sidecar.log");
    return {loadgen, sidecar};
  }

  // Waits for both, then checks loadgen's verify: every game and move
  // exactly once in PostgreSQL, every game's Redis state the engine's.
  nlohmann::json FinishRun(pid_t loadgen, pid_t sidecar, int budget_s) {
    const int loadgen_code = Finish(loadgen, std::chrono::seconds(budget_s));
    const int sidecar_code = Finish(sidecar, std::chrono::seconds(budget_s));
    EXPECT_EQ(sidecar_code, 0) << "sidecar:\n" << Slurp(dir_ / "sidecar.log");
    EXPECT_EQ(loadgen_code, 0) << "loadgen:\n"
                               << Slurp(dir_ / "loadgen.log") << "\nsidecar:\n"
                               << Slurp(dir_ / "sidecar.log");
    nlohmann::json run = nlohmann::json::parse(Slurp(dir_ / "run.json"), nullptr, false);
    EXPECT_FALSE(run.is_discarded()) << "no JSON report:\n" << Slurp(dir_ / "loadgen.log");
    if (run.is_discarded()) return run;
    EXPECT_EQ(run["verify"]["ok"], true) << run["verify"].dump() << "\n"
                                         << Slurp(dir_ / "loadgen.log");
    EXPECT_EQ(run["verify"]["lost"], 0) << run["verify"].dump();
    EXPECT_EQ(run["verify"]["duplicated"], 0) << run["verify"].dump();
    EXPECT_EQ(run["verify"]["mismatched"], 0) << run["verify"].dump();
    EXPECT_GT(run["verify"]["games"].get<long long>(), 0) << run.dump();
    EXPECT_EQ(run["verify"]["redis_games"], run["verify"]["games"]) << run["verify"].dump();
    return run;
  }

  // The saved games' ids.
  std::vector<std::uint64_t> SavedGames() {
    std::ifstream in(dir_ / "games.txt");
    std::string line;
    std::vector<std::uint64_t> ids;
    if (!std::getline(in, line)) return ids;  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::uint64_t id = 0;
      if (f >> id) ids.push_back(id);
    }
    return ids;
  }

  // Keys per master (DBSIZE), in the slot map's order.
  std::vector<long long> KeysPerMaster(RedisClient& client) {
    std::vector<long long> sizes;
    const Status s = client.ForEachMaster([&](RedisConnection& node, std::string_view) {
      RedisReply r = node.Command({"DBSIZE"});
      sizes.push_back(r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1);
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.message();
    return sizes;
  }

  std::string shm_name_, pg_url_, cluster_url_;
  RedisUrl url_;
  fs::path dir_;
  int metrics_port_ = 0;
  std::vector<pid_t> children_;
};

// The pipeline into the cluster: loadgen --verify ok, the keys spread over
// the three masters, and hokmctl reads through the cluster: `check --all`
// (SCAN on every master) finds no difference, `game ID` (one seed and
// --redis-cluster) reads a game's state from Redis.
TEST_F(RedisClusterTest, PipelineIntoAClusterVerifiesOk) {
  const auto [loadgen, sidecar] =
      StartRun({"--games", "100", "--total-games", "300", "--threads", "1"}, 90);
  const nlohmann::json run = FinishRun(loadgen, sidecar, 120);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(run["verify"]["games"], 300) << run["verify"].dump();

  Result<RedisClient> client = RedisClient::Connect(url_);
  ASSERT_TRUE(client.ok()) << client.status().message();
  const std::vector<long long> sizes = KeysPerMaster(*client);
  ASSERT_EQ(sizes.size(), 3u);
  for (std::size_t m = 0; m < sizes.size(); ++m) {
    EXPECT_GT(sizes[m], 50) << "master " << m << " holds almost no keys: the slots are not used";
  }
  // The sharded sets: every shard of the leaderboard has players (300
  // games of 4 players).
  for (std::uint32_t s = 0; s < keys::kGlobalShards; ++s) {
    RedisReply r = client->Command({"ZCARD", keys::LeaderboardShard(s)});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_INTEGER) << ReplyText(r.get());
    EXPECT_GT(r->integer, 0) << keys::LeaderboardShard(s);
  }

  const fs::path check_log = dir_ / "check.log";
  const int check =
      WaitExit(proc::Spawn({HOKM_CTL_BIN, "check", "--all", "--rate", "0", "--json", "--shm-name",
                            shm_name_, "--redis-url", cluster_url_, "--pg-url", pg_url_},
                           check_log.c_str()),
               std::chrono::seconds(120));
  EXPECT_EQ(check, 0) << Slurp(check_log);
  const std::string check_out = Slurp(check_log);
  const std::size_t brace = check_out.find('{');
  ASSERT_NE(brace, std::string::npos) << check_out;
  const nlohmann::json j = nlohmann::json::parse(check_out.substr(brace), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << check_out;
  EXPECT_EQ(j["differences_total"], 0) << check_out;
  EXPECT_GE(j["finished"]["checked"].get<long long>(), 300)
      << "check's SCAN missed streams of some master:\n"
      << check_out;

  const std::vector<std::uint64_t> games = SavedGames();
  ASSERT_FALSE(games.empty());
  const fs::path game_log = dir_ / "game.log";
  const std::string one_seed = "redis://" + url_.HostPort();
  const int game = WaitExit(proc::Spawn({HOKM_CTL_BIN, "game", std::to_string(games.back()),
                                         "--shm-name", shm_name_ + "-none", "--redis-url", one_seed,
                                         "--redis-cluster", "--pg-url", pg_url_},
                                        game_log.c_str()),
                            std::chrono::seconds(60));
  EXPECT_EQ(game, 0) << Slurp(game_log);
  EXPECT_NE(Slurp(game_log).find("redis"), std::string::npos) << Slurp(game_log);
}

// A master SIGKILLed under load: its replica takes over within the node
// timeout, the sidecar follows the new slot map (its spill queue holds what
// the dead master's slots could not take meanwhile), and at the end
// loadgen's verify finds every game and move once in PostgreSQL and every
// game's Redis state the engine's.
TEST_F(RedisClusterTest, MasterKilledUnderLoadLosesNothing) {
  const auto [loadgen, sidecar] =
      StartRun({"--games", "100", "--duration", "20", "--rate", "4000", "--threads", "1"}, 120);
  Result<RedisClient> client = RedisClient::Connect(url_);
  ASSERT_TRUE(client.ok()) << client.status().message();
  // Under load: the stores are taking records.
  ASSERT_TRUE(WaitUntil(
      [&] {
        long long total = 0;
        for (long long n : KeysPerMaster(*client)) total += n;
        return total > 300;
      },
      std::chrono::seconds(60)))
      << "nothing reached the cluster:\n"
      << Slurp(dir_ / "sidecar.log");
  ASSERT_TRUE(Running(loadgen)) << "the load ended before the kill";

  std::string out;
  ASSERT_EQ(ClusterScript("kill-master", &out), 0) << out;
  const std::string killed = out.substr(0, out.find('\n'));
  std::fprintf(stderr, "killed the master on port %s under load\n", killed.c_str());
  const auto killed_at = Clock::now();

  // Its replica takes over: three masters again, none on the killed port,
  // every slot served.
  std::string masters;
  ASSERT_TRUE(WaitUntil(
      [&] {
        Result<RedisClient> c = RedisClient::Connect(url_);
        if (!c.ok() || c->masters() != 3) return false;
        masters.clear();
        const Status s = c->ForEachMaster([&](RedisConnection& node, std::string_view where) {
          masters += std::string(where) + " ";
          RedisReply r = node.Command({"CLUSTER", "INFO"});
          if (!r || ReplyString(r.get()).find("cluster_state:ok") == std::string_view::npos)
            return Status::Unavailable("not ok");
          return Status::Ok();
        });
        return s.ok() && masters.find(":" + killed + " ") == std::string::npos;
      },
      std::chrono::seconds(30)))
      << "no replica took over the master on port " << killed << " (masters: " << masters << ")";
  std::fprintf(stderr, "a replica took over in %.1f s; masters now %s\n",
               std::chrono::duration<double>(Clock::now() - killed_at).count(), masters.c_str());
  EXPECT_TRUE(Running(loadgen)) << "the load ended before the failover completed";

  const nlohmann::json run = FinishRun(loadgen, sidecar, 180);
  ASSERT_FALSE(HasFailure());
  EXPECT_GT(run["verify"]["games"].get<long long>(), 100) << run["verify"].dump();
  // What the sidecar said of Redis meanwhile (its breaker, spill, slot map).
  std::istringstream log(Slurp(dir_ / "sidecar.log"));
  for (std::string line; std::getline(log, line);) {
    if (line.find("redis") != std::string::npos)
      std::fprintf(stderr, "sidecar: %s\n", line.c_str());
  }
}

// Two engine hosts into one set of stores (issue 17 item 3): the project's
// scripts/run_two_hosts.sh runs two hokm-engine processes on two segments
// with node ids 41 and 42, a hokm-sidecar each, into this Redis Cluster and
// PostgreSQL, with a hokm-loadgen --verify per host at once. Both verify
// ok, every game id carries its host's node, and analytics.node_summary
// counts both nodes' games.
TEST_F(RedisClusterTest, TwoEngineHostsIntoOneClusterAndPostgresVerifyOk) {
  const fs::path bin = fs::path(HOKM_SIDECAR_BIN).parent_path();
  // Two free ports, one per sidecar (two in a row from a base could
  // collide with another process's).
  const int metrics_a = proc::FreePort();
  int metrics_b = proc::FreePort();
  for (int i = 0; i < 10 && metrics_b == metrics_a; ++i) metrics_b = proc::FreePort();
  ASSERT_NE(metrics_a, metrics_b);
  const std::string line = "HOKM_BIN='" + bin.string() + "' HOKM_REDIS_URL='" + cluster_url_ +
                           "' HOKM_PG_URL='" + pg_url_ + "' HOKM_TWO_HOSTS_LOGS='" + dir_.string() +
                           "' HOKM_SHM_PREFIX='" + shm_name_ + "' HOKM_NODES='41 42' " +
                           "HOKM_METRICS_PORTS='" + std::to_string(metrics_a) + " " +
                           std::to_string(metrics_b) + "' '" + std::string(HOKM_SOURCE_DIR) +
                           "/scripts/run_two_hosts.sh' --games 60 --duration 4 --rate 3000 "
                           "--bots greedy 2>&1";
  FILE* pipe = ::popen(line.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  const int status = ::pclose(pipe);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "run_two_hosts.sh failed:\n"
      << out << "\nsidecar 41:\n"
      << Slurp(dir_ / "sidecar-41.log") << "\nsidecar 42:\n"
      << Slurp(dir_ / "sidecar-42.log");
  for (const char* node : {"41", "42"}) {
    const nlohmann::json r =
        nlohmann::json::parse(Slurp(dir_ / (std::string("loadgen-node-") + node + ".json")));
    EXPECT_EQ(r["verify"]["ok"], true) << node << ": " << r["verify"].dump();
    EXPECT_GE(r["verify"]["games"].get<long long>(), 60) << node;
  }
  pqxx::connection c(PgUrlOrDie().ConnInfo());
  pqxx::read_transaction tx(c);
  for (int node : {41, 42}) {
    const auto games =
        tx.exec1("SELECT coalesce((SELECT games FROM analytics.node_summary WHERE node_id = " +
                 std::to_string(node) + "), 0)")[0]
            .as<long long>();
    EXPECT_GE(games, 60) << "analytics.node_summary misses node " << node << "\n" << out;
  }
  // The script's per-node table names both nodes.
  EXPECT_NE(out.find("    41 "), std::string::npos) << out;
  EXPECT_NE(out.find("    42 "), std::string::npos) << out;
}

// The client follows a slot migration as Redis Cluster clients must: while
// the slot is MIGRATING, a key already moved answers ASK at the old master
// and the client asks the new one (after ASKING); once the slot belongs to
// the new master, the old one answers MOVED, the client follows it and then
// reads the whole slot map again.
TEST_F(RedisClusterTest, ClientFollowsAskAndMovedThroughASlotMigration) {
  Result<RedisClient> client = RedisClient::Connect(url_);
  ASSERT_TRUE(client.ok()) << client.status().message();
  const std::string key = "hokm:test:{migrating}";
  const std::uint16_t slot = KeySlot(key);
  RedisReply set = client->Command({"SET", key, "v1"});
  ASSERT_TRUE(set && !IsErrorReply(set.get())) << ReplyText(set.get());

  struct Master {
    std::string where, id;
    bool owns = false;
  };
  std::vector<Master> masters;
  const Status listed = client->ForEachMaster([&](RedisConnection& node, std::string_view where) {
    RedisReply id = node.Command({"CLUSTER", "MYID"});
    RedisReply owner = node.Command({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)});
    if (!id || !owner) return Status::Unavailable("no reply from " + std::string(where));
    masters.push_back({std::string(where), std::string(ReplyString(id.get())), owner->integer > 0});
    return Status::Ok();
  });
  ASSERT_TRUE(listed.ok()) << listed.message();
  ASSERT_EQ(masters.size(), 3u);
  const auto from =
      std::find_if(masters.begin(), masters.end(), [](const Master& m) { return m.owns; });
  ASSERT_NE(from, masters.end()) << "no master holds the key";
  const Master src = *from;
  const Master dst = masters[(static_cast<std::size_t>(from - masters.begin()) + 1) % 3];
  const auto connect = [](const std::string& where) {
    RedisUrl u;
    u.host = where.substr(0, where.rfind(':'));
    u.port = static_cast<std::uint16_t>(std::stoi(where.substr(where.rfind(':') + 1)));
    Result<RedisConnection> c = RedisConnection::Connect(u);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(c).value();
  };
  RedisConnection s = connect(src.where), d = connect(dst.where);
  const std::string slot_text = std::to_string(slot);
  const auto ok = [](RedisReply r) { return r && !IsErrorReply(r.get()); };
  ASSERT_TRUE(ok(d.Command({"CLUSTER", "SETSLOT", slot_text, "IMPORTING", src.id})));
  ASSERT_TRUE(ok(s.Command({"CLUSTER", "SETSLOT", slot_text, "MIGRATING", dst.id})));
  const std::string dst_host = dst.where.substr(0, dst.where.rfind(':'));
  const std::string dst_port = dst.where.substr(dst.where.rfind(':') + 1);
  RedisReply moved_key = s.Command({"MIGRATE", dst_host, dst_port, key, "0", "5000"});
  ASSERT_TRUE(ok(std::move(moved_key)));

  // ASK: the old master no longer has the key.
  RedisReply during = client->Command({"GET", key});
  ASSERT_TRUE(during) << client->Error();
  EXPECT_EQ(ReplyString(during.get()), "v1") << ReplyText(during.get());
  EXPECT_GE(client->stats().redirects_ask, 1u);
  EXPECT_EQ(client->stats().redirects_moved, 0u);

  // MOVED: the slot is the new master's now (told to every master).
  for (const Master& m : masters) {
    RedisConnection c = connect(m.where);
    ASSERT_TRUE(ok(c.Command({"CLUSTER", "SETSLOT", slot_text, "NODE", dst.id}))) << m.where;
  }
  const std::uint64_t reads_before = client->stats().slot_map_reads;
  RedisReply after = client->Command({"GET", key});
  ASSERT_TRUE(after) << client->Error();
  EXPECT_EQ(ReplyString(after.get()), "v1") << ReplyText(after.get());
  EXPECT_GE(client->stats().redirects_moved, 1u);
  // The next send reads the whole map again, and goes straight to the new owner.
  const std::uint64_t moved = client->stats().redirects_moved;
  RedisReply again = client->Command({"GET", key});
  EXPECT_EQ(ReplyString(again.get()), "v1");
  EXPECT_EQ(client->stats().slot_map_reads, reads_before + 1);
  EXPECT_EQ(client->stats().redirects_moved, moved);
}

}  // namespace
}  // namespace hokm::sidecar::integration
