// counters.h: counters in shared memory, as Aeron keeps its counters in its
// CnC file: every process's counters live in the segment, so a tool
// (hokmctl status) reads a running or dead system's counters straight from
// shared memory, without HTTP, and a counter outlives its writer's crash.
//
// A CounterLine is 128 bytes (two cache lines, so that the adjacent-line
// prefetcher never pairs two writers) of 16 64-bit words, owned by ONE
// writer thread. Which word means what is the writer's business: shm/
// holds only the words; the engine (core/engine.h) and the sidecar
// (sidecar/segment_counters.h) name theirs.
//
// Orderings: a single writer updates a word with a relaxed load and a
// relaxed store (no read-modify-write: nobody else writes it), readers load
// it relaxed. A counter is a monitoring value, not a synchronization point:
// no reader infers anything about other memory from it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace hokm::shm {

struct alignas(128) CounterLine {
  static constexpr std::size_t kWords = 16;
  std::uint64_t words[kWords];
};
static_assert(sizeof(CounterLine) == 128);
static_assert(std::is_trivially_copyable_v<CounterLine>);

// A view of one line. Add and Set: the line's one writer thread only; Get:
// any thread or process.
class CounterView {
 public:
  CounterView() = default;
  explicit CounterView(CounterLine* line) : line_(line) {}

  // REQUIRES: word < CounterLine::kWords, for all three.
  void Add(std::size_t word, std::uint64_t n) const {
    std::atomic_ref<std::uint64_t> w(line_->words[word]);
    w.store(w.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void Set(std::size_t word, std::uint64_t value) const {
    std::atomic_ref<std::uint64_t>(line_->words[word]).store(value, std::memory_order_relaxed);
  }
  std::uint64_t Get(std::size_t word) const {
    return std::atomic_ref<std::uint64_t>(line_->words[word]).load(std::memory_order_relaxed);
  }
  // For a word that is a claim (e.g. the pid of the line's writer): sets
  // it to `desired` if it holds `expected`, else loads it into `expected`.
  // Acq_rel: a claim won is ordered before the winner's writes to the line.
  bool Claim(std::size_t word, std::uint64_t& expected, std::uint64_t desired) const {
    return std::atomic_ref<std::uint64_t>(line_->words[word])
        .compare_exchange_strong(expected, desired, std::memory_order_acq_rel);
  }
  // Zeroes every word (a writer starting a fresh run of its counters).
  void Reset() const {
    for (std::size_t i = 0; i < CounterLine::kWords; ++i) Set(i, 0);
  }
  bool valid() const { return line_ != nullptr; }

 private:
  CounterLine* line_ = nullptr;
};

}  // namespace hokm::shm
