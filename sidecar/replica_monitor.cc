// replica_monitor.cc: polling a PostgreSQL read replica's lag with bounded
// libpq calls (see replica_monitor.h).
#include "sidecar/replica_monitor.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <thread>

#include "service/prom_text.h"
#include "sidecar/log.h"

namespace hokm::sidecar {
namespace {

using Clock = std::chrono::steady_clock;

// How often a wait looks at the stop flag.
constexpr std::chrono::milliseconds kStopSlice{100};

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// libpq's message, first line only.
std::string ErrorOf(PGconn* c) {
  std::string what = c != nullptr ? PQerrorMessage(c) : "out of memory";
  if (const auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
  return what;
}

// Waits until `fd` is ready for `events`; false at the deadline or on stop.
bool WaitFor(int fd, short events, Clock::time_point deadline, const std::atomic<bool>& stop) {
  for (;;) {
    if (stop.load(std::memory_order_relaxed)) return false;
    const auto now = Clock::now();
    if (now >= deadline) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min(left, kStopSlice).count()) + 1);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

Result<std::vector<std::optional<std::string>>> QueryOneRow(
    const PgUrl& url, const std::string& sql, const std::vector<std::optional<std::string>>& params,
    std::chrono::milliseconds timeout, const std::atomic<bool>& stop) {
  const auto deadline = Clock::now() + timeout;
  const std::string where = "postgresql at " + url.HostPort() + "/" + url.dbname();
  const auto fail = [&](const std::string& why) { return Status::Unavailable(where + ": " + why); };
  Conn conn(PQconnectStart(url.ConnInfo().c_str()));
  if (!conn || PQstatus(conn.get()) == CONNECTION_BAD) return fail(ErrorOf(conn.get()));
  // PQconnectPoll's protocol: wait for writing first, then as it says.
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) return fail(ErrorOf(conn.get()));
    if (!WaitFor(PQsocket(conn.get()), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline,
                 stop)) {
      return fail(stop ? "stopping"
                       : "no connection within " + std::to_string(timeout.count()) + " ms");
    }
    st = PQconnectPoll(conn.get());
  }
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (!PQsendQueryParams(conn.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                         values.data(), nullptr, nullptr, 0)) {
    return fail(ErrorOf(conn.get()));
  }
  PgResult first;
  for (;;) {
    // The query was sent whole (a blocking connection flushes it); now
    // read until libpq has a result, without ever blocking in libpq.
    while (PQisBusy(conn.get())) {
      if (!WaitFor(PQsocket(conn.get()), POLLIN, deadline, stop)) {
        return fail(stop ? "stopping"
                         : "no answer within " + std::to_string(timeout.count()) + " ms");
      }
      if (!PQconsumeInput(conn.get())) return fail(ErrorOf(conn.get()));
    }
    PgResult r(PQgetResult(conn.get()));
    if (!r) break;
    if (!first) first = std::move(r);
  }
  if (!first) return fail("no result");
  if (PQresultStatus(first.get()) != PGRES_TUPLES_OK) {
    std::string what = PQresultErrorMessage(first.get());
    if (const auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return fail(what);
  }
  if (PQntuples(first.get()) < 1) return fail("no row");
  std::vector<std::optional<std::string>> row;
  for (int c = 0; c < PQnfields(first.get()); ++c) {
    if (PQgetisnull(first.get(), 0, c)) {
      row.emplace_back();
    } else {
      row.emplace_back(PQgetvalue(first.get(), 0, c));
    }
  }
  return row;
}

ReplicaMonitor::ReplicaMonitor(PgUrl primary, PgUrl replica, Options options)
    : primary_(std::move(primary)), replica_(std::move(replica)), options_(options) {}

ReplicaMonitor::~ReplicaMonitor() { Stop(); }

void ReplicaMonitor::Start() {
  if (thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] { Loop(); });
}

void ReplicaMonitor::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

ReplicaMonitor::Sample ReplicaMonitor::Last() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

ReplicaMonitor::Sample ReplicaMonitor::PollOnce() {
  Sample s = Last();
  ++s.polls;
  // The primary's position first: the replica's replay position read after
  // it can only be closer, so the lag in bytes is never overstated. A
  // primary that does not answer leaves the lag in bytes unknown. The
  // insert position, not pg_current_wal_lsn() (the written one): with
  // synchronous_commit = off (scripts/services.sh) a commit is visible on
  // the primary before the WAL writer writes it, and the replica is behind
  // by everything visible on the primary that it cannot show yet.
  std::optional<std::string> primary_lsn;
  if (auto p = QueryOneRow(primary_, "SELECT pg_current_wal_insert_lsn()::text", {},
                           options_.timeout, stop_);
      p.ok() && !p->empty()) {
    primary_lsn = (*p)[0];
  }
  auto r = QueryOneRow(replica_, kReplicaStatusSql, {primary_lsn}, options_.timeout, stop_);
  const bool was_up = s.up;
  s.lag_seconds.reset();
  s.lag_bytes.reset();
  if (!r.ok()) {
    s.up = false;
    s.error = r.status().message();
  } else if (r->size() < 3 || (*r)[0] != std::optional<std::string>("t")) {
    s.up = false;
    s.error = "the read replica at " + replica_.HostPort() +
              " is not a standby (pg_is_in_recovery() is false: promoted?)";
  } else {
    s.up = true;
    s.error.clear();
    if ((*r)[1]) s.lag_seconds = std::stod(*(*r)[1]);
    if ((*r)[2]) s.lag_bytes = std::stoll(*(*r)[2]);
  }
  if (!s.up) ++s.failures;
  if (was_up != s.up || s.polls == 1) {
    if (s.up) {
      Log("read replica at %s: up (a standby, lag %s s)", replica_.HostPort().c_str(),
          s.lag_seconds ? service::PromText::Number(*s.lag_seconds).c_str() : "unknown");
    } else if (!stop_.load()) {
      LogWarn("read replica at %s: down: %s (hokm_pg_replica_up 0; polled again every %lld ms)",
              replica_.HostPort().c_str(), s.error.c_str(),
              static_cast<long long>(options_.interval.count()));
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  last_ = s;
  return s;
}

void ReplicaMonitor::Loop() {
  while (!stop_.load()) {
    PollOnce();
    const auto next = Clock::now() + options_.interval;
    while (!stop_.load() && Clock::now() < next) {
      std::this_thread::sleep_for(std::min<Clock::duration>(kStopSlice, next - Clock::now()));
    }
  }
}

std::string ReplicaMonitor::MetricsText() const {
  const Sample s = Last();
  service::PromText t;
  t.Gauge("hokm_pg_replica_up", s.up ? 1.0 : 0.0,
          "1 when the PostgreSQL read replica (--pg-read-url) answered the last poll as a "
          "standby, else 0");
  if (s.up && s.lag_seconds) {
    t.Gauge("hokm_pg_replica_lag_seconds", *s.lag_seconds,
            "the replica's replay lag: now() minus the commit time of the last transaction it "
            "replayed, 0 when it replayed everything it received");
  }
  if (s.up && s.lag_bytes) {
    t.Gauge("hokm_pg_replica_lag_bytes", static_cast<double>(*s.lag_bytes),
            "bytes of WAL between the primary's insert position and the replica's replay "
            "position");
  }
  t.Counter("hokm_pg_replica_polls_total", static_cast<double>(s.polls),
            "polls of the read replica's lag");
  t.Counter("hokm_pg_replica_poll_failures_total", static_cast<double>(s.failures),
            "polls of the read replica that found it down or not a standby");
  return t.Take();
}

}  // namespace hokm::sidecar
