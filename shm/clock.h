// clock.h: the two clocks every hokm process reads, in nanoseconds.
// Realtime (CLOCK_REALTIME) stamps what outlives the process: change
// records' ts_ns, a segment's creation, the first game id of a table.
// Monotonic (CLOCK_MONOTONIC) measures intervals: the engine's heartbeat.
#pragma once

#include <time.h>

#include <cstdint>

namespace hokm::shm {

inline std::uint64_t RealtimeNowNs() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

inline std::uint64_t MonotonicNowNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace hokm::shm
