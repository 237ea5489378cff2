// sink_stats.h: what both sinks count of their calls (the shape their
// stats snapshots share), and how a sink publishes its counts to readers
// on other threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace hokm::sidecar {

// Counters since Connect; a plain copy for /metrics. RedisSinkStats and
// PgSinkStats add what only their store has.
struct SinkStats {
  std::uint64_t batches = 0;         // write calls that succeeded
  std::uint64_t failed_batches = 0;  // write calls that returned an error
  std::uint64_t round_trips = 0;
  std::uint64_t reconnects = 0;
  std::uint64_t last_batch_us = 0;
  std::uint64_t max_batch_us = 0;
  std::uint64_t total_batch_us = 0;
};

// One write call of `took` ended, ok or not.
inline void EndBatch(SinkStats& s, std::chrono::steady_clock::duration took, bool ok) {
  const auto us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(took).count());
  s.last_batch_us = us;
  if (us > s.max_batch_us) s.max_batch_us = us;
  s.total_batch_us += us;
  ++(ok ? s.batches : s.failed_batches);
}

// A sink's counts: `live`, a plain struct its one thread adds to, and a
// copy Publish()ed at the end of every public call, which Read returns.
//
// Thread safety: live and Publish belong to the sink's thread; Read may be
// called from any thread (the mutex pairs Publish with Read).
template <typename Stats>
class StatsCell {
 public:
  Stats live;

  void Publish() {
    const std::lock_guard<std::mutex> lock(mu_);
    published_ = live;
  }
  Stats Read() const {
    const std::lock_guard<std::mutex> lock(mu_);
    return published_;
  }

 private:
  mutable std::mutex mu_;
  Stats published_;
};

}  // namespace hokm::sidecar
