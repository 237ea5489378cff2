// runners.h: the per-thread bodies of each mode. A runner thread plays
// `lanes` games at once until the RunControl says stop, then abandons the
// games still running and returns; everything it did is in its ThreadResult.
#pragma once

#include <cstdint>
#include <string>

#include "loadgen/dump_writer.h"
#include "loadgen/game_flow.h"
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

// Sleeps until `when_ns` on the monotonic clock (never spins).
void WaitUntilNs(std::uint64_t when_ns);

}  // namespace hokm::loadgen
