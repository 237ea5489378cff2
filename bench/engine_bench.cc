// engine_bench.cc: hokm::Engine::Apply end to end in one thread: the rules,
// the FlatBuffers encoding of the command's records, the publish on the
// change ring and the seqlock write of the slot. A consumer thread drains
// the ring meanwhile, as the sidecar does. Latency of each Apply is sampled
// into a histogram and reported as counters (ns).
#include <benchmark/benchmark.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_engine.h"
#include "core/engine.h"
#include "core/latency_histogram.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"

namespace hokm {
namespace {

std::uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

void BM_EngineApply(benchmark::State& state) {
  bench::BenchEngine bench_engine(state, "engine", 64 << 20, 1);
  if (!bench_engine.ok()) return;
  Engine& engine = *bench_engine;

  std::atomic<bool> stop{false};
  std::thread consumer([&] {
    shm::RingReader reader(engine.segment().change_ring(0));
    while (!stop.load(std::memory_order_relaxed)) {
      if (reader.Peek([](const shm::RingRecord&) {}, 4096) != 0) {
        reader.Commit();
      } else {
        // Nap like the sidecar's reader: a consumer that spins or yields on
        // a 2-vCPU machine steals the core the applying thread runs on.
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  });

  // Games of the greedy bot, one after another: every kind of command.
  core::GreedyBot bot;
  std::uint64_t seed = 1;
  std::uint64_t game = 0;
  core::GameState s{};
  auto new_game = [&] {
    core::Command c{};
    c.type = core::CommandType::kCreateGame;
    c.seed = seed++;
    game = engine.Apply(0, c).game_id;
    for (int seat = 0; seat < 4; ++seat) {
      core::Command j{};
      j.type = core::CommandType::kJoin;
      j.game_id = game;
      j.seat = static_cast<std::uint8_t>(seat);
      j.player_id = 1 + static_cast<std::uint64_t>(seat);
      (void)engine.Apply(0, j);
    }
  };
  new_game();
  core::LatencyHistogram latency;
  std::uint64_t busy = 0, records = 0;
  for (auto _ : state) {
    if (!engine.Snapshot(game, s)) {
      new_game();
      engine.Snapshot(game, s);
    }
    const core::Command cmd = bot.NextCommand(s);
    const std::uint64_t t0 = NowNs();
    const ApplyOutcome out = engine.Apply(0, cmd);
    const std::uint64_t t1 = NowNs();
    latency.Record(t1 - t0);
    busy += out.result == core::CommandResult::kBusy;
    records += out.records;
    benchmark::DoNotOptimize(out);
  }
  stop = true;
  consumer.join();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["p50_ns"] = static_cast<double>(latency.Quantile(0.50));
  state.counters["p99_ns"] = static_cast<double>(latency.Quantile(0.99));
  state.counters["p999_ns"] = static_cast<double>(latency.Quantile(0.999));
  state.counters["records_per_cmd"] =
      static_cast<double>(records) /
      static_cast<double>(std::max<std::int64_t>(1, state.iterations()));
  state.counters["busy"] = static_cast<double>(busy);
}
BENCHMARK(BM_EngineApply)->MinTime(1.0);

}  // namespace
}  // namespace hokm
