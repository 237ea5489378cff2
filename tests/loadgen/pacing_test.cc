// pacing_test.cc: the open-loop schedule (Pacer) and the start of games
// (Ramp) of --rate and --ramp-s.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "loadgen/drivers/game_flow.h"
#include "loadgen/drivers/runners.h"

namespace hokm::loadgen {
namespace {

constexpr std::uint64_t kStart = 1'000'000'000;

TEST(PacerTest, WithoutARampPlaysAreEvenlySpaced) {
  Pacer p(1000, kStart);  // one play per ms
  ASSERT_TRUE(p.open_loop());
  EXPECT_EQ(p.Take(), kStart);
  EXPECT_EQ(p.Take(), kStart + 1'000'000);
  EXPECT_EQ(p.Take(), kStart + 2'000'000);
  EXPECT_EQ(p.next_ns(), kStart + 3'000'000);
  EXPECT_FALSE(Pacer(0, kStart).open_loop());
}

TEST(PacerTest, ARampClimbsToTheRateAndThenHoldsIt) {
  Pacer p(1000, kStart, 2.0);  // 1,000 plays/s, reached after 2 s
  // Within the ramp: rate * t^2 / (2 * ramp) plays by time t, so 250 by
  // 1 s and 1,000 by 2 s; then one per ms.
  std::vector<std::uint64_t> t;
  for (int k = 0; k < 1'101; ++k) t.push_back(p.Take() - kStart);
  EXPECT_EQ(t[0], 0u);
  EXPECT_NEAR(static_cast<double>(t[250]), 1e9, 1e3);
  EXPECT_NEAR(static_cast<double>(t[1000]), 2e9, 1e3);
  EXPECT_NEAR(static_cast<double>(t[1100] - t[1000]), 100e6, 1e3);
  EXPECT_GT(t[1] - t[0], t[2] - t[1]);  // gaps shrink while the rate climbs
  for (std::size_t k = 1; k < t.size(); ++k) ASSERT_GT(t[k], t[k - 1]) << k;
}

TEST(RampTest, LanesStartEvenlyOverTheRamp) {
  Ramp ramp(kStart, 1.0, 4);  // lanes at 0, 0.25, 0.5, 0.75 s
  std::vector<std::uint32_t> started;
  const auto start = [&](std::uint32_t i) { started.push_back(i); };
  ramp.StartDue(kStart, start);
  EXPECT_EQ(started, std::vector<std::uint32_t>({0}));
  EXPECT_EQ(ramp.next_ns(), kStart + 250'000'000);
  ramp.StartDue(kStart + 600'000'000, start);
  EXPECT_EQ(started, std::vector<std::uint32_t>({0, 1, 2}));
  EXPECT_FALSE(ramp.done());
  ramp.StartDue(kStart + 750'000'000, start);
  EXPECT_TRUE(ramp.done());
  EXPECT_EQ(started.size(), 4u);

  Ramp none(kStart, 0, 3);  // no ramp: everything at once
  started.clear();
  none.StartDue(kStart, start);
  EXPECT_EQ(started.size(), 3u);
  EXPECT_TRUE(none.done());
}

TEST(RampTest, NextStartsDueLanesAndEndsWhenAllStartedAndIdle) {
  // Start times in the past (the monotonic clock is far beyond 1 s), so
  // Next never sleeps here.
  Ramp ramp(0, 1.0, 2);  // lanes at 0 and 0.5 s
  std::vector<std::uint32_t> started;
  const auto start = [&](std::uint32_t i) { started.push_back(i); };
  EXPECT_EQ(ramp.Next(0, start, [] { return false; }), Ramp::Step::kRun);
  EXPECT_EQ(started.size(), 1u);
  EXPECT_EQ(ramp.Next(0, start, [] { return true; }), Ramp::Step::kWaited);
  EXPECT_EQ(started.size(), 1u);
  EXPECT_EQ(ramp.Next(600'000'000, start, [] { return true; }), Ramp::Step::kFinished);
  EXPECT_EQ(started.size(), 2u);
}

}  // namespace
}  // namespace hokm::loadgen
