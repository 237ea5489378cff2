// clock.h: loadgen's clock for every interval it measures. clock_gettime
// is dear in a VM, where it may trap to the hypervisor, and an embedded run
// reads it twice per command (loadgen/README.md, Measured, has its share of
// the thread), so on x86-64 CPUs with an invariant TSC
// (constant_tsc and nonstop_tsc) NowNs reads the TSC, scaled by a rate
// calibrated against CLOCK_MONOTONIC at start-up; elsewhere it is
// CLOCK_MONOTONIC.
//
// Thread safety: InitClock once, before any thread calls NowNs.
#pragma once

#include <time.h>

#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace hokm::loadgen {

struct ClockCalibration {
  bool use_tsc = false;
  std::uint64_t base_tsc = 0;
  std::uint64_t base_ns = 0;
  double ns_per_tick = 0;
};
extern ClockCalibration g_clock;

inline std::uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Nanoseconds on a monotonic scale (CLOCK_MONOTONIC's origin).
inline std::uint64_t NowNs() {
#if defined(__x86_64__)
  if (g_clock.use_tsc) {
    return g_clock.base_ns +
           static_cast<std::uint64_t>(static_cast<double>(__rdtsc() - g_clock.base_tsc) *
                                      g_clock.ns_per_tick);
  }
#endif
  return MonotonicNs();
}

// Sleeps until `when_ns` on the monotonic clock (never spins).
void WaitUntilNs(std::uint64_t when_ns);

// The open-loop pacer's nap: sleeps until `due_ns`, but never for less than
// `min_nap_ns` (--pace-nap-us, default kPaceNapNs), so that at tens of
// thousands of plays per second the thread wakes once per nap and sends
// every play then due, instead of sleeping once per play (a nanosleep and
// two context switches each; loadgen/README.md, Load, has what that cost).
// A play sent late counts the delay in its latency
// (latency runs from the intended time), so this trades at most one nap of
// open-loop latency for the CPU the stores need.
inline constexpr std::uint64_t kPaceNapNs = 200'000;
void PaceUntilNs(std::uint64_t due_ns, std::uint64_t min_nap_ns = kPaceNapNs);

// Decides between the TSC and CLOCK_MONOTONIC; calibrates the TSC over
// about 20 ms. Returns a one-line description ("tsc 2.100 GHz").
const char* InitClock();

}  // namespace hokm::loadgen
