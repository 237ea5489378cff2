// idle_backoff.h: how a thread that polls a ring waits when it finds
// nothing: a few spins, then naps of a fixed length until it finds work.
//
// Why naps, and long ones: every wake-up is a nanosleep and two context
// switches, dear on a small machine whose cores the stores need (in a VM a
// syscall may trap to the hypervisor). With short naps hokm-engine woke
// about once per command under open-loop load; with long ones each wake-up
// finds a batch, for a fraction of the CPU. Naps doubling from short to
// long did not help: the gaps between batches were long enough to reach
// the long naps anyway (bench/README.md, CPU, has the figures). The price
// of a long nap is latency
// (a command that arrives while the engine naps waits up to one nap) and,
// with few commands in flight, throughput: a closed loop lock-steps with the
// engine's nap, hence the nap is each poller's option.
//
// Thread safety: none; one per polling thread.
#pragma once

#include <time.h>

#include <cstdint>

namespace hokm::shm {

class IdleBackoff {
 public:
  static constexpr std::uint32_t kSpins = 16;

  explicit IdleBackoff(std::uint32_t nap_us) : nap_ns_(static_cast<long>(nap_us) * 1000) {}

  // The poll found work.
  void Reset() { spins_ = 0; }

  // The poll found nothing: spin (a pause), or nap.
  void Wait() {
    if (spins_ < kSpins) {
      ++spins_;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      return;
    }
    timespec ts{nap_ns_ / 1'000'000'000, nap_ns_ % 1'000'000'000};
    nanosleep(&ts, nullptr);
  }

 private:
  std::uint32_t spins_ = 0;
  long nap_ns_;
};

}  // namespace hokm::shm
