// worker.h: delivers the window to one store, in order, on a thread of its
// own: batches from its cursor, writes them through its SinkClient behind a
// Breaker, and while the store is down (breaker open) spills them to its
// SpillQueue, which it replays before anything new once the store answers.
// A record is acknowledged (acked() passes it) once the store has it or it
// is fsync'd in the spill queue.
//
// Thread safety: the worker's thread runs the delivery; Start, Stop and
// SetDraining are called by the Sidecar's thread; acked() and the stats
// accessors may be called from any thread (atomics, histograms, or text
// under a mutex).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/latency_histogram.h"
#include "shm/counters.h"
#include "shm/status.h"
#include "sidecar/breaker.h"
#include "sidecar/record_batch.h"
#include "sidecar/segment_counters.h"
#include "sidecar/sink_client.h"
#include "sidecar/spill_queue.h"
#include "sidecar/window.h"

namespace hokm::sidecar {

class Worker {
 public:
  // Batches hold at most max_records, and wait up to wait_ms after their
  // first record was published for more (0: write at once). The worker's
  // counters are the WorkerCounter words of `counters` (its line in the
  // segment), which it alone writes from now on.
  // REQUIRES: window and the counter line outlive the worker.
  Worker(const char* name, Window& window, std::unique_ptr<SinkClient> client,
         std::unique_ptr<SpillQueue> spill, std::uint32_t max_records, std::uint32_t wait_ms,
         shm::CounterView counters);

  void Start();
  void Stop();  // joins the thread
  // Nothing more is coming: stop waiting for batches to fill.
  void SetDraining() { draining_.store(true); }

  const char* name() const { return name_; }
  // Window index below which the store (or the spill queue) has everything.
  std::uint64_t acked() const { return acked_.load(std::memory_order_acquire); }
  bool SpillEmpty() const { return SpillRecords() == 0; }
  std::uint64_t SpillRecords() const { return counters_.Get(WorkerCounter::kSpillRecords); }

  // For /metrics and /health (any thread).
  std::uint64_t records() const { return counters_.Get(WorkerCounter::kRecords); }
  std::uint64_t batches() const { return counters_.Get(WorkerCounter::kBatches); }
  std::uint64_t spilled() const { return counters_.Get(WorkerCounter::kSpilled); }
  std::uint64_t replayed() const { return counters_.Get(WorkerCounter::kReplayed); }
  std::uint64_t spill_bytes() const { return counters_.Get(WorkerCounter::kSpillBytes); }
  const Breaker& breaker() const { return breaker_; }
  const core::LatencyHistogram& lag_us() const { return lag_us_; }          // publish to store ack
  const core::LatencyHistogram& write_us() const { return write_us_; }      // one write
  const core::LatencyHistogram& batch_size() const { return batch_size_; }  // records per write
  // The sink's counters as of its last write: /metrics never waits for a
  // write in progress (a PostgreSQL batch can take seconds under load, and
  // a scrape that waited that long timed out).
  std::string ClientStats() const;
  // The last write error (empty once the store answers again), with the
  // characters JSON would have to escape replaced by spaces.
  std::string LastError() const;

 private:
  void Run();
  void Fail(const Status& s);
  void Recovered();
  Status Deliver(std::span<const RecordRef> refs, const WindowEntry& last);
  void SaveStats();
  void Idle();
  void PublishSpillGauges();
  bool ReplaySpill();
  bool Spill();

  const char* name_;
  Window& window_;
  std::unique_ptr<SinkClient> client_;
  mutable std::mutex stats_mu_;  // guards stats_text_
  std::string stats_text_;       // client_->StatsText() after the last write
  std::unique_ptr<SpillQueue> spill_;
  Breaker breaker_;
  std::uint32_t max_records_;
  std::uint32_t wait_ms_;
  std::thread thread_;
  std::chrono::steady_clock::time_point next_idle_{};
  std::atomic<bool> stop_{false};
  std::atomic<bool> draining_{false};
  std::atomic<std::uint64_t> acked_{0};
  std::vector<WindowEntry> batch_;
  std::vector<RecordRef> refs_;
  std::vector<SpilledRecord> spilled_view_;
  shm::CounterView counters_;  // WorkerCounter words, in the segment
  core::LatencyHistogram lag_us_, write_us_, batch_size_;
  mutable std::mutex error_mu_;
  std::string last_error_;
};

}  // namespace hokm::sidecar
