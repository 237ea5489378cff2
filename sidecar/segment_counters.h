// segment_counters.h: the words of hokm-sidecar's counter lines in the
// segment (shm/counters.h; one writer thread per line). /metrics renders
// them and `hokmctl status` reads them straight from shared memory, also
// when the sidecar is gone.
//
//   sidecar_counters(shard)          the reader thread: what both stores
//                                    have of the shard; kept across sidecar
//                                    restarts (the shard's lag in records is
//                                    the engine's kRecords minus kDelivered)
//   sidecar_line(kProcessLine)       the reader thread: heartbeat, the run's
//                                    totals (reset when a sidecar starts);
//                                    its pid word is the sidecar's claim
//   sidecar_line(kRedisLine/kPgLine) that store's worker thread (reset at start)
#pragma once

#include <cstddef>
#include <cstdint>

#include "shm/counters.h"

namespace hokm::sidecar {

// sidecar_counters(shard). A ring record's records are counted once its
// last record is in both stores, with the ring position after it: a
// restarted sidecar, which reads again from the ring's committed head,
// does not count a ring record at or below kDeliveredPosition twice. The
// words are stored before the ring's head moves, so a crash between the
// two stores can count one ring record's records twice, never lose any.
struct ShardCounter {
  enum : std::size_t {
    kDeliveredRecords,   // change records in both stores
    kDeliveredPosition,  // ring position after the last ring record counted
    kCount,
  };
};

inline constexpr std::uint32_t kProcessLine = 0;
inline constexpr std::uint32_t kRedisLine = 1;
inline constexpr std::uint32_t kPgLine = 2;

struct ProcessCounter {
  enum : std::size_t {
    kPid,          // the claim, by CAS: one sidecar per segment; 0 once it stopped cleanly
    kHeartbeatNs,  // CLOCK_MONOTONIC, at least every ~100 ms while it runs
    kStartedUnixNs,
    kRecordsRead,
    kMalformed,
    kCommittedRecords,  // records both stores have, this run
    kCount,
  };
};

// A worker's line: what hokm_sidecar_{records,batches,...}{sink=} render.
struct WorkerCounter {
  enum : std::size_t {
    kRecords,
    kBatches,
    kSpilled,
    kReplayed,
    kSpillRecords,  // gauge: records in the spill queue
    kSpillBytes,    // gauge
    kBreakerState,  // gauge: Breaker::State
    kCount,
  };
};

static_assert(ShardCounter::kCount <= shm::CounterLine::kWords);
static_assert(ProcessCounter::kCount <= shm::CounterLine::kWords);
static_assert(WorkerCounter::kCount <= shm::CounterLine::kWords);

}  // namespace hokm::sidecar
