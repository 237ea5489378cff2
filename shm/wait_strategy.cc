// wait_strategy.cc: the futex calls and the spin/nap/park loop of
// wait_strategy.h (the protocol and its orderings are described there).
#include "shm/wait_strategy.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <ctime>

#include "shm/segment.h"
#include "shm/seqlock.h"

namespace hokm::shm {

namespace {

// Shared futexes (no FUTEX_PRIVATE_FLAG): waiter and waker may be in
// different processes mapping the same segment.
long FutexWait(std::uint32_t* word, std::uint32_t expected, std::uint64_t timeout_ns) {
  timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000),
              static_cast<long>(timeout_ns % 1'000'000'000)};
  return ::syscall(SYS_futex, word, FUTEX_WAIT, expected, &ts, nullptr, 0);
}

long FutexWakeAll(std::uint32_t* word) {
  return ::syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

// P4: bump the futex word, then wake.
void BumpAndWake(RingTrailer* trailer) {
  // Release: pairs with the acquire load of wake_seq in RingWaiter::Park
  // (C2): a consumer that reads this bump also sees what we published.
  Atomic(trailer->wake_seq).fetch_add(1, std::memory_order_release);
  (void)FutexWakeAll(&trailer->wake_seq);
}

}  // namespace

const char* WaitStrategyName(WaitStrategy strategy) {
  switch (strategy) {
    case WaitStrategy::kPark:
      return "park";
    case WaitStrategy::kSpin:
      return "spin";
    case WaitStrategy::kNap:
      return "nap";
  }
  return "unknown";
}

bool ParseWaitStrategy(std::string_view text, WaitStrategy& out) {
  if (text == "park") {
    out = WaitStrategy::kPark;
  } else if (text == "spin") {
    out = WaitStrategy::kSpin;
  } else if (text == "nap") {
    out = WaitStrategy::kNap;
  } else {
    return false;
  }
  return true;
}

void PublishFence() {
#if !defined(HOKM_TSAN)
  // P2: the StoreLoad barrier between our release header store(s) and the
  // load of `parked` in WakeIfParked.
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

void WakeIfParked(const Ring& ring) {
  RingTrailer* trailer = ring.trailer();
  auto parked = Atomic(trailer->parked);
#if defined(HOKM_TSAN)
  // P2+P3 as one seq_cst read-modify-write (see the header).
  if (parked.fetch_add(0, std::memory_order_seq_cst) == 0) return;
#else
  // P3. Relaxed: ordered after the publish by the fence in PublishFence.
  if (parked.load(std::memory_order_relaxed) == 0) return;
#endif
  // P4: only the producer that clears the announcement wakes; the others
  // are covered by its wake-up.
  if (parked.exchange(0, std::memory_order_acq_rel) == 0) return;
  BumpAndWake(trailer);
}

void NotifyConsumer(const Ring& ring) {
  PublishFence();
  WakeIfParked(ring);
}

void WakeConsumerNow(const Ring& ring) { BumpAndWake(ring.trailer()); }

RingWaiter::RingWaiter(const Ring& ring, WaitOptions options)
    : ring_(ring), options_(options), backoff_(options.nap_us), spin_budget_ns_(options.spin_ns) {
  // A predecessor killed while parked left its announcement: producers
  // would each pay a wake syscall until someone clears it.
  (void)Atomic(ring_.trailer()->parked).exchange(0, std::memory_order_seq_cst);
}

void RingWaiter::Wait(const RingReader& reader, std::uint64_t deadline_ns) {
  switch (options_.strategy) {
    case WaitStrategy::kSpin:
      seqlock::CpuRelax();
      return;
    case WaitStrategy::kNap:
      if (deadline_ns != 0) {
        const std::uint64_t now = MonotonicNowNs();
        if (now >= deadline_ns) return;
        if (deadline_ns - now < std::uint64_t{options_.nap_us} * 1000) {
          const std::uint64_t nap = deadline_ns - now;
          timespec ts{static_cast<time_t>(nap / 1'000'000'000),
                      static_cast<long>(nap % 1'000'000'000)};
          nanosleep(&ts, nullptr);
          return;
        }
      }
      backoff_.Wait();
      return;
    case WaitStrategy::kPark:
      break;
  }
  // Spin first: work that comes within spin_ns costs no syscall on either
  // side. The clock is read every 16 polls only: clock_gettime is dear in a
  // VM (bench/README.md, Machine).
  if (!spinning_) {
    spinning_ = true;
    spin_polls_ = 0;
    probing_ = ++spin_phases_ % kProbeEvery == 0;
    const std::uint32_t budget = probing_ ? options_.spin_ns : spin_budget_ns_;
    spin_until_ns_ = budget == 0 ? 0 : MonotonicNowNs() + budget;
  }
  if (spin_until_ns_ != 0) {
    if ((++spin_polls_ & 15) != 0) {
      seqlock::CpuRelax();
      return;
    }
    const std::uint64_t now = MonotonicNowNs();
    if (now < spin_until_ns_ && (deadline_ns == 0 || now < deadline_ns)) {
      seqlock::CpuRelax();
      return;
    }
  }
  // The spin did not pay: spin less next time.
  if (!parked_since_reset_ && !probing_) {
    spin_budget_ns_ = spin_budget_ns_ / 2 < kMinSpinNs ? std::min(kMinSpinNs, options_.spin_ns)
                                                       : spin_budget_ns_ / 2;
  }
  parked_since_reset_ = true;
  Park(reader, deadline_ns);
}

void RingWaiter::Park(const RingReader& reader, std::uint64_t deadline_ns) {
  std::uint64_t timeout_ns = std::uint64_t{options_.park_timeout_us} * 1000;
  if (deadline_ns != 0) {
    const std::uint64_t now = MonotonicNowNs();
    if (now >= deadline_ns) return;
    if (deadline_ns - now < timeout_ns) timeout_ns = deadline_ns - now;
  }
  RingTrailer* trailer = ring_.trailer();
  auto parked = Atomic(trailer->parked);
  // C1: announce. Seq_cst: the consumer's half of the Dekker pair with
  // PublishFence (see the header).
  (void)parked.exchange(1, std::memory_order_seq_cst);
  // C2. Acquire: pairs with the release fetch_add in BumpAndWake (P4).
  const std::uint32_t seq = Atomic(trailer->wake_seq).load(std::memory_order_acquire);
  // C3: the re-check (a seq_cst load of the header, RingReader::RecordWaiting).
  if (reader.RecordWaiting()) {
    ++rechecks_won_;
  } else {
    ++parks_;
    // C4: returns at once if a producer bumped wake_seq since C2; EINTR and
    // the timeout send us back to poll too.
    const bool to_deadline = timeout_ns < std::uint64_t{options_.park_timeout_us} * 1000;
    if (FutexWait(&trailer->wake_seq, seq, timeout_ns) != 0 && errno == ETIMEDOUT && !to_deadline) {
      ++timeouts_;
    }
  }
  // C5.
  (void)parked.exchange(0, std::memory_order_seq_cst);
  // After a park the next empty poll parks again at once: a consumer that
  // just slept is idle, and spinning now would only burn the core.
}

}  // namespace hokm::shm
