// replica_monitor_test.cc: the read replica's poller (sidecar/replica_monitor.h)
// against replicas that fail without a PostgreSQL server: a port where
// nothing listens, and a socket that accepts and never answers (a stopped
// server whose kernel still takes connections). Every poll ends within its
// timeout, Stop() ends a poll under way at once, and /metrics says up 0.
// The replica that answers is tests/integration/replica_test.cc's.
#include "sidecar/replica_monitor.h"
#include "tests/integration/process_util.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>

namespace hokm::sidecar {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A listening loopback socket nobody answers on: connections complete in
// the kernel's backlog, and no byte ever comes back.
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~SilentServer() {
    if (accepted_ >= 0) ::close(accepted_);
    ::close(fd_);
  }
  int port() const { return port_; }
  // Waits (up to `budget`) for a client to connect; true when one did.
  bool Accept(std::chrono::milliseconds budget) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(budget.count())) != 1) return false;
    accepted_ = ::accept(fd_, nullptr, nullptr);
    return accepted_ >= 0;
  }

 private:
  int fd_ = -1;
  int accepted_ = -1;
  int port_ = 0;
};

PgUrl UrlAt(int port) {
  auto url = ParsePgUrl("postgresql://hokm:secret@127.0.0.1:" + std::to_string(port) + "/hokm");
  EXPECT_TRUE(url.ok());
  return *url;
}

TEST(ReplicaMonitorTest, APortWhereNothingListensIsUnavailableAtOnce) {
  const std::atomic<bool> stop{false};
  const auto start = Clock::now();
  const auto row = QueryOneRow(UrlAt(proc::FreePort()), "SELECT 1", {}, 5000ms, stop);
  EXPECT_FALSE(row.ok());
  EXPECT_EQ(row.status().code(), Status::Code::kUnavailable);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(row.status().message().find("secret"), std::string::npos) << "no password in errors";
}

TEST(ReplicaMonitorTest, AServerThatNeverAnswersCostsOneTimeout) {
  SilentServer silent;
  const std::atomic<bool> stop{false};
  const auto start = Clock::now();
  const auto row = QueryOneRow(UrlAt(silent.port()), "SELECT 1", {}, 300ms, stop);
  const auto took = Clock::now() - start;
  ASSERT_FALSE(row.ok());
  EXPECT_NE(row.status().message().find("within 300 ms"), std::string::npos)
      << row.status().message();
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 2s);
}

TEST(ReplicaMonitorTest, StopEndsAPollUnderWay) {
  SilentServer silent;
  ReplicaMonitor::Options options;
  options.timeout = 30s;  // far longer than the test may take
  ReplicaMonitor monitor(UrlAt(proc::FreePort()), UrlAt(silent.port()), options);
  monitor.Start();
  // The poll connected to the silent server (after failing on the
  // primary): it is waiting for an answer that never comes.
  ASSERT_TRUE(silent.Accept(10s)) << "the monitor never connected to the replica";
  const auto start = Clock::now();
  monitor.Stop();
  EXPECT_LT(Clock::now() - start, 1s) << "Stop() waited for the poll's timeout";
  EXPECT_FALSE(monitor.Last().up);
}

TEST(ReplicaMonitorTest, MetricsSayUpZeroAndNoLagForAReplicaThatIsDown) {
  ReplicaMonitor monitor(UrlAt(proc::FreePort()), UrlAt(proc::FreePort()), {});
  std::string text = monitor.MetricsText();
  EXPECT_NE(text.find("# TYPE hokm_pg_replica_up gauge\nhokm_pg_replica_up 0\n"), std::string::npos)
      << text;
  const ReplicaMonitor::Sample s = monitor.PollOnce();
  EXPECT_FALSE(s.up);
  EXPECT_EQ(s.polls, 1u);
  EXPECT_EQ(s.failures, 1u);
  EXPECT_FALSE(s.error.empty());
  text = monitor.MetricsText();
  EXPECT_NE(text.find("\nhokm_pg_replica_up 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nhokm_pg_replica_poll_failures_total 1\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("hokm_pg_replica_lag_seconds"), std::string::npos) << text;
  EXPECT_EQ(text.find("hokm_pg_replica_lag_bytes"), std::string::npos) << text;
}

}  // namespace
}  // namespace hokm::sidecar
