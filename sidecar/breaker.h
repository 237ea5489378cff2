// breaker.h: a circuit breaker with exponential backoff and full jitter, one
// per sink, so a store that is down is probed rarely and the other keeps going.
//
//   closed --failure--> open --backoff elapsed--> half-open --success--> closed
//                        ^                            |
//                        +---------failure------------+
//
// Thread safety: none; owned by the sidecar's delivery thread. The state and
// counters are mirrored into atomics for the metrics thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace hokm::sidecar {

class Breaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State : std::uint8_t { kClosed = 0, kOpen = 1, kHalfOpen = 2 };

  struct Options {
    std::chrono::milliseconds base_backoff{50};
    std::chrono::milliseconds max_backoff{5000};
  };

  explicit Breaker(Options options, std::uint64_t jitter_seed = 0x9E3779B97F4A7C15ull)
      : options_(options), rng_(jitter_seed | 1) {}

  // True when a request may go to the sink now. An open breaker turns
  // half-open (one probe) once its backoff has elapsed.
  bool Allow(Clock::time_point now) {
    if (state_ == State::kOpen && now >= retry_at_) SetState(State::kHalfOpen);
    return state_ != State::kOpen;
  }

  void RecordSuccess() {
    failures_in_row_ = 0;
    SetState(State::kClosed);
  }

  // Opens (or re-opens) the breaker; the next probe waits a random time in
  // [0, min(cap, base * 2^failures)] ("full jitter"), at least 1 ms.
  void RecordFailure(Clock::time_point now) {
    failures_total_.fetch_add(1, std::memory_order_relaxed);
    if (state_ != State::kOpen) opens_total_.fetch_add(1, std::memory_order_relaxed);
    const int shift = std::min(failures_in_row_, 20);
    ++failures_in_row_;
    const auto ceiling = std::min<std::int64_t>(options_.max_backoff.count(),
                                                options_.base_backoff.count() << shift);
    const auto wait_ms = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(NextRandom() % static_cast<std::uint64_t>(ceiling + 1)));
    last_backoff_ = std::chrono::milliseconds(wait_ms);
    retry_at_ = now + last_backoff_;
    SetState(State::kOpen);
  }

  State state() const { return state_; }
  Clock::time_point retry_at() const { return retry_at_; }
  std::chrono::milliseconds last_backoff() const { return last_backoff_; }
  int failures_in_row() const { return failures_in_row_; }

  // Safe from any thread.
  State StateRelaxed() const {
    return static_cast<State>(state_mirror_.load(std::memory_order_relaxed));
  }
  std::uint64_t failures_total() const { return failures_total_.load(std::memory_order_relaxed); }
  std::uint64_t opens_total() const { return opens_total_.load(std::memory_order_relaxed); }

  static const char* Name(State s) {
    switch (s) {
      case State::kClosed:
        return "closed";
      case State::kOpen:
        return "open";
      case State::kHalfOpen:
        return "half_open";
    }
    return "unknown";
  }

 private:
  void SetState(State s) {
    state_ = s;
    state_mirror_.store(static_cast<std::uint8_t>(s), std::memory_order_relaxed);
  }
  std::uint64_t NextRandom() {  // xorshift64*: jitter only, not security
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545F4914F6CDD1Dull;
  }

  Options options_;
  std::uint64_t rng_;
  State state_ = State::kClosed;
  int failures_in_row_ = 0;
  Clock::time_point retry_at_{};
  std::chrono::milliseconds last_backoff_{0};
  std::atomic<std::uint8_t> state_mirror_{0};
  std::atomic<std::uint64_t> failures_total_{0};
  std::atomic<std::uint64_t> opens_total_{0};
};

}  // namespace hokm::sidecar
