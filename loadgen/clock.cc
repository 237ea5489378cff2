// clock.cc: TSC calibration for NowNs (see clock.h).
#include "loadgen/clock.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

namespace hokm::loadgen {

ClockCalibration g_clock;

namespace {

bool InvariantTsc() {
#if defined(__x86_64__)
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    return line.find(" constant_tsc") != std::string::npos &&
           line.find(" nonstop_tsc") != std::string::npos;
  }
#endif
  return false;
}

}  // namespace

const char* InitClock() {
  static char description[64] = "clock_gettime(CLOCK_MONOTONIC)";
#if defined(__x86_64__)
  if (!InvariantTsc()) return description;
  const std::uint64_t ns0 = MonotonicNs();
  const std::uint64_t tsc0 = __rdtsc();
  timespec nap{0, 20'000'000};
  nanosleep(&nap, nullptr);
  const std::uint64_t ns1 = MonotonicNs();
  const std::uint64_t tsc1 = __rdtsc();
  if (tsc1 <= tsc0 || ns1 <= ns0) return description;
  g_clock.ns_per_tick = static_cast<double>(ns1 - ns0) / static_cast<double>(tsc1 - tsc0);
  g_clock.base_ns = ns1;
  g_clock.base_tsc = tsc1;
  g_clock.use_tsc = true;
  std::snprintf(description, sizeof description, "tsc %.3f GHz", 1.0 / g_clock.ns_per_tick);
#endif
  return description;
}

void WaitUntilNs(std::uint64_t when_ns) {
  // Sleeps, never spins: on a box the stores share, a spinning loadgen takes
  // the CPU they need (loadgen/README.md, Load, has what spinning the last
  // stretch cost). A late wake-up (the 1 us timer slack main sets narrows
  // it, but a nanosleep still oversleeps in a VM) counts in the latency, as
  // open loop requires.
  for (std::uint64_t now = NowNs(); now < when_ns; now = NowNs()) {
    const std::uint64_t nap = when_ns - now;
    timespec ts{static_cast<time_t>(nap / 1'000'000'000), static_cast<long>(nap % 1'000'000'000)};
    nanosleep(&ts, nullptr);
  }
}

void PaceUntilNs(std::uint64_t due_ns, std::uint64_t min_nap_ns) {
  const std::uint64_t now = NowNs();
  if (due_ns <= now) return;
  WaitUntilNs(std::max(due_ns, now + min_nap_ns));
}

}  // namespace hokm::loadgen
