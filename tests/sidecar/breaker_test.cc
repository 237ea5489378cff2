// breaker_test.cc: the breaker's closed/open/half-open cycle and its backoff.
#include "sidecar/breaker.h"

#include <gtest/gtest.h>

namespace hokm::sidecar {
namespace {

using namespace std::chrono_literals;

TEST(BreakerTest, StartsClosedAndAllows) {
  Breaker b({});
  EXPECT_EQ(b.state(), Breaker::State::kClosed);
  EXPECT_TRUE(b.Allow(Breaker::Clock::time_point{}));
}

TEST(BreakerTest, FailureOpensUntilTheBackoffElapses) {
  Breaker b({.base_backoff = 100ms, .max_backoff = 1000ms});
  const auto t0 = Breaker::Clock::time_point{} + 1h;
  b.RecordFailure(t0);
  EXPECT_EQ(b.state(), Breaker::State::kOpen);
  EXPECT_EQ(b.opens_total(), 1u);
  EXPECT_FALSE(b.Allow(t0));
  EXPECT_TRUE(b.Allow(b.retry_at()));
  EXPECT_EQ(b.state(), Breaker::State::kHalfOpen);
}

TEST(BreakerTest, HalfOpenProbeSuccessCloses) {
  Breaker b({});
  const auto t0 = Breaker::Clock::time_point{} + 1h;
  b.RecordFailure(t0);
  ASSERT_TRUE(b.Allow(b.retry_at()));
  b.RecordSuccess();
  EXPECT_EQ(b.state(), Breaker::State::kClosed);
  EXPECT_EQ(b.failures_in_row(), 0);
}

TEST(BreakerTest, HalfOpenProbeFailureReopensAndCountsAnotherOpening) {
  Breaker b({});
  const auto t0 = Breaker::Clock::time_point{} + 1h;
  b.RecordFailure(t0);
  ASSERT_TRUE(b.Allow(b.retry_at()));
  b.RecordFailure(b.retry_at());
  EXPECT_EQ(b.state(), Breaker::State::kOpen);
  EXPECT_EQ(b.failures_total(), 2u);
  EXPECT_EQ(b.opens_total(), 2u);  // half-open -> open is a new opening
}

TEST(BreakerTest, BackoffNeverExceedsTheCapAndIsJittered) {
  Breaker b({.base_backoff = 10ms, .max_backoff = 200ms}, 12345);
  const auto t0 = Breaker::Clock::time_point{} + 1h;
  bool varied = false;
  std::chrono::milliseconds previous{-1};
  for (int i = 0; i < 64; ++i) {
    b.RecordFailure(t0);
    EXPECT_LE(b.last_backoff(), 200ms);
    EXPECT_GE(b.last_backoff(), 1ms);
    if (previous.count() >= 0 && b.last_backoff() != previous) varied = true;
    previous = b.last_backoff();
  }
  EXPECT_TRUE(varied);
}

TEST(BreakerTest, BackoffCeilingGrowsExponentially) {
  // With full jitter the wait is random in [1, base * 2^n]; after the first
  // failure it can be at most base.
  Breaker b({.base_backoff = 8ms, .max_backoff = 100000ms}, 777);
  const auto t0 = Breaker::Clock::time_point{} + 1h;
  b.RecordFailure(t0);
  EXPECT_LE(b.last_backoff(), 8ms);
  std::chrono::milliseconds largest{0};
  for (int i = 0; i < 10; ++i) {
    b.RecordFailure(t0);
    largest = std::max(largest, b.last_backoff());
  }
  EXPECT_GT(largest, 8ms);
}

}  // namespace
}  // namespace hokm::sidecar
