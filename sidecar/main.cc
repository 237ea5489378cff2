// main.cc: hokm-sidecar, which turns the engine's change rings into hot
// state in Redis and durable history in PostgreSQL.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "service/cli.h"
#include "service/log.h"
#include "service/metrics_server.h"
#include "service/stop_signal.h"
#include "sidecar/pg/pg_schema.h"
#include "sidecar/sidecar.h"
#include "sidecar/url.h"

int main(int argc, char** argv) {
  CLI::App app{
      "hokm-sidecar: reads the change rings of a hokm-engine segment and writes every record\n"
      "through to Redis (hot state) and in batches into PostgreSQL (history), losing nothing\n"
      "through store outages or its own crashes."};
  hokm::sidecar::SidecarOptions o;
  o.redis_url = hokm::sidecar::RedisUrlFromEnv();
  o.pg_url = hokm::sidecar::PgUrlFromEnv();
  o.schema_dir = hokm::sidecar::DefaultSchemaDir();
  std::string spill_dir = o.spill_dir.string();
  std::string schema_dir = o.schema_dir.string();
  app.add_option("--shm-name", o.shm_name, "segment name (default: $HOKM_SHM_NAME, else hokm)");
  app.add_option("--redis-url", o.redis_url,
                 "redis://[:password@]host:port[/db], or a Redis Cluster's seeds "
                 "redis://[:password@]h1:p1,h2:p2 (default: $HOKM_REDIS_URL, else $REDIS_URL)");
  app.add_flag("--redis-cluster", o.redis_cluster,
               "--redis-url names a Redis Cluster, even with one seed; refuse a single server "
               "(a seed list already means a cluster)")
      ->envname("HOKM_REDIS_CLUSTER");
  app.add_option("--pg-url", o.pg_url,
                 "libpq URL or key=value string, postgresql://user[:password]@host:port/db "
                 "(default: $HOKM_PG_URL, else $DATABASE_URL)");
  if (const char* read_url = std::getenv("HOKM_PG_READ_URL")) o.pg_read_url = read_url;
  app.add_option("--pg-read-url", o.pg_read_url,
                 "a read replica of --pg-url: its replication lag is polled every 2 s on a "
                 "thread of its own and shown on /metrics (hokm_pg_replica_up, "
                 "hokm_pg_replica_lag_seconds, hokm_pg_replica_lag_bytes); nothing is written "
                 "or delivered to it (default: $HOKM_PG_READ_URL)");
  app.add_option("--batch-max-records", o.batch_max_records, "records per batch at most")
      ->default_val(o.batch_max_records)
      ->check(CLI::Range(1u, 1'000'000u));
  app.add_option("--batch-max-ms", o.batch_max_ms, "a PostgreSQL batch closes after this many ms")
      ->default_val(o.batch_max_ms)
      ->check(CLI::Range(0u, 60'000u));
  app.add_option("--redis-batch-ms", o.redis_batch_ms,
                 "a Redis batch closes after this many ms (0: write at once)")
      ->default_val(o.redis_batch_ms)
      ->check(CLI::Range(0u, 1'000u));
  app.add_option("--spill-dir", spill_dir, "where backlogs of a store that is down are kept")
      ->default_val(spill_dir);
  auto* schema_dir_option =
      app.add_option("--schema-dir", schema_dir,
                     "PostgreSQL schema files applied at start-up (default: ../share/hokm/postgres "
                     "from this binary's directory)")
          ->default_val(schema_dir);
  app.add_option("--metrics-port", o.metrics_port,
                 "port of /metrics, /health, /readyz and /livez (0: off)")
      ->default_val(o.metrics_port)
      ->check(CLI::Range(0, 65535));
  app.add_option("--metrics-bind", o.metrics_bind,
                 "address the metrics port listens on (0.0.0.0: every interface, e.g. in a "
                 "container)")
      ->default_val(o.metrics_bind)
      ->check(CLI::Validator(hokm::service::CheckBindAddress, "ADDR", "bind address"));
  app.add_option("--node-lease-s", o.node_lease_s,
                 "the segment's node id is claimed in PostgreSQL (hokm_nodes) while this sidecar\n"
                 "runs; a holder silent for this long loses it (exit 5 when refused)")
      ->default_val(o.node_lease_s)
      ->check(CLI::Range(2u, 3600u));
  app.add_flag("--drain-and-exit", o.drain_and_exit,
               "consume until the rings are empty and no engine is attached, flush, exit 0");
  app.add_option("--drain-timeout-s", o.drain_timeout_s,
                 "give up draining after this long (exit 3; 4: stopped at a corrupt change ring)")
      ->default_val(o.drain_timeout_s);
  hokm::service::CommonFlags common;
  hokm::service::AddCommonFlags(app, "hokm-sidecar", &common);
  if (auto exit_code = hokm::service::ParseCommandLine(app, argc, argv, common)) return *exit_code;
  o.spill_dir = spill_dir;
  o.schema_dir = schema_dir;
  if (o.redis_url.empty() || o.pg_url.empty()) {
    std::fprintf(stderr,
                 "hokm-sidecar: give --redis-url and --pg-url (or HOKM_REDIS_URL / REDIS_URL and "
                 "HOKM_PG_URL / DATABASE_URL); "
                 "`make services` starts local servers and prints both\n");
    return hokm::service::kExitUsage;
  }
  if (schema_dir_option->count() == 0 && !std::filesystem::is_directory(o.schema_dir)) {
    std::fprintf(
        stderr,
        "hokm-sidecar: no PostgreSQL schema directory: tried %s (%s from the directory "
        "of /proc/self/exe); give --schema-dir <hokm source>/schemas/postgres\n",
        o.schema_dir.empty() ? "nothing (/proc/self/exe unreadable)" : o.schema_dir.c_str(),
        hokm::sidecar::SchemaDirFromBin());
    return hokm::service::kExitUsage;
  }

  auto sidecar = hokm::sidecar::Sidecar::Open(o);
  if (!sidecar.ok()) {
    hokm::service::LogError(sidecar.status().message());
    // Another engine host's sidecar holds the segment's node id.
    return sidecar.status().code() == hokm::Status::Code::kAlreadyExists
               ? hokm::sidecar::kExitNodeHeld
               : 1;
  }
  hokm::service::StopOnSignals();
  return (*sidecar)->Run(hokm::service::StopFlag());
}
