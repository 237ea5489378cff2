// engine_main.cc: hokm-engine, the process that owns the shared-memory
// segment and serves commands from other processes, one thread per shard.
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "engine/engine_metrics.h"
#include "service/cli.h"
#include "service/log.h"
#include "service/metrics_server.h"
#include "service/stop_signal.h"
#include "shm/wait_strategy.h"
#if HOKM_ENGINE_RESTORE
#include "sidecar/engine_restore.h"
#include "sidecar/url.h"
#endif

namespace {

// Polls a shard's command ring until stopped; when it is empty, waits as
// --wait says (shm/wait_strategy.h): parked on the ring's futex until a
// client sends or the next turn deadline, spinning, or napping
// --idle-nap-us at a time. ServeOnce plays the moves whose deadline passed.
// `running` counts the shard threads in their loop, for /health.
void ServeShard(hokm::Engine& engine, std::uint32_t shard, hokm::shm::WaitOptions wait,
                std::atomic<std::uint32_t>& running) {
  const hokm::shm::CommandPort& port = engine.port(shard);
  running.fetch_add(1, std::memory_order_relaxed);
  hokm::shm::RingWaiter waiter(port.ring(), wait);
  while (!hokm::service::StopRequested()) {
    if (engine.ServeOnce(shard) != 0) {
      waiter.Reset();
    } else {
      // A parked shard wakes for its next turn deadline too.
      waiter.Wait(port.reader(), engine.NextDeadlineNs(shard));
    }
  }
  running.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "hokm-engine: keeps every active Hokm game in a shared-memory segment and applies\n"
      "commands that other processes send through it; each accepted change is published\n"
      "on the segment's change ring for hokm-sidecar."};
  hokm::EngineOptions options;
  std::string shm_name;
  std::uint64_t ring_mb = 64;
  int metrics_port = 9464;
  std::string metrics_bind = "127.0.0.1";
  hokm::shm::WaitOptions wait;
  std::string wait_name = "park";
  std::uint32_t spin_us = wait.spin_ns / 1000;
  std::uint32_t park_timeout_ms = wait.park_timeout_us / 1000;
  bool fresh = false;
  bool restore = false;
#if HOKM_ENGINE_RESTORE
  std::string pg_url = hokm::sidecar::PgUrlFromEnv();
  std::string redis_url = hokm::sidecar::RedisUrlFromEnv();
#else
  std::string pg_url;  // --restore-from-pg needs the sidecar's code
  std::string redis_url;
#endif
  std::uint32_t restore_batch = 500;
  std::uint64_t restore_min_game_id = 0;
  app.add_option("--shm-name", shm_name, "segment name (default: $HOKM_SHM_NAME, else hokm)");
  app.add_option("--capacity", options.capacity, "game slots in the table")
      ->default_val(options.capacity)
      ->check(CLI::Range(1u, hokm::shm::kMaxTableCapacity));
  app.add_option("--ring-mb", ring_mb, "change ring size per shard in MiB (power of two)")
      ->default_val(ring_mb)
      ->check(CLI::Range(1, 1024));
  app.add_option("--node-id", options.node_id,
                 "this engine host's node id, in every game id it issues: give each engine\n"
                 "that shares Redis and PostgreSQL with others its own (the sidecar refuses a\n"
                 "node id another live sidecar holds); fixed when the segment is created")
      ->default_val(options.node_id)
      ->check(CLI::Range(0u, hokm::shm::kMaxNodeId));
  app.add_option("--shards", options.shards, "shards: one engine thread and one ring each")
      ->default_val(options.shards)
      ->check(CLI::Range(1, 64));
  app.add_option("--metrics-port", metrics_port,
                 "port of /metrics, /health, /readyz and /livez (0: off)")
      ->default_val(metrics_port)
      ->check(CLI::Range(0, 65535));
  app.add_option("--metrics-bind", metrics_bind,
                 "address the metrics port listens on (0.0.0.0: every interface, e.g. in a "
                 "container)")
      ->default_val(metrics_bind)
      ->check(CLI::Validator(hokm::service::CheckBindAddress, "ADDR", "bind address"));
  app.add_option("--wait", wait_name,
                 "how a shard with no commands waiting waits: park (spin --wait-spin-us, then\n"
                 "sleep until a client sends), spin (poll without pause: a core per shard),\n"
                 "nap (sleep --idle-nap-us at a time)")
      ->default_val(wait_name)
      ->check(CLI::IsMember({"park", "spin", "nap"}));
  app.add_option("--wait-spin-us", spin_us,
                 "park: how long a shard polls an empty command ring before it sleeps")
      ->default_val(spin_us)
      ->check(CLI::Range(0, 100000));
  app.add_option("--wait-timeout-ms", park_timeout_ms,
                 "park: the longest one sleep lasts before the shard looks again anyway (a\n"
                 "client's claim that its process died in is found after at most this)")
      ->default_val(park_timeout_ms)
      ->check(CLI::Range(1, 3600000));
  app.add_option("--idle-nap-us", wait.nap_us,
                 "nap: how long a shard with no commands waiting naps before it looks again:\n"
                 "longer leaves more CPU to the stores, shorter answers a lone command sooner")
      ->default_val(wait.nap_us)
      ->check(CLI::Range(1, 100000));
  app.add_option("--turn-timeout-ms", options.default_turn_timeout_ms,
                 "turn deadline of games whose create command gives none: when a seat takes\n"
                 "longer to act, the engine plays for it (its lowest legal card, or the hakem's\n"
                 "strongest suit) and flags the move on_timeout (0: no deadline)")
      ->default_val(options.default_turn_timeout_ms)
      ->check(CLI::Range(std::uint32_t{0}, hokm::core::kMaxTurnTimeoutMs));
  app.add_flag("--fresh", fresh, "remove an existing segment of that name first (drops its games)");
#if HOKM_ENGINE_RESTORE
  app.add_flag("--restore-from-pg", restore,
               "restore after a lost machine: before serving, bring back into the (new or\n"
               "empty) segment every game PostgreSQL shows live, each replayed through the\n"
               "rules and checked against its stored records, then continue them");
  app.add_option("--pg-url", pg_url,
                 "--restore-from-pg: postgresql://user[:password]@host:port/db or a libpq "
                 "key=value string (default: $HOKM_PG_URL, else $DATABASE_URL)");
  app.add_option("--redis-url", redis_url,
                 "--restore-from-pg: redis://[:password@]host:port[/db] whose streams of the\n"
                 "restored games are brought in line (default: $HOKM_REDIS_URL, else $REDIS_URL; "
                 "empty: left alone)");
  app.add_option("--restore-batch", restore_batch,
                 "--restore-from-pg: games read from PostgreSQL per query")
      ->default_val(restore_batch)
      ->check(CLI::Range(1, 100000));
  app.add_option("--restore-min-game-id", restore_min_game_id,
                 "--restore-from-pg: only the live games with an id at or above this one\n"
                 "(0: every live game PostgreSQL holds)")
      ->default_val(restore_min_game_id);
#endif
  hokm::service::CommonFlags common;
  hokm::service::AddCommonFlags(app, "hokm-engine", &common);
  if (auto exit_code = hokm::service::ParseCommandLine(app, argc, argv, common)) return *exit_code;

