// engine_main.cc: hokm-engine, the process that owns the shared-memory
// segment and serves commands from other processes, one thread per shard.
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "core/engine.h"
#include "core/metrics_server.h"
#include "shm/idle_backoff.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true, std::memory_order_relaxed); }

// Polls a shard's command ring until stopped; when it is empty, spins a
// little, then naps idle_nap_us at a time (shm/idle_backoff.h says why).
void ServeShard(hokm::Engine& engine, std::uint32_t shard, std::uint32_t idle_nap_us) {
  hokm::shm::IdleBackoff idle(idle_nap_us);
  while (!g_stop.load(std::memory_order_relaxed)) {
    if (engine.ServeOnce(shard) != 0) {
      idle.Reset();
    } else {
      idle.Wait();
    }
  }
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
  std::uint32_t idle_nap_us = 200;
  bool fresh = false;
  app.add_option("--shm-name", shm_name, "segment name (default: $HOKM_SHM_NAME, else hokm)");
  app.add_option("--capacity", options.capacity, "game slots in the table")
      ->default_val(options.capacity)->check(CLI::Range(1u, hokm::shm::kMaxTableCapacity));
  app.add_option("--ring-mb", ring_mb, "change ring size per shard in MiB (power of two)")
      ->default_val(ring_mb)->check(CLI::Range(1, 1024));
  app.add_option("--shards", options.shards, "shards: one engine thread and one ring each")
      ->default_val(options.shards)->check(CLI::Range(1, 64));
  app.add_option("--metrics-port", metrics_port, "port of /metrics and /health on 127.0.0.1 (0: off)")
      ->default_val(metrics_port)->check(CLI::Range(0, 65535));
  app.add_option("--idle-nap-us", idle_nap_us,
                 "how long a shard with no commands waiting naps before it looks again: longer\n"
                 "leaves more CPU to the stores, shorter answers a lone command sooner")
      ->default_val(idle_nap_us)->check(CLI::Range(1, 100000));
  app.add_flag("--fresh", fresh, "remove an existing segment of that name first (drops its games)");
  CLI11_PARSE(app, argc, argv);

  options.shm_name = hokm::shm::SegmentNameFrom(shm_name);
  options.ring_bytes = ring_mb << 20;
  if ((options.ring_bytes & (options.ring_bytes - 1)) != 0) {
    std::fprintf(stderr, "hokm-engine: --ring-mb must be a power of two, not %llu\n",
                 static_cast<unsigned long long>(ring_mb));
    return 2;
  }
  if (fresh) (void)hokm::shm::Segment::Remove(options.shm_name);

  auto engine = hokm::Engine::Open(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "hokm-engine: %s\n", engine.status().message().c_str());
    return 1;
  }
  hokm::Engine& e = **engine;
  const auto& header = e.segment().header();
  std::fprintf(stderr,
               "hokm-engine: segment /dev/shm/%s, %.1f MiB: %u game slots, %u shard(s), "
               "change ring %llu MiB per shard; %llu game(s) already live\n",
               options.shm_name.c_str(), static_cast<double>(header.total_bytes) / (1 << 20),
               header.table_capacity, header.shard_count,
               static_cast<unsigned long long>(header.change_ring_bytes >> 20),
               static_cast<unsigned long long>(e.segment().table().Live()));

  std::unique_ptr<hokm::core::MetricsServer> metrics;
  if (metrics_port != 0) {
    std::string error;
    metrics = hokm::core::MetricsServer::Start(
        static_cast<std::uint16_t>(metrics_port), [&e] { return e.MetricsText(); },
        [&e] { return e.HealthJson(); }, &error);
    if (!metrics) {
      std::fprintf(stderr, "hokm-engine: %s\n", error.c_str());
      return 1;
    }
    std::fprintf(stderr, "hokm-engine: metrics on http://127.0.0.1:%u/metrics\n", metrics->port());
  }

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  // Idle shards nap for --idle-nap-us; the default 50 us timer slack would
  // stretch short naps.
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  std::vector<std::thread> threads;
  for (std::uint32_t shard = 0; shard < e.shards(); ++shard) {
    threads.emplace_back([&e, shard, idle_nap_us] { ServeShard(e, shard, idle_nap_us); });
  }
  std::fprintf(stderr, "hokm-engine: serving (pid %d); SIGTERM stops\n", static_cast<int>(getpid()));
  while (!g_stop.load(std::memory_order_relaxed)) {
    e.segment().Heartbeat();
    timespec ts{0, 100'000'000};
    nanosleep(&ts, nullptr);
  }
  // Each shard finishes the command it is applying: the segment stays
  // consistent and the games stay for the next engine.
  for (auto& t : threads) t.join();
  std::uint64_t accepted = 0, busy = 0;
  for (std::uint32_t shard = 0; shard < e.shards(); ++shard) {
    accepted += e.counters(shard).accepted.load();
    busy += e.counters(shard).busy.load();
  }
  std::fprintf(stderr, "hokm-engine: stopped; %llu commands accepted, %llu answered busy, %llu games live\n",
               static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(busy),
               static_cast<unsigned long long>(e.segment().table().Live()));
  return 0;
}
