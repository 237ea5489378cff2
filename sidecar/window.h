// window.h: the change records hokm-sidecar has read from the rings and that
// are not yet in both stores, in read order, addressed by an index that only
// grows (0 is the first record this process read). The ChangeReader appends
// and trims; each Worker copies batches from its own cursor.
//
// Thread safety: every method may be called from any thread (one mutex).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <set>
#include <vector>

#include "sidecar/record_batch.h"

namespace hokm::sidecar {

// One change record read from a ring and not yet acknowledged by both sinks.
struct WindowEntry {
  RecordRef ref;
  std::uint64_t ts_ns;  // engine publish time; 0 for a malformed record
  std::uint32_t shard;
  bool last_in_message;  // ref.position may be committed once this one is done
};

class Window {
 public:
  using Clock = std::chrono::steady_clock;

  // Moves `entries` to the end of the window (leaves it empty).
  void Append(std::vector<WindowEntry>& entries);

  // Copies up to max entries from index `from`, ending at a message boundary
  // (one message larger than max is taken whole). Returns how many.
  std::size_t Take(std::uint64_t from, std::size_t max, std::vector<WindowEntry>& out);

  // Waits until there is an entry at `index`, WakeAll was called, or the
  // deadline passed.
  void WaitFor(std::uint64_t index, Clock::time_point deadline);
  void WakeAll();

  // What Trim found of one shard: `commit` is the position after the last
  // whole ring record dropped (left as is for a shard with none), `whole`
  // adds the records of the whole ring records dropped at positions above
  // `count_above`; `partial` carries those of a ring record dropped only in
  // part (the rest comes in a later Trim).
  struct ShardTrim {
    std::uint64_t commit = 0;
    std::uint64_t whole = 0;
    std::uint64_t partial = 0;
    std::uint64_t count_above = 0;
  };
  // Drops entries below `upto`, noting each in shards[entry.shard].
  void Trim(std::uint64_t upto, std::vector<ShardTrim>& shards);

  // The index after the last entry.
  std::uint64_t End() const;
  // ts_ns of the entry at index (0 if none).
  std::uint64_t TsAt(std::uint64_t index) const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WindowEntry> entries_;
  std::multiset<std::uint64_t> waiting_;  // the indices WaitFor callers wait for
  std::uint64_t base_ = 0;                // index of entries_.front()
  bool woken_ = false;
};

}  // namespace hokm::sidecar
