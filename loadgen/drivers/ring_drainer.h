// ring_drainer.h: `--drain`: loadgen itself consumes every shard's change
// ring on a thread of its own, counting the change records (frames of each
// ring record, core/records/change_batch.h) and sampling the ring lag, for runs
// without a sidecar.
//
// Thread safety: Start/Finish by the owner; the counters may be read from
// any thread while it runs. A ring has one consumer: never run this while a
// hokm-sidecar reads the same segment.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "loadgen/run_stats.h"
#include "shm/segment.h"

namespace hokm::loadgen {

class RingDrainer {
 public:
  // `published` returns how many records the run has had accepted so far
  // (for the lag in records). `segment` must outlive the drainer.
  RingDrainer(const shm::Segment& segment, std::function<std::uint64_t()> published);
  ~RingDrainer();

  void Start();
  // Once play has stopped: notes the lag, reads until every ring is empty
  // (bounded by timeout_ns), stops the thread and adds its figures to totals.
  void Finish(RunTotals& totals, std::uint64_t timeout_ns);

  std::uint64_t records() const { return records_.load(std::memory_order_relaxed); }

 private:
  void Run();
  std::uint64_t LagBytes() const;

  const shm::Segment& segment_;
  std::function<std::uint64_t()> published_;
  std::thread thread_;
  std::atomic<bool> finishing_{false};
  std::uint64_t finish_deadline_ns_ = 0;
  std::atomic<std::uint64_t> records_{0};
  std::uint64_t malformed_ = 0;
  std::uint64_t max_lag_bytes_ = 0;
  std::uint64_t max_lag_records_ = 0;
  std::uint64_t start_ns_ = 0;
  std::uint64_t end_ns_ = 0;
};

}  // namespace hokm::loadgen