  options.shm_name = hokm::shm::SegmentNameFrom(shm_name);
  (void)hokm::shm::ParseWaitStrategy(wait_name, wait.strategy);  // checked by CLI11
  wait.spin_ns = spin_us * 1000;
  wait.park_timeout_us = park_timeout_ms * 1000;
  options.ring_bytes = ring_mb << 20;
  if ((options.ring_bytes & (options.ring_bytes - 1)) != 0) {
    std::fprintf(stderr, "hokm-engine: --ring-mb must be a power of two, not %llu\n",
                 static_cast<unsigned long long>(ring_mb));
    return hokm::service::kExitUsage;
  }
  if (fresh) (void)hokm::shm::Segment::Remove(options.shm_name);

  auto engine = hokm::Engine::Open(options);
  if (!engine.ok()) {
    hokm::service::LogError(engine.status().message());
    return 1;
  }
  hokm::Engine& e = **engine;
#if HOKM_ENGINE_RESTORE
  if (restore) {
    if (pg_url.empty()) {
      std::fprintf(
          stderr,
          "hokm-engine: --restore-from-pg needs --pg-url (or HOKM_PG_URL / DATABASE_URL)\n");
      return hokm::service::kExitUsage;
    }
    hokm::sidecar::RestoreOptions ro;
    ro.pg_url = pg_url;
    ro.redis_url = redis_url;
    ro.batch_games = restore_batch;
    ro.min_game_id = restore_min_game_id;
    const auto summary = hokm::sidecar::RestoreFromPg(e, ro);
    if (!summary.ok()) {
      // Games placed before a failure midway stay in the segment: a new
      // attempt starts over with --fresh.
      const bool midway = summary.status().code() != hokm::Status::Code::kAlreadyExists &&
                          e.segment().table().Live() != 0;
      hokm::service::LogError(hokm::service::Printf(
          "restore failed: %s%s", summary.status().message().c_str(),
          midway ? " (the segment holds the games restored before the failure: run "
                   "the restore again with --fresh)"
                 : ""));
      return 1;
    }
    hokm::service::LogInfo(summary->Text());
  }
#else
  (void)restore;
  (void)restore_batch;
  (void)restore_min_game_id;
#endif
  const auto& header = e.segment().header();
  hokm::service::LogInfo(hokm::service::Printf(
      "segment /dev/shm/%s, %.1f MiB: %u game slots, %u shard(s), node %u, "
      "change ring %llu MiB per shard; %llu game(s) already live",
      options.shm_name.c_str(), static_cast<double>(header.total_bytes) / (1 << 20),
      header.table_capacity, header.shard_count, header.node_id,
      static_cast<unsigned long long>(header.change_ring_bytes >> 20),
      static_cast<unsigned long long>(e.segment().table().Live())));

