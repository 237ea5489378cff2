// reader.h: hokm-sidecar's side of the change rings: reads every shard's ring
// into the Window (one entry per change record) and commits, per ring, what
// both stores acknowledged, so the engine may reuse that space.
//
// A ring position is committed only at the end of a ring record (a command's
// records share it), and only once every record up to it is acknowledged.
//
// Counters: the reader's totals are words of the segment's sidecar process
// line, and what both stores have of each shard is its sidecar shard line
// (segment_counters.h), so `hokmctl status` reads them from shared memory.
//
// Thread safety: ReadInto and CommitAcked are called by one thread (the
// Sidecar's Run), which is the writer of those lines; the counters and the
// per-shard gauges may be read from any thread (/metrics, /health).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "shm/ring.h"
#include "shm/segment.h"
#include "sidecar/segment_counters.h"
#include "sidecar/window.h"

namespace hokm::sidecar {

class ChangeReader {
 public:
  // Reads from each ring's committed head (a restarted sidecar resumes
  // where the last one committed). Zeroes this run's totals in the
  // process line; the shard lines carry on.
  // REQUIRES: segment outlives this reader.
  explicit ChangeReader(const shm::Segment& segment);

  // Appends up to 1,024 ring records per shard to the window and notes
  // (once, in the log) a ring found corrupt. Returns the ring records read.
  std::size_t ReadInto(Window& window);

  // Drops the window's entries below `acked` (acknowledged by both stores)
  // and commits each ring up to the last whole ring record among them.
  void CommitAcked(Window& window, std::uint64_t acked);

  // Every ring read up to its tail.
  bool RingsEmpty() const;
  bool AnyCorrupt() const;
  // No ring has committed anything yet: the stores see every record.
  bool AtTheStart() const;

  std::uint32_t shards() const { return static_cast<std::uint32_t>(readers_.size()); }
  // Any thread.
  std::uint64_t records_read() const { return process_.Get(ProcessCounter::kRecordsRead); }
  std::uint64_t malformed() const { return process_.Get(ProcessCounter::kMalformed); }
  // Window index below which everything is committed.
  std::uint64_t committed_records() const {
    return process_.Get(ProcessCounter::kCommittedRecords);
  }
  static constexpr std::uint64_t kNotCorrupt = ~std::uint64_t{0};
  // Where shard's reader found its ring corrupt, else kNotCorrupt.
  std::uint64_t corrupt_at(std::uint32_t shard) const {
    return corrupt_at_[shard].load(std::memory_order_relaxed);
  }
  std::uint64_t ring_lag_bytes(std::uint32_t shard) const { return readers_[shard].ring().Lag(); }

 private:
  // Splits one ring record into entries (one per change record).
  void AddMessage(std::uint32_t shard, const shm::RingRecord& r);
  void CheckCorruption();

  const shm::Segment& segment_;
  std::vector<shm::RingReader> readers_;
  std::vector<WindowEntry> entries_;     // read, not yet appended to the window
  std::vector<Window::ShardTrim> trim_;  // per shard, filled by Window::Trim
  shm::CounterView process_;             // sidecar_line(kProcessLine)
  // Per shard: the ring position where its reader found the ring corrupt
  // (RingReader::corrupted), else kNotCorrupt.
  std::vector<std::atomic<std::uint64_t>> corrupt_at_;
};

}  // namespace hokm::sidecar
