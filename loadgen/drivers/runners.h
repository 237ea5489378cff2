// runners.h: the per-thread bodies of each mode. A runner thread plays
// `lanes` games at once until the RunControl says stop, then abandons the
// games still running and returns; everything it did is in its ThreadResult.
#pragma once

#include <cstdint>
#include <string>

#include "loadgen/clock.h"
#include "loadgen/drivers/dump_writer.h"
#include "loadgen/drivers/game_flow.h"
#include "loadgen/options.h"
#include "loadgen/run_stats.h"

namespace hokm {
class Engine;
namespace shm {
class Segment;
}  // namespace shm
}  // namespace hokm

namespace hokm::loadgen {

struct ThreadContext {
  const LoadgenOptions& options;
  RunControl& control;
  ThreadResult& result;
  DumpWriter::Part* dump;  // null without --dump
  std::uint64_t lanes;     // games this thread plays at once
  double rate;             // this thread's card plays per second (0: closed loop)
  int index;               // thread number
};

// --mode embedded: applies commands to `shard` of the in-process engine
// (the calling thread becomes its writer) and reads each game back with
// Engine::Snapshot.
void RunEmbeddedThread(Engine& engine, std::uint32_t shard, ThreadContext& ctx);

// --mode rules: the pure rules on this thread's own game states.
void RunRulesThread(ThreadContext& ctx);

// --mode shm: one CommandClient, up to --pipeline commands in flight; each
// game read back from the segment's table after every answer.
void RunShmThread(const shm::Segment& segment, ThreadContext& ctx);

// Longest a thread keeps retrying Busy answers with nothing accepted before
// it gives up (nothing is consuming the change ring).
inline constexpr std::uint64_t kBusyGiveUpNs = 15'000'000'000ull;
// Longest the end of a run waits to abandon the games still running.
inline constexpr std::uint64_t kAbandonBudgetNs = 30'000'000'000ull;

// --ramp-s: a thread's lanes start one by one, lane i at
// start + i * ramp / lanes (all at once without a ramp).
class Ramp {
 public:
  Ramp(std::uint64_t start_ns, double ramp_s, std::uint64_t lanes)
      : start_ns_(start_ns), ramp_ns_(static_cast<std::uint64_t>(ramp_s * 1e9)), lanes_(lanes) {}

  // Calls start(i) for each lane whose time has come and has not started.
  template <typename StartFn>
  void StartDue(std::uint64_t now, StartFn&& start) {
    while (started_ < lanes_ && now >= At(started_)) start(static_cast<std::uint32_t>(started_++));
  }
  bool done() const { return started_ == lanes_; }

  // The top of a queue-driven runner's loop (shm, seed): starts the lanes
  // that are due, then, when idle() (nothing in flight or ready), waits for
  // the next lane's start (kWaited) or, every lane started, says the run is
  // over (kFinished).
  enum class Step { kRun, kWaited, kFinished };
  template <typename StartFn, typename IdleFn>
  Step Next(std::uint64_t now, StartFn&& start, IdleFn&& idle) {
    StartDue(now, start);
    if (!idle()) return Step::kRun;
    if (done()) return Step::kFinished;
    WaitUntilNs(next_ns());
    return Step::kWaited;
  }
  // When the next lane starts. REQUIRES: !done().
  std::uint64_t next_ns() const { return At(started_); }

 private:
  std::uint64_t At(std::uint64_t i) const {
    return start_ns_ +
           static_cast<std::uint64_t>(static_cast<double>(ramp_ns_) * static_cast<double>(i) /
                                      static_cast<double>(lanes_));
  }
  std::uint64_t start_ns_;
  std::uint64_t ramp_ns_;
  std::uint64_t lanes_;
  std::uint64_t started_ = 0;
};

// An open-loop queue-driven runner (shm, seed) with nothing to send yet:
// waits for the pacer's next play (PaceUntilNs, so at least a pacing nap)
// or, while lanes are still `starting`, for the next lane's start when that
// comes first.
inline void WaitForPlayOrStart(const Pacer& pacer, const Ramp& ramp, bool starting,
                               std::uint64_t min_nap_ns = kPaceNapNs) {
  if (!starting || pacer.next_ns() <= ramp.next_ns()) {
    PaceUntilNs(pacer.next_ns(), min_nap_ns);
  } else {
    WaitUntilNs(ramp.next_ns());
  }
}

}  // namespace hokm::loadgen
