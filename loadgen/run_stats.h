// run_stats.h: what a loadgen run counts: per-thread counters (read live by
// the progress line), latencies, the games played, and the run's totals.
//
// Thread safety: a ThreadResult is written by its runner thread only; the
// counters and histograms are relaxed atomics that the main thread may read
// at any time (progress); everything else is read after the thread joined.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/latency_histogram.h"
#include "core/rules/game_state.h"
#include "loadgen/clock.h"
#include "loadgen/verify/sidecar_probe.h"
#include "sidecar/public_state.h"

namespace hokm::loadgen {

// One game as the engine (or the baseline) left it: what --verify expects
// the stores to hold.
struct GameRecord {
  std::uint64_t game_id = 0;
  std::uint32_t last_seq = 0;  // game_seq of its last record
  core::Phase phase = core::Phase::kEmpty;
  std::uint8_t points[2] = {0, 0};
  // The game's whole public state at its end, as the engine's rules left it
  // (loadgen mirrors each game); none for games read back by --verify-only.
  std::optional<sidecar::PublicState> final_state;
};

// A counter with one writer: a relaxed load and store, no locked add.
class Counter {
 public:
  void Add(std::uint64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

struct alignas(128) ThreadResult {
  Counter card_plays;                 // accepted PlayCard commands
  Counter commands;                   // every accepted command
  Counter records;                    // change records those commands produced
  Counter games_completed;            // games played to GameFinished
  Counter busy;                       // Busy answers (each retried)
  Counter errors;                     // any other rejection, failed replay or store error
  Counter reconnects;                 // --disconnect-rate: players dropped and reconnected
  Counter reconnect_mismatches;       // ... whose view was not exactly what it should be
  core::LatencyHistogram latency_ns;  // per accepted command, from its intended send time
  core::LatencyHistogram pg_lag_us;   // seed baseline: record made -> its INSERT committed

  std::vector<GameRecord> games;  // every game created, as it ended (or was left)
  std::uint64_t play_end_ns = 0;  // when this thread stopped playing (before abandoning)
  std::string fatal;              // set when the thread had to give up; ends the run
};

// A run's totals (RunSummary in report.h adds verification and sync lag).
struct RunTotals {
  std::uint64_t card_plays = 0;
  std::uint64_t commands = 0;
  std::uint64_t records = 0;
  std::uint64_t games_completed = 0;
  std::uint64_t games_started = 0;
  std::uint64_t busy = 0;
  std::uint64_t errors = 0;
  bool reconnecting = false;  // --disconnect-rate given: the report has the two counts below
  std::uint64_t reconnects = 0;
  std::uint64_t reconnect_mismatches = 0;
  double wall_s = 0;  // from the start until the last thread stopped playing
  core::LatencyHistogram latency_ns;
  core::LatencyHistogram pg_lag_us;
  std::vector<GameRecord> games;

  // --drain
  bool drained = false;
  std::uint64_t drained_records = 0;
  std::uint64_t drained_malformed = 0;
  double drain_s = 0;  // the drainer's running time
  std::uint64_t max_ring_lag_bytes = 0;
  std::uint64_t max_ring_lag_records = 0;
  std::uint64_t ring_lag_bytes_at_end = 0;  // when the runner threads had finished

  // --dump
  double dump_s = 0;

  // The sidecar's sync lag of the records it delivered between the end of
  // the ramp (--ramp-s; the start without one) and the end of play
  // (--duration), i.e. without the games' set-up burst and the abandonment
  // at the end. Unset without a sidecar or when a scrape failed.
  std::optional<SyncLag> steady_lag;
  double steady_from_s = 0;  // the window, from the start of the run
  double steady_to_s = 0;
};

}  // namespace hokm::loadgen
