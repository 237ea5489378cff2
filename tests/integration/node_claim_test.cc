// node_claim_test.cc: one node id, one engine host. The real hokm-sidecar
// binary claims its segment's node in the real PostgreSQL (hokm_nodes,
// schemas/postgres/007_nodes.sql) through a pgBouncer in transaction mode:
// a second sidecar with the same node on another segment is refused with
// the holder named and exit code 5 while the first keeps running and
// beating; a restarted sidecar on the same segment is accepted; a clean
// stop releases the node; a killed holder on this host is taken over at
// once; a holder on another host keeps the node until its lease runs out.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <vector>

#include "shm/segment.h"
#include "sidecar/pg/pg_node.h"
#include "sidecar/pg/pg_sink.h"
#include "sidecar/sidecar.h"
#include "tests/integration/pgbouncer.h"
#include "tests/integration/process_util.h"
#include "tests/integration/stores.h"

namespace hokm::sidecar::integration {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using proc::WaitUntil;

// A node id no other test uses (they run on node 0).
constexpr std::uint32_t kNode = 47;

struct Holder {
  std::string host;
  std::string segment;
  std::int64_t pid = 0;
  double heartbeat_epoch = 0;  // heartbeat_at as Unix seconds
};

class NodeClaimTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string down = StoresDown();
    ASSERT_TRUE(down.empty()) << down;
    const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    base_ = "hokm-node-" + std::to_string(::getpid()) + "-" + test.substr(0, 40);
    dir_ = fs::temp_directory_path() / base_;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // The schema (007 included) applied straight to the server: the
    // sidecars then find it applied behind pgBouncer.
    auto sink = PgSink::Connect(PgUrlOrDie());
    ASSERT_TRUE(sink.ok()) << sink.status().message();
    const Status applied = sink->ApplySchema(SchemaDir());
    ASSERT_TRUE(applied.ok()) << applied.message();
    Sql("DELETE FROM hokm_nodes WHERE node_id = " + std::to_string(kNode));
    const std::string bouncer = bouncer_.Start(PgUrlOrDie());
    ASSERT_TRUE(bouncer.empty()) << bouncer;
  }
  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    for (const std::string& name : segments_) (void)shm::Segment::Remove(name);
    Sql("DELETE FROM hokm_nodes WHERE node_id = " + std::to_string(kNode));
    fs::remove_all(dir_);
  }

  static void Sql(const std::string& sql) {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::nontransaction tx(c);
    tx.exec(sql);
  }
  static std::optional<Holder> HolderOfNode() {
    pqxx::connection c(PgUrlOrDie().ConnInfo());
    pqxx::nontransaction tx(c);
    const pqxx::result r = tx.exec(
        "SELECT host, segment, pid, extract(epoch FROM heartbeat_at)::float8 FROM hokm_nodes "
        "WHERE node_id = " +
        std::to_string(kNode));
    if (r.empty()) return std::nullopt;
    return Holder{r[0][0].as<std::string>(), r[0][1].as<std::string>(), r[0][2].as<std::int64_t>(),
                  r[0][3].as<double>()};
  }

  // A segment of node kNode, created here (no engine needed: the sidecar
  // reads empty rings).
  std::string MakeSegment(const std::string& suffix) {
    shm::SegmentOptions o;
    o.name = base_ + "-" + suffix;
    o.table_capacity = 64;
    o.change_ring_bytes = 1 << 16;
    o.command_ring_bytes = 1 << 12;
    o.client_slots = 2;
    o.response_ring_bytes = 1 << 12;
    o.node_id = kNode;
    (void)shm::Segment::Remove(o.name);
    auto created = shm::Segment::Create(o);
    EXPECT_TRUE(created.ok()) << created.status().message();
    segments_.push_back(o.name);
    return o.name;
  }

  // hokm-sidecar on `segment` through pgBouncer, its log in <log>.
  pid_t StartSidecar(const std::string& segment, const std::string& log) {
    const pid_t pid = proc::Spawn(
        {HOKM_SIDECAR_BIN, "--shm-name", segment, "--redis-url", RedisUrlString(), "--pg-url",
         bouncer_.Url().ConnInfo(), "--schema-dir", SchemaDir(), "--spill-dir",
         (dir_ / ("spill-" + log)).string(), "--metrics-port", "0", "--node-lease-s", "6"},
        (dir_ / log).c_str());
    children_.push_back(pid);
    return pid;
  }
  std::string Log(const std::string& log) const {
    std::ifstream in(dir_ / log);
    std::stringstream s;
    s << in.rdbuf();
    return "--- " + log + ":\n" + s.str();
  }
  // Waits until hokm_nodes names `pid` as the node's holder.
  bool HeldBy(pid_t pid) {
    return WaitUntil(
        [&] {
          const std::optional<Holder> h = HolderOfNode();
          return h && h->pid == pid;
        },
        15s);
  }
  static bool Running(pid_t pid) { return ::waitpid(pid, nullptr, WNOHANG) == 0; }
  void Forget(pid_t pid) { std::erase(children_, pid); }

  std::string base_;
  fs::path dir_;
  OwnPgBouncer bouncer_{fs::temp_directory_path() /
                        ("hokm-node-pgb-" + std::to_string(::getpid()))};
  std::vector<pid_t> children_;
  std::vector<std::string> segments_;
};

