// wait_strategy.h: how the one consumer of a ring waits when the ring is
// empty, and how a producer wakes it: park (spin briefly, then sleep on a
// futex word in the ring's trailer until a producer publishes), spin (busy
// poll) or nap (idle_backoff.h: fixed naps).
//
// The two words live in the ring's wait line (RingTrailer::wake_seq and
// RingTrailer::parked, their own 128-byte line; see ring.h):
//
//    0               4               8                              128
//   +---------------+---------------+-------------------------------+
//   | wake_seq (u32)| parked (u32)  | reserved                      |
//   +---------------+---------------+-------------------------------+
//
//   wake_seq  the futex word. A waker adds 1 before FUTEX_WAKE; a parking
//             consumer sleeps only while it still holds the value it read
//             before its last look at the ring.
//   parked    1 while the consumer announces that it (may) sleep; set by the
//             consumer, cleared by the consumer or by the producer that
//             takes it upon itself to wake it.
//   wake_seq is a shared futex (no FUTEX_PRIVATE_FLAG): the consumer and
//   the producers are different processes.
//
// Protocol (C = the consumer, P = any producer; H = the header word of the
// record at C's read position, published by P's release store in
// Ring::Commit):
//
//   C1  parked.exchange(1, seq_cst)          announce
//   C2  s = wake_seq.load(acquire)           pairs with the release P4
//   C3  H.load(seq_cst) has a whole record?  -> yes: go to C5
//   C4  FUTEX_WAIT(&wake_seq, s, timeout)    returns at once if wake_seq != s
//   C5  parked.exchange(0, seq_cst)          (a producer may have cleared it)
//
//   P1  H.store(release)                     publish (Ring::Commit), one
//                                            or a batch (Wake::kLater)
//   P2  atomic_thread_fence(seq_cst)         the StoreLoad barrier
//   P3  parked.load(relaxed) == 0 -> done    a busy pipeline stops here:
//                                            no syscall, no write to the line
//   P4  parked.exchange(0) == 1 ->           the first producer to see the
//         wake_seq.fetch_add(1, release)     announcement takes it on, so a
//         FUTEX_WAKE(&wake_seq, all)         burst wakes once, not per record
//
// No lost wake-up: suppose C3 misses P's record and P3 reads 0 (a value
// older than C1's). P2 is a seq_cst fence before P3, and P3 reads before
// C1 (seq_cst), so P2 precedes C1 in the single total order S; C3 (seq_cst)
// reads before P1, which is sequenced before P2, so C3 precedes P2 in S;
// and C1 precedes C3. P2 < C1 < C3 < P2 is a cycle: one of the two sees the
// other. If P3 sees the announcement, some producer runs P4; C2 read
// wake_seq before that bump (had C2 read the bump, the release P4 ->
// acquire C2 pairing would make P1 visible to C3), so the kernel's check in
// C4 either finds wake_seq changed and returns, or queues C before the
// FUTEX_WAKE that follows the bump. A producer that finds parked already 0
// after another cleared it is covered by that other's wake-up: C polls
// again after any return from C4 and re-announces before it sleeps again.
// (ThreadSanitizer does not model fences: under it P2+P3 become
// parked.fetch_add(0, seq_cst); every write of parked is a read-modify-write,
// so the release sequence P..C1 carries P1 to C3 the same way.)
//
// A consumer SIGKILLed while parked leaves parked = 1: the next producer
// clears it with one FUTEX_WAKE that wakes no one; after that producers see
// 0 again. A new consumer of the ring starts by clearing it too. Each park
// is bounded by a timeout, so nothing ever sleeps for good on a missed
// edge: a dead producer's claim (which no one will publish) is found by the
// next poll after at most that timeout, and a process that must stop
// (SIGTERM) is woken by WakeConsumerNow or the timeout.
//
// What the park strategy does not cover: records published without a
// NotifyConsumer (e.g. the change ring, which hokm-sidecar polls) wake a
// parked consumer only at its timeout.
//
// Thread safety: NotifyConsumer / WakeConsumerNow may be called by any
// thread of any process that publishes to the ring. A RingWaiter belongs to
// the ring's one consumer thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "shm/idle_backoff.h"
#include "shm/ring.h"

