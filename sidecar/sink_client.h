// sink_client.h: a store as a Worker sees it: connects on first use (and
// again after the store went away), writes one batch, and renders the sink's
// own counters for /metrics.
//
// Thread safety: each client is used by its worker's thread only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "shm/status.h"
#include "sidecar/pg/pg_sink.h"
#include "sidecar/rebuild_source.h"
#include "sidecar/record_batch.h"
#include "sidecar/redis/redis_sink.h"
#include "sidecar/url.h"
#include "sidecar/window.h"

namespace hokm::sidecar {

class SinkClient {
 public:
  virtual ~SinkClient() = default;
  // Ok once the store has every record (idempotently); otherwise the error.
  // `last` is the batch's last entry (its shard and position).
  virtual Status Write(std::span<const RecordRef> records, const WindowEntry& last) = 0;
  // What the worker calls about every second while it has nothing to
  // write: Redis checks that it still holds what was written (redis_sink.h).
  virtual Status Idle() { return Status::Ok(); }
  // The sink's counters as Prometheus text, cumulative over reconnects
  // (zeros before the first connect).
  virtual std::string StatsText() const = 0;
};

// Redis: logs each rebuild the sink made after Redis lost its data.
class RedisSinkClient final : public SinkClient {
 public:
  RedisSinkClient(RedisUrl url, RedisSinkOptions options,
                  std::shared_ptr<const StoreRebuildSource> source);
  Status Write(std::span<const RecordRef> records, const WindowEntry&) override {
    return Apply(records);
  }
  Status Idle() override { return Apply({}); }
  std::string StatsText() const override;

 private:
  Status Apply(std::span<const RecordRef> records);

  RedisUrl url_;
  RedisSinkOptions options_;
  std::shared_ptr<const StoreRebuildSource> source_;
  std::unique_ptr<RedisSink> sink_;
  std::uint64_t rebuilds_seen_ = 0, rebuilt_seen_ = 0;
};

// PostgreSQL: applies the schema on each connect; checkpoints each batch as
// `<checkpoint_prefix><shard>`.
class PgSinkClient final : public SinkClient {
 public:
  PgSinkClient(PgUrl url, std::filesystem::path schema_dir, std::string checkpoint_prefix);
  Status Write(std::span<const RecordRef> records, const WindowEntry& last) override;
  std::string StatsText() const override;

 private:
  PgUrl url_;
  std::filesystem::path schema_dir_;
  std::string prefix_;
  std::unique_ptr<PgSink> sink_;
  PgSinkStats earlier_;  // the rendered counters of the sinks dropped before sink_
};

}  // namespace hokm::sidecar