TEST_F(NodeClaimTest, ASecondSidecarWithTheSameNodeOnAnotherSegmentIsRefusedWhileTheFirstRuns) {
  const std::string seg_a = MakeSegment("a");
  const std::string seg_b = MakeSegment("b");
  const pid_t first = StartSidecar(seg_a, "a.log");
  ASSERT_TRUE(HeldBy(first)) << "the first sidecar never claimed node " << kNode << "\n"
                             << Log("a.log");
  const std::optional<Holder> held = HolderOfNode();
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->segment, "/dev/shm/" + seg_a);
  EXPECT_EQ(held->host, ThisHostName());

  const pid_t second = StartSidecar(seg_b, "b.log");
  const int code = proc::WaitExit(second, 30s);
  Forget(second);
  EXPECT_EQ(code, kExitNodeHeld) << Log("b.log");
  const std::string log = Log("b.log");
  EXPECT_NE(log.find("node 47 is held by host " + ThisHostName() + " segment /dev/shm/" + seg_a +
                     " (pid " + std::to_string(first) + ") since "),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("give this engine another --node-id"), std::string::npos) << log;

  // The first keeps running, holding and beating.
  EXPECT_TRUE(Running(first)) << Log("a.log");
  const double refused_at = HolderOfNode()->heartbeat_epoch;
  EXPECT_TRUE(WaitUntil(
      [&] {
        const std::optional<Holder> h = HolderOfNode();
        return h && h->pid == first && h->heartbeat_epoch > refused_at;
      },
      10s))
      << "the first sidecar stopped beating after the refusal\n"
      << Log("a.log");
  EXPECT_TRUE(Running(first)) << Log("a.log");
}

TEST_F(NodeClaimTest, ARestartedSidecarOnTheSameSegmentIsAcceptedAndACleanStopReleasesTheNode) {
  const std::string seg = MakeSegment("a");
  const pid_t first = StartSidecar(seg, "first.log");
  ASSERT_TRUE(HeldBy(first)) << Log("first.log");
  ::kill(first, SIGKILL);  // no release: the row still names it
  ASSERT_EQ(proc::WaitExit(first, 10s), -SIGKILL);
  Forget(first);
  ASSERT_EQ(HolderOfNode()->pid, first);

  const pid_t restarted = StartSidecar(seg, "restarted.log");
  ASSERT_TRUE(HeldBy(restarted)) << "the restarted sidecar was not accepted\n"
                                 << Log("restarted.log");
  EXPECT_TRUE(Running(restarted)) << Log("restarted.log");

  ::kill(restarted, SIGTERM);
  EXPECT_EQ(proc::WaitExit(restarted, 30s), 0) << Log("restarted.log");
  Forget(restarted);
  EXPECT_FALSE(HolderOfNode().has_value()) << "a clean stop left node " << kNode << " claimed";
}

TEST_F(NodeClaimTest, AKilledHolderOnThisHostIsTakenOverAtOnceFromAnotherSegment) {
  const std::string seg_a = MakeSegment("a");
  const std::string seg_b = MakeSegment("b");
  const pid_t first = StartSidecar(seg_a, "a.log");
  ASSERT_TRUE(HeldBy(first)) << Log("a.log");
  ::kill(first, SIGKILL);
  ASSERT_EQ(proc::WaitExit(first, 10s), -SIGKILL);
  Forget(first);
  // Its heartbeat is fresh, but its pid is gone on this very host.
  const pid_t second = StartSidecar(seg_b, "b.log");
  ASSERT_TRUE(HeldBy(second)) << Log("b.log");
  EXPECT_EQ(HolderOfNode()->segment, "/dev/shm/" + seg_b);
  EXPECT_TRUE(Running(second)) << Log("b.log");
}

TEST_F(NodeClaimTest, AHolderOnAnotherHostKeepsTheNodeUntilItsLeaseRunsOut) {
  const std::string seg = MakeSegment("a");
  Sql("INSERT INTO hokm_nodes (node_id, host, segment, pid) VALUES (" + std::to_string(kNode) +
      ", 'engine-host-b', '/dev/shm/hokm-b', 4242)");
  const pid_t refused = StartSidecar(seg, "refused.log");
  EXPECT_EQ(proc::WaitExit(refused, 30s), kExitNodeHeld) << Log("refused.log");
  Forget(refused);
  EXPECT_NE(Log("refused.log")
                .find("node 47 is held by host engine-host-b segment /dev/shm/hokm-b (pid 4242)"),
            std::string::npos)
      << Log("refused.log");
  EXPECT_EQ(HolderOfNode()->host, "engine-host-b");

  // That host went silent longer ago than the lease (6 s here).
  Sql("UPDATE hokm_nodes SET heartbeat_at = now() - interval '1 minute' WHERE node_id = " +
      std::to_string(kNode));
  const pid_t accepted = StartSidecar(seg, "accepted.log");
  ASSERT_TRUE(HeldBy(accepted)) << Log("accepted.log");
  EXPECT_EQ(HolderOfNode()->host, ThisHostName());
  EXPECT_TRUE(Running(accepted)) << Log("accepted.log");
}

}  // namespace
}  // namespace hokm::sidecar::integration