namespace hokm::shm {

enum class WaitStrategy : std::uint8_t {
  kPark = 0,  // spin up to spin_ns, then sleep on the ring's futex until woken
  kSpin,      // poll with a pause instruction, never sleep (a core per waiter)
  kNap,       // a few spins, then naps of nap_us (IdleBackoff)
};
const char* WaitStrategyName(WaitStrategy strategy);
// "park", "spin" or "nap". False for anything else.
bool ParseWaitStrategy(std::string_view text, WaitStrategy& out);

struct WaitOptions {
  WaitStrategy strategy = WaitStrategy::kPark;
  // park: the longest an empty ring is polled (with pause) before parking.
  // The spin is adaptive: it halves each time it ends in a park (down to
  // kMinSpinNs) and doubles each time work came while spinning, so a waiter
  // whose peer answers within microseconds spins, and one whose spinning
  // only keeps its peer off a busy core (two threads, one free core) parks.
  // Every kProbeEvery-th spin runs the whole spin_ns, so a budget that
  // shrank in a bad moment grows back once the peer is quick again.
  std::uint32_t spin_ns = 5'000;
  // park: the longest one futex wait lasts; bounds what a missed edge or a
  // dead producer's claim can cost.
  std::uint32_t park_timeout_us = 100'000;
  // nap: the length of one nap.
  std::uint32_t nap_us = 200;
};

// Producer side, after publishing one or more records to `ring` (P2-P4).
void NotifyConsumer(const Ring& ring);
// The same, for many rings after one fence: call PublishFence() once, then
// WakeIfParked for each ring written since the last fence.
void PublishFence();
void WakeIfParked(const Ring& ring);
// Wakes the ring's consumer whether or not it announced parking (shutdown:
// a consumer that must look at a stop flag).
void WakeConsumerNow(const Ring& ring);

// The consumer side. One per consumer thread and ring.
class RingWaiter {
 public:
  RingWaiter() = default;
  // Clears a parked flag a dead predecessor left behind.
  // REQUIRES: the calling thread is the ring's only consumer from now on.
  RingWaiter(const Ring& ring, WaitOptions options);

  const WaitOptions& options() const { return options_; }

  // The last poll found work: the next empty poll starts spinning afresh.
  // Work found while spinning (before any park) lengthens the spin budget.
  void Reset() {
    if (spinning_ && !parked_since_reset_) SpinPaidOff();
    spinning_ = false;
    parked_since_reset_ = false;
    backoff_.Reset();
  }

  // The last poll of `reader` found nothing. Spins once, naps or parks,
  // then returns so that the caller polls again. Returns early when a
  // record may be there, at the park timeout, or at `deadline_ns`
  // (MonotonicNowNs() scale; 0: none) which park and nap honour (spin
  // returns after one pause anyway). Never throws.
  // REQUIRES: `reader` reads the ring this waiter was made for and has
  // committed everything it read.
  void Wait(const RingReader& reader, std::uint64_t deadline_ns = 0);

  // The spin budget now (park), ns.
  std::uint32_t spin_budget_ns() const { return spin_budget_ns_; }
  // Times this waiter called FUTEX_WAIT (and got past its re-check).
  std::uint64_t parks() const { return parks_; }
  // Parks that the re-check after the announcement saved (work came in
  // between the last poll and the announcement).
  std::uint64_t rechecks_won() const { return rechecks_won_; }
  // Parks that ended at their timeout rather than by a wake-up (or by the
  // deadline): with a peer that always answers, a lost wake-up.
  std::uint64_t timeouts() const { return timeouts_; }

 private:
  static constexpr std::uint32_t kMinSpinNs = 500;
  static constexpr std::uint32_t kProbeEvery = 32;
  void Park(const RingReader& reader, std::uint64_t deadline_ns);
  void SpinPaidOff() {
    spin_budget_ns_ = probing_ || spin_budget_ns_ >= options_.spin_ns / 2 ? options_.spin_ns
                                                                          : 2 * spin_budget_ns_;
  }

  Ring ring_;
  WaitOptions options_;
  IdleBackoff backoff_{200};
  bool spinning_ = false;
  bool parked_since_reset_ = false;
  bool probing_ = false;  // this spin runs the whole spin_ns
  std::uint32_t spin_phases_ = 0;
  std::uint32_t spin_budget_ns_ = 0;
  std::uint32_t spin_polls_ = 0;
  std::uint64_t spin_until_ns_ = 0;
  std::uint64_t parks_ = 0;
  std::uint64_t rechecks_won_ = 0;
  std::uint64_t timeouts_ = 0;
};

}  // namespace hokm::shm
