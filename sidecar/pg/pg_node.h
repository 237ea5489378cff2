// pg_node.h: the claim of a node id in PostgreSQL (hokm_nodes,
// schemas/postgres/007_nodes.sql). Every game id carries its engine's node
// (shm/game_id.h); two engines sharing the stores with one node id would
// issue the same ids, so each hokm-sidecar holds its segment's node while it
// runs: claimed at start, beaten every few seconds, released on a clean stop.
//
// Every call is one statement in its own transaction (no session state, no
// advisory lock): it works through pgBouncer in transaction mode. Times are
// the server's now(), so hosts' clocks never matter.
//
// Thread safety: a NodeLease is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "shm/status.h"
#include "sidecar/url.h"

namespace hokm::sidecar {

// Who claims, and for how long a silent holder keeps its claim.
struct NodeClaimant {
  std::uint32_t node_id = 0;
  std::string host;     // this host's name (gethostname)
  std::string segment;  // "/dev/shm/<name>" or any name unique on the host
  std::int64_t pid = 0;
  std::chrono::seconds lease{30};
};

// This host's name, for NodeClaimant::host.
std::string ThisHostName();

class NodeLease {
 public:
  NodeLease(PgUrl url, NodeClaimant claimant);
  ~NodeLease();
  NodeLease(const NodeLease&) = delete;
  NodeLease& operator=(const NodeLease&) = delete;

  // Claims the node. Succeeds when no one holds it, when the holder is this
  // host and segment (a restarted sidecar), when the holder's heartbeat is
  // older than the lease, or when the holder is on this host and its pid is
  // dead. kAlreadyExists: another holder has it; the message names it
  // ("node 3 is held by host X segment /dev/shm/hokm-b (pid 12) since ...,
  // heartbeat 2 s ago; ..."). kUnavailable: PostgreSQL cannot be reached
  // (retry later); kNotFound: no hokm_nodes table (apply the schema);
  // kInvalidArgument: the login may not write hokm_nodes.
  Status Claim();
  // Refreshes the heartbeat. kAlreadyExists: the node was taken over (this
  // claim lapsed and another holder took it); kUnavailable as above.
  Status Beat();
  // Deletes the claim if this claimant still holds it. Best effort.
  Status Release();

  bool claimed() const { return claimed_; }
  const NodeClaimant& claimant() const { return claimant_; }

 private:
  struct Connection;
  Status Run(const char* what, const std::function<Status()>& body);

  PgUrl url_;
  NodeClaimant claimant_;
  std::unique_ptr<Connection> conn_;
  bool claimed_ = false;
};

}  // namespace hokm::sidecar
