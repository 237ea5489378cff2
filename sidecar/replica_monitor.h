// replica_monitor.h: hokm-sidecar's view of a PostgreSQL read replica
// (--pg-read-url, README "A read replica"): a thread of its own polls the
// replica (and the primary's WAL position) every few seconds, off the
// delivery path, and /metrics shows the last poll: hokm_pg_replica_up,
// hokm_pg_replica_lag_seconds, hokm_pg_replica_lag_bytes.
//
// Every poll is bounded: libpq's asynchronous calls under poll(2) with a
// deadline, a new connection each time. A replica that is down, refuses,
// or stops answering mid-query (a stopped process whose kernel still
// accepts the connection) costs one timeout on this thread, is reported
// as up 0 with one log line when it goes down (and one when it is back),
// and never blocks the workers, /metrics or Stop() for longer than the
// slice in which the poll checks the stop flag.
//
// Thread safety: Start/Stop from one thread (the sidecar's Run); MetricsText
// from any thread (the last poll is copied under a mutex).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "shm/status.h"
#include "sidecar/url.h"

namespace hokm::sidecar {

// What a standby says of itself, one row: in_recovery (t/f), lag_seconds
// (now() - pg_last_xact_replay_timestamp(), 0 when everything received is
// replayed, NULL when that is unknown: nothing received or replayed yet)
// and lag_bytes (the WAL position $1, the primary's insert position, minus
// the replay position; NULL when $1 is NULL). Also what `hokmctl analytics` reports of the server
// it read.
inline constexpr const char* kReplicaStatusSql =
    "SELECT pg_is_in_recovery(), "
    "CASE WHEN NOT pg_is_in_recovery() THEN NULL "
    "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END, "
    "CASE WHEN pg_is_in_recovery() AND $1::pg_lsn IS NOT NULL THEN "
    "greatest(pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()), 0)::bigint END";

// One row of one statement on a new connection, within `timeout`,
// returning early (Unavailable) once *stop is set. Each field's text, or
// nullopt for NULL. Unavailable naming the server (never the password)
// when it cannot be had in time.
Result<std::vector<std::optional<std::string>>> QueryOneRow(
    const PgUrl& url, const std::string& sql, const std::vector<std::optional<std::string>>& params,
    std::chrono::milliseconds timeout, const std::atomic<bool>& stop);

class ReplicaMonitor {
 public:
  struct Options {
    std::chrono::milliseconds interval{2000};  // between polls
    std::chrono::milliseconds timeout{2000};   // per statement, connection included
  };

  // `primary` gives the WAL position the lag in bytes is measured from;
  // `replica` is polled. Nothing connects before Start().
  ReplicaMonitor(PgUrl primary, PgUrl replica, Options options);
  ~ReplicaMonitor();  // Stop()
  ReplicaMonitor(const ReplicaMonitor&) = delete;
  ReplicaMonitor& operator=(const ReplicaMonitor&) = delete;

  void Start();
  void Stop();

  // The hokm_pg_replica_* families (Prometheus text). Before the first
  // poll: up 0 and no lag samples.
  std::string MetricsText() const;

  // The last poll, for tests and /metrics.
  struct Sample {
    bool up = false;
    std::optional<double> lag_seconds;
    std::optional<std::int64_t> lag_bytes;
    std::uint64_t polls = 0;
    std::uint64_t failures = 0;
    std::string error;  // why the last poll failed
  };
  Sample Last() const;

  // One poll now, on the caller's thread (the thread's loop calls it).
  Sample PollOnce();

 private:
  void Loop();

  const PgUrl primary_;
  const PgUrl replica_;
  const Options options_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  Sample last_;  // guarded by mu_
};

}  // namespace hokm::sidecar