  // Every other thread (metrics, shards) blocks SIGTERM and SIGINT, so the
  // signal interrupts the main thread's heartbeat nap and it wakes the shards.
  sigset_t stop_signals, previous;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
  std::unique_ptr<hokm::service::MetricsServer> metrics;
  std::atomic<std::uint32_t> shards_running{0};
  if (metrics_port != 0) {
    std::string error;
    metrics = hokm::service::MetricsServer::Start(
        metrics_bind, static_cast<std::uint16_t>(metrics_port),
        [&e] { return hokm::EngineMetricsText(e); },
        [&e, &shards_running] {
          return hokm::EngineHealth(e, shards_running.load(std::memory_order_relaxed));
        },
        &error);
    if (!metrics) {
      hokm::service::LogError(error);
      return 1;
    }
    hokm::service::LogInfo(hokm::service::Printf("metrics on http://%s:%u/metrics (and /health)",
                                                 metrics_bind.c_str(), metrics->port()));
  }

  hokm::service::StopOnSignals();

  // With --wait nap, idle shards nap for --idle-nap-us; the default 50 us
  // timer slack would stretch short naps.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  std::vector<std::thread> threads;
  for (std::uint32_t shard = 0; shard < e.shards(); ++shard) {
    threads.emplace_back(
        [&e, shard, wait, &shards_running] { ServeShard(e, shard, wait, shards_running); });
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  hokm::service::LogInfo(hokm::service::Printf("serving (pid %d, --wait %s); SIGTERM stops",
                                               static_cast<int>(getpid()),
                                               hokm::shm::WaitStrategyName(wait.strategy)));
  while (!hokm::service::StopRequested()) {
    e.segment().Heartbeat();
    timespec ts{0, 100'000'000};
    nanosleep(&ts, nullptr);
  }
  // Each shard finishes the command it is applying: the segment stays
  // consistent and the games stay for the next engine. A parked shard is
  // woken to see the stop flag.
  for (std::uint32_t shard = 0; shard < e.shards(); ++shard) {
    hokm::shm::WakeConsumerNow(e.port(shard).ring());
  }
  for (auto& t : threads) t.join();
  std::uint64_t accepted = 0, busy = 0;
  for (std::uint32_t shard = 0; shard < e.shards(); ++shard) {
    accepted += e.counters(shard).Get(hokm::EngineCounter::kAccepted);
    busy += e.counters(shard).Get(hokm::EngineCounter::kBusy);
  }
  hokm::service::LogInfo(hokm::service::Printf(
      "stopped; %llu commands accepted, %llu answered busy (since the segment "
      "was created), %llu games live",
      static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(busy),
      static_cast<unsigned long long>(e.segment().table().Live())));
  return 0;
}
