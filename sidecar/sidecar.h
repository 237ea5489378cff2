// sidecar.h: hokm-sidecar's engine room: reads every shard's change ring
// and delivers each record to Redis and to PostgreSQL, each sink on its own
// thread, with its own breaker and spill queue (docs/DESIGN.md §5, §6).
//
//   change rings --reader--> window (records still in the rings) --> redis worker --> Redis
//                               ^                               \--> pg worker    --> PostgreSQL
//                               |  commit min(acked) per ring
//
// A record leaves the ring (its position is committed) only once both
// workers acknowledged it: the store replied / the transaction committed, or
// the record is fsync'd in that worker's spill queue. A worker whose store is
// down (breaker open) spills; while its spill queue is not empty everything
// new goes behind it, so each store sees every game's records in order.
//
// The parts: ChangeReader (reader.h), Window (window.h), Worker (worker.h,
// writing through sink_client.h), /metrics and /health (metrics.h), with
// --pg-read-url the read replica's poller (replica_monitor.h, a thread of
// its own, off the delivery path); this class wires them and runs the
// read/commit loop.
//
// Thread safety: Sidecar is driven by one thread (Run); the workers are its
// own threads; MetricsText/Health may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "service/metrics_server.h"
#include "shm/status.h"

namespace hokm::sidecar {

struct SidecarOptions {
  std::string shm_name;
  std::string redis_url;
  bool redis_cluster = false;  // --redis-cluster: redis_url names a Redis Cluster
  std::string pg_url;
  // A read replica of pg_url whose lag /metrics reports (replica_monitor.h);
  // "" for none.
  std::string pg_read_url;
  std::uint32_t batch_max_records = 4096;
  std::uint32_t batch_max_ms = 20;  // PostgreSQL batches close after this
  // Redis batches close after this (0: write whatever has arrived at once).
  // A few ms turn many small pipelines into a few large ones: the same
  // commands cost redis-server and the sidecar less CPU per record.
  std::uint32_t redis_batch_ms = 2;
  std::filesystem::path spill_dir = ".local/spill";
  std::filesystem::path schema_dir;        // schemas/postgres
  int metrics_port = 9465;                 // 0: off
  std::string metrics_bind = "127.0.0.1";  // --metrics-bind
  bool drain_and_exit = false;
  std::uint32_t drain_timeout_s = 300;
  // How long a holder of a node id (sidecar/pg/pg_node.h) that stopped
  // beating keeps it; the sidecar beats every lease / 6.
  std::uint32_t node_lease_s = 30;
};

// The exit code of a sidecar refused its segment's node id (another engine
// host's sidecar holds it in PostgreSQL), at start or when a lapsed claim
// was taken over while it ran.
inline constexpr int kExitNodeHeld = 5;

class Sidecar {
 public:
  // Attaches to the segment, parses the URLs, claims the segment's node id
  // in PostgreSQL, opens the spill queues. The stores may be down: the
  // workers connect (and retry) on their own; a node PostgreSQL could not
  // be asked about is claimed by Run's lease thread once it is back (and Run
  // returns kExitNodeHeld if it is refused then). Fails with kAlreadyExists
  // (and only then) when another holder has the node: exit with
  // kExitNodeHeld.
  static Result<std::unique_ptr<Sidecar>> Open(const SidecarOptions& options);
  ~Sidecar();

  // Runs until *stop, or with drain_and_exit until no engine is attached,
  // the rings are empty and both stores have everything (or have everything
  // before a corrupt change ring: exit code 4). Returns the exit
  // code: 0, 3 when draining timed out, kExitNodeHeld when the node was
  // taken over by another sidecar.
  int Run(const std::atomic<bool>& stop);

  std::string MetricsText() const;
  // /health and /readyz (metrics.h RenderHealth).
  service::Health Health() const;

  struct Impl;

 private:
  explicit Sidecar(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hokm::sidecar
