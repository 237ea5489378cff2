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
// writing through sink_client.h), /metrics and /health (metrics.h); this
// class wires them and runs the read/commit loop.
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
};

class Sidecar {
 public:
  // Attaches to the segment, parses the URLs, opens the spill queues. The
  // stores may be down: the workers connect (and retry) on their own.
  static Result<std::unique_ptr<Sidecar>> Open(const SidecarOptions& options);
  ~Sidecar();

  // Runs until *stop, or with drain_and_exit until no engine is attached,
  // the rings are empty and both stores have everything (or have everything
  // before a corrupt change ring: exit code 4). Returns the exit
  // code: 0, or 3 when draining timed out.
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
