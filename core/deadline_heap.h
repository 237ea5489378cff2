// deadline_heap.h: one engine shard's pending turn deadlines, a binary
// min-heap by deadline indexed by the game's slot, so that a move replaces
// its game's deadline in place (no stale entries pile up) and the shard
// thread learns whether anything is due from the top alone, without looking
// at any slot (core/engine.h, "Turn deadlines").
//
// Memory is reserved up front for one entry per slot of the shard: Set,
// Erase and Pop never allocate. Set and Erase are O(log n) in the games
// with a deadline; reading the top is O(1).
//
// Thread safety: none; a DeadlineHeap belongs to its shard's owner thread.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace hokm::core {

struct TurnTimer {
  std::uint64_t deadline_ns;  // the engine's clock (EngineOptions::monotonic_ns)
  std::uint64_t game_id;
  std::uint32_t turn_key;  // which turn it times (TurnKey in engine.cc)
  std::uint32_t key;       // the slot's index within its shard
};

class DeadlineHeap {
 public:
  DeadlineHeap() = default;
  // keys: the largest key + 1 (the shard's slots).
  explicit DeadlineHeap(std::uint32_t keys) : position_(keys, kAbsent) { heap_.reserve(keys); }

  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  // The earliest deadline. REQUIRES: !empty().
  const TurnTimer& top() const { return heap_.front(); }
  bool Contains(std::uint32_t key) const { return position_[key] != kAbsent; }

  // Inserts timer, or replaces the one with its key. REQUIRES: key < keys.
  void Set(const TurnTimer& timer) {
    std::uint32_t at = position_[timer.key];
    if (at == kAbsent) {
      at = static_cast<std::uint32_t>(heap_.size());
      heap_.push_back(timer);
    } else {
      heap_[at] = timer;
    }
    Place(at);
  }
  // Removes the timer with this key, if any.
  void Erase(std::uint32_t key) {
    const std::uint32_t at = position_[key];
    if (at == kAbsent) return;
    position_[key] = kAbsent;
    const std::uint32_t last = static_cast<std::uint32_t>(heap_.size() - 1);
    if (at != last) {
      heap_[at] = heap_[last];
      heap_.pop_back();
      Place(at);
    } else {
      heap_.pop_back();
    }
  }

 private:
  static constexpr std::uint32_t kAbsent = 0xFFFF'FFFF;

  // Moves the entry at `at` up or down to its place and records positions.
  void Place(std::uint32_t at) {
    while (at > 0) {
      const std::uint32_t parent = (at - 1) / 2;
      if (heap_[parent].deadline_ns <= heap_[at].deadline_ns) break;
      Swap(at, parent);
      at = parent;
    }
    const std::uint32_t n = static_cast<std::uint32_t>(heap_.size());
    for (;;) {
      const std::uint32_t left = 2 * at + 1;
      if (left >= n) break;
      std::uint32_t child = left;
      if (left + 1 < n && heap_[left + 1].deadline_ns < heap_[left].deadline_ns) child = left + 1;
      if (heap_[at].deadline_ns <= heap_[child].deadline_ns) break;
      Swap(at, child);
      at = child;
    }
    position_[heap_[at].key] = at;
  }
  void Swap(std::uint32_t a, std::uint32_t b) {
    std::swap(heap_[a], heap_[b]);
    position_[heap_[a].key] = a;
    position_[heap_[b].key] = b;
  }

  std::vector<TurnTimer> heap_;
  std::vector<std::uint32_t> position_;  // by key: index in heap_, kAbsent if none
};

}  // namespace hokm::core
