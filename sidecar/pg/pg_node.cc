// pg_node.cc: claiming, beating and releasing a node id in hokm_nodes.
#include "sidecar/pg/pg_node.h"

#include <unistd.h>

#include <cstdio>
#include <functional>
#include <pqxx/pqxx>

#include "shm/segment.h"

namespace hokm::sidecar {

namespace {

// Takes the row when it is free, ours (same host and segment) or silent
// for longer than the lease; else returns nothing.
constexpr const char* kClaim =
    "INSERT INTO hokm_nodes AS n (node_id, host, segment, pid) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, segment = excluded.segment, "
    "pid = excluded.pid, claimed_at = now(), heartbeat_at = now() "
    "WHERE (n.host = excluded.host AND n.segment = excluded.segment) "
    "OR n.heartbeat_at < now() - make_interval(secs => $5) "
    "RETURNING n.node_id";
constexpr const char* kHolder =
    "SELECT host, segment, pid, to_char(claimed_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD HH24:MI:SS \"UTC\"'), extract(epoch FROM now() - heartbeat_at)::float8 "
    "FROM hokm_nodes WHERE node_id = $1";
// Takes the row from exactly the holder we saw (its pid found dead here).
constexpr const char* kTakeOver =
    "UPDATE hokm_nodes SET host = $2, segment = $3, pid = $4, claimed_at = now(), "
    "heartbeat_at = now() WHERE node_id = $1 AND host = $5 AND segment = $6 AND pid = $7";
constexpr const char* kBeat =
    "UPDATE hokm_nodes SET heartbeat_at = now(), pid = $4 "
    "WHERE node_id = $1 AND host = $2 AND segment = $3";
constexpr const char* kRelease =
    "DELETE FROM hokm_nodes WHERE node_id = $1 AND host = $2 AND segment = $3 AND pid = $4";

}  // namespace

struct NodeLease::Connection {
  pqxx::connection conn;
  explicit Connection(const std::string& conninfo) : conn(conninfo) {}
};

std::string ThisHostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "unknown-host";
  return name;
}

NodeLease::NodeLease(PgUrl url, NodeClaimant claimant)
    : url_(std::move(url)), claimant_(std::move(claimant)) {
  url_.params.try_emplace("application_name", "hokm-sidecar node claim");
}

NodeLease::~NodeLease() = default;

Status NodeLease::Run(const char* what, const std::function<Status()>& body) {
  try {
    if (!conn_ || !conn_->conn.is_open()) conn_ = std::make_unique<Connection>(url_.ConnInfo());
    return body();
  } catch (const pqxx::undefined_table&) {
    return Status::NotFound("PostgreSQL at " + url_.HostPort() +
                            " has no hokm_nodes table: apply the schema "
                            "(hokmctl migrate up) before starting hokm-sidecar");
  } catch (const pqxx::insufficient_privilege& e) {
    return Status::InvalidArgument(
        std::string("cannot ") + what + " node " + std::to_string(claimant_.node_id) +
        " in hokm_nodes: " + e.what() + " (grant it: SELECT hokm_grant_roles())");
  } catch (const std::exception& e) {
    conn_.reset();
    return Status::Unavailable(std::string("cannot ") + what + " node " +
                               std::to_string(claimant_.node_id) + " in PostgreSQL at " +
                               url_.HostPort() + ": " + e.what());
  }
}

Status NodeLease::Claim() {
  const NodeClaimant& c = claimant_;
  const auto node = static_cast<int>(c.node_id);
  const auto lease_s = static_cast<double>(c.lease.count());
  return Run("claim", [&]() -> Status {
    // A few rounds: the row may change between our statements (released,
    // taken over by another claimant).
    for (int round = 0; round < 3; ++round) {
      {
        pqxx::nontransaction tx(conn_->conn);
        if (!tx.exec_params(kClaim, node, c.host, c.segment, c.pid, lease_s).empty()) {
          claimed_ = true;
          return Status::Ok();
        }
      }
      pqxx::nontransaction tx(conn_->conn);
      const pqxx::result holder = tx.exec_params(kHolder, node);
      if (holder.empty()) continue;  // released meanwhile
      const std::string host = holder[0][0].as<std::string>();
      const std::string segment = holder[0][1].as<std::string>();
      const auto pid = holder[0][2].as<std::int64_t>();
      const std::string since = holder[0][3].as<std::string>();
      const double age = holder[0][4].as<double>();
      // A holder on this host whose process is gone left without releasing
      // (killed): its node is free now, not after the lease.
      if (host == c.host && pid != c.pid && !shm::ProcessAlive(static_cast<std::uint64_t>(pid))) {
        if (tx.exec_params(kTakeOver, node, c.host, c.segment, c.pid, host, segment, pid)
                .affected_rows() == 1) {
          claimed_ = true;
          return Status::Ok();
        }
        continue;
      }
      char text[512];
      const double wait_s = std::max(0.0, lease_s - age);
      std::snprintf(text, sizeof text,
                    "node %d is held by host %s segment %s (pid %lld) since %s, heartbeat %.0f s "
                    "ago; give this engine another --node-id, or wait %.0f s (the %lld s lease) "
                    "if that sidecar is gone",
                    node, host.c_str(), segment.c_str(), static_cast<long long>(pid), since.c_str(),
                    age, wait_s, static_cast<long long>(c.lease.count()));
      return Status::AlreadyExists(text);
    }
    return Status::Unavailable("node " + std::to_string(node) +
                               " changed hands during the claim three times: try again");
  });
}

Status NodeLease::Beat() {
  const NodeClaimant& c = claimant_;
  Status s = Run("beat", [&]() -> Status {
    pqxx::nontransaction tx(conn_->conn);
    if (tx.exec_params(kBeat, static_cast<int>(c.node_id), c.host, c.segment, c.pid)
            .affected_rows() == 1) {
      return Status::Ok();
    }
    return Status::NotFound("");
  });
  // The row is gone or names another holder: claim again, which says who
  // holds it if anyone does.
  if (s.code() == Status::Code::kNotFound) {
    claimed_ = false;
    return Claim();
  }
  return s;
}

Status NodeLease::Release() {
  if (!claimed_) return Status::Ok();
  const NodeClaimant& c = claimant_;
  Status s = Run("release", [&]() -> Status {
    pqxx::nontransaction tx(conn_->conn);
    tx.exec_params(kRelease, static_cast<int>(c.node_id), c.host, c.segment, c.pid);
    return Status::Ok();
  });
  if (s.ok()) claimed_ = false;
  return s;
}

}  // namespace hokm::sidecar
