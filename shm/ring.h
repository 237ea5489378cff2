// ring.h: Aeron's many-to-one ring buffer over shared memory (docs/DESIGN.md §3):
// many producers (threads or processes) append variable-length records, one
// consumer reads them in order and commits its position in the ring itself.
//
// Memory of one ring (position-independent: only offsets and positions):
//
//   +--------------------------------------------+ offset 0
//   | data: `capacity` bytes (a power of two)    |  records, 8-byte aligned
//   +--------------------------------------------+ offset capacity
//   | RingTrailer: one counter per 128-byte line |  tail, head cache, head, stats,
//   |                                            |  wait (futex words, wait_strategy.h)
//   +--------------------------------------------+ offset capacity + 640
//
// Positions are 64-bit byte counts that only grow; index = position & (capacity - 1);
// lag = tail - head. A record starts at an 8-byte aligned index:
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   +---------------------------------------------------------------+
//   |                 length (int32, header included)               |
//   +---------------------------------------------------------------+
//   |        type (int32): >= 0 user, -1 padding, pid while claimed |
//   +---------------------------------------------------------------+
//   |                  payload (length - 8 bytes) ...              ...
//   +---------------------------------------------------------------+
//   |  zero fill up to the next multiple of 8                       |
//
// The header is one little-endian 64-bit word (length low, type high) so it is
// published by one store. Its states:
//   0                         not written (the consumer zeroes what it consumed)
//   length < 0, type = pid    claimed by process `pid`, payload being written
//   length > 0, type >= 0     a whole record: visible to the consumer
//   length > 0, type = -1     padding: skipped (end of the data at wrap, an
//                             aborted claim, or a claim whose producer died)
//
// Producer: claim [tail, tail + aligned length) by CAS on tail (adding a padding
// record first when the record would cross the end of the data), store the
// header with the negated length and its pid, copy the payload, then
// release-store the positive length. A record is whole or invisible.
//
// A ring with exactly one producer (a shard's change ring) may use the
// *Exclusive calls, which advance the tail with a plain store: same format.
//
// Consumer (RingReader): reads the header at its read position with acquire;
// hands out whole records without committing; Commit() zeroes the consumed
// bytes and release-stores the head. A claim whose producer is dead (kill(pid,0)
// fails with ESRCH) becomes padding at once; a claim that never got its header
// (producer died between the CAS and the header store) is skipped after
// `unblock_timeout_ns` by scanning to the next written header (Aeron's unblock).
//
// Thread safety: Ring is a view; copies of it are cheap. TryWrite / TryClaim /
// Commit / Abort may be called by any number of threads and processes at
// once. RingReader is for exactly one consumer thread per ring at a time
// (across all processes); Lag() and friends may be called from anywhere.
// A reader and producers in different processes see the same memory; the
// orderings below are the same for threads and processes. Liveness is judged
// by kill(pid, 0), so producers and consumer must share a pid namespace, and a
// dead producer not yet reaped by its parent (a zombie) still counts as alive.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>

#include "shm/tsan.h"

namespace hokm::shm {

static_assert(std::endian::native == std::endian::little,
              "the ring header word assumes little endian");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<std::uint64_t>::required_alignment <= alignof(std::uint64_t));
static_assert(std::atomic_ref<std::uint32_t>::is_always_lock_free);

// Lock-free access to a plain word in shared memory (structs in the segment
// hold plain integers so they stay trivially copyable).
inline std::atomic_ref<std::uint64_t> Atomic(std::uint64_t& word) {
  return std::atomic_ref<std::uint64_t>(word);
}
inline std::atomic_ref<std::uint32_t> Atomic(std::uint32_t& word) {
  return std::atomic_ref<std::uint32_t>(word);
}

// Result of a producer call: never blocks, never throws.
enum class [[nodiscard]] WriteResult : std::uint8_t{
    kOk = 0,
    kFull,         // not enough free space now; nothing written; retry later
    kTooLarge,     // payload above MaxPayload(): will never fit
    kInvalidType,  // type < 0 (reserved for padding and claims)
};
const char* WriteResultName(WriteResult r);

// One 128-byte line per counter so producers, consumer and observers do not
// share a line they write.
struct alignas(128) RingCounter {
  std::uint64_t value;
};
static_assert(sizeof(RingCounter) == 128);

// Lives right after the data; all positions are byte counts from ring start.
struct RingTrailer {
  RingCounter tail;        // next position to claim (producers, CAS)
  RingCounter head_cache;  // a recent head, refreshed by producers
  RingCounter head;        // committed consumer position (consumer only)
  // The stats line: written rarely.
  alignas(128) std::uint64_t capacity;  // set by Init, checked by attachers
  std::uint64_t full_count;             // kFull answers (producers)
  std::uint64_t unblocked_count;        // dead claims skipped (consumer)
  std::uint8_t reserved[128 - 3 * 8];
  // The consumer's futex words (wait_strategy.h has the protocol): read by
  // every producer after it publishes, written only around a park.
  alignas(128) std::uint32_t wake_seq;  // the futex word (atomic)
  std::uint32_t parked;                 // 1: the consumer may sleep (atomic)
  std::uint8_t wait_reserved[128 - 2 * 4];
};
static_assert(std::is_trivially_copyable_v<RingTrailer>);
static_assert(std::is_standard_layout_v<RingTrailer>);
static_assert(sizeof(RingTrailer) == 5 * 128);
static_assert(alignof(RingTrailer) == 128);
static_assert(offsetof(RingTrailer, tail) == 0);
static_assert(offsetof(RingTrailer, head_cache) == 128);
static_assert(offsetof(RingTrailer, head) == 256);
static_assert(offsetof(RingTrailer, capacity) == 384);
static_assert(offsetof(RingTrailer, wake_seq) == 512);
static_assert(offsetof(RingTrailer, parked) == 516);

namespace ring_detail {
inline constexpr std::size_t kHeaderLength = 8;
inline constexpr std::size_t kAlignment = 8;
inline constexpr std::int32_t kPaddingType = -1;

constexpr std::uint64_t MakeHeader(std::int32_t length, std::int32_t type) {
  return static_cast<std::uint32_t>(length) |
         (static_cast<std::uint64_t>(static_cast<std::uint32_t>(type)) << 32);
}
constexpr std::int32_t LengthOf(std::uint64_t header) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(header));
}
constexpr std::int32_t TypeOf(std::uint64_t header) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(header >> 32));
}
constexpr std::uint64_t Align(std::uint64_t n) { return (n + kAlignment - 1) & ~(kAlignment - 1); }

// This process's pid, cached (getpid() is a system call); refreshed in a
// child after fork().
extern std::atomic<pid_t> g_process_id;
pid_t LoadProcessId();
inline pid_t ProcessId() {
  pid_t pid = g_process_id.load(std::memory_order_relaxed);
  return pid != 0 ? pid : LoadProcessId();
}
}  // namespace ring_detail

// A claimed, not yet published record: fill `data` then Commit or Abort.
struct RingClaim {
  std::byte* data = nullptr;  // length bytes, 8-byte aligned
  std::size_t length = 0;
  std::uint64_t index = 0;  // of the header within the data region
  std::int32_t type = 0;
};

class Ring {
 public:
  static constexpr std::size_t kHeaderLength = ring_detail::kHeaderLength;
  static constexpr std::size_t kMinCapacity = 1024;
  static constexpr std::size_t kMaxCapacity = std::size_t{1} << 30;  // lengths are int32

  // Bytes of memory a ring with `capacity` data bytes needs (data + trailer).
  static constexpr std::size_t RequiredBytes(std::size_t capacity) {
    return capacity + sizeof(RingTrailer);
  }
  static constexpr bool IsValidCapacity(std::size_t capacity) {
    return capacity >= kMinCapacity && capacity <= kMaxCapacity && std::has_single_bit(capacity);
  }
  // Formats a ring in `memory` (RequiredBytes(capacity) bytes, 128-byte
  // aligned). The data must be zero already (fresh shm pages are) or
  // `zero_data` set. REQUIRES: IsValidCapacity(capacity); no one uses the ring.
  static void Init(void* memory, std::size_t capacity, bool zero_data = false);

  Ring() = default;
  // A view of a ring formatted by Init. `memory` must remain mapped while
  // this Ring and any RingReader on it are in use.
  Ring(void* memory, std::size_t capacity)
      : buffer_(static_cast<std::byte*>(memory)),
        trailer_(reinterpret_cast<RingTrailer*>(static_cast<std::byte*>(memory) + capacity)),
        capacity_(capacity),
        mask_(capacity - 1) {}

  bool valid() const { return buffer_ != nullptr; }
  std::size_t Capacity() const { return capacity_; }
  // Largest payload one record may carry (an eighth of the ring, as Aeron).
  std::size_t MaxPayload() const { return capacity_ / 8 - kHeaderLength; }

  // Appends one record. Never blocks; kFull leaves the ring untouched.
  WriteResult TryWrite(std::int32_t type, const void* data, std::size_t length) {
    return Write<false>(type, data, length);
  }
  WriteResult TryWrite(std::int32_t type, std::span<const std::byte> payload) {
    return Write<false>(type, payload.data(), payload.size());
  }
  // Zero-copy: reserves `length` payload bytes; on kOk the caller writes
  // claim.data and then calls Commit(claim) (or Abort(claim)) promptly: the
  // consumer waits at an open claim (a claim of a dead process is skipped).
  WriteResult TryClaim(std::int32_t type, std::size_t length, RingClaim& claim) {
    return Claim<false>(type, length, claim);
  }

  // The same for a ring with exactly one producer (a shard's change ring:
  // its engine thread): the tail is advanced by a plain store instead of a
  // CAS, which is what makes one record cost about as much as in an SPSC
  // queue. REQUIRES: no other thread or process writes to this ring while
  // any *Exclusive call may run (a dead previous producer is fine).
  WriteResult TryWriteExclusive(std::int32_t type, const void* data, std::size_t length) {
    return Write<true>(type, data, length);
  }
  WriteResult TryClaimExclusive(std::int32_t type, std::size_t length, RingClaim& claim) {
    return Claim<true>(type, length, claim);
  }

  // Publishes a claimed record. Release: pairs with the acquire header load
  // in RingReader::Peek, making the payload visible with the length.
  void Commit(const RingClaim& claim) {
    HeaderAt(claim.index)
        .store(ring_detail::MakeHeader(static_cast<std::int32_t>(kHeaderLength + claim.length),
                                       claim.type),
               std::memory_order_release);
  }
  // Gives a claim up: it becomes padding the consumer skips.
  void Abort(const RingClaim& claim) {
    using namespace ring_detail;
    HeaderAt(claim.index)
        .store(MakeHeader(static_cast<std::int32_t>(Align(kHeaderLength + claim.length)),
                          kPaddingType),
               std::memory_order_release);
  }

  // Observers: may be called from any thread; values may be stale at once.
  // Their acquires pair with the CAS / store of the tail in Claim (relaxed
  // there: observers learn only a number) and with the release store of the
  // head in RingReader::CommitTo.
  std::uint64_t TailPosition() const {
    return Atomic(trailer_->tail.value).load(std::memory_order_acquire);
  }
  std::uint64_t HeadPosition() const {
    return Atomic(trailer_->head.value).load(std::memory_order_acquire);
  }
  // Bytes claimed and not yet committed by the consumer.
  std::uint64_t Lag() const {
    const std::uint64_t head = HeadPosition();
    const std::uint64_t tail = TailPosition();
    return tail > head ? tail - head : 0;
  }
  double FillRatio() const { return static_cast<double>(Lag()) / static_cast<double>(capacity_); }
  std::uint64_t FullCount() const {
    return Atomic(trailer_->full_count).load(std::memory_order_relaxed);
  }
  std::uint64_t UnblockedCount() const {
    return Atomic(trailer_->unblocked_count).load(std::memory_order_relaxed);
  }

  // For tests and tools: the raw trailer and data.
  RingTrailer* trailer() const { return trailer_; }
  std::byte* buffer() const { return buffer_; }

  std::atomic_ref<std::uint64_t> HeaderAt(std::uint64_t index) const {
    return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(buffer_ + index));
  }

 private:
  template <bool kExclusive>
  WriteResult Write(std::int32_t type, const void* data, std::size_t length) {
    RingClaim claim;
    WriteResult r = Claim<kExclusive>(type, length, claim);
    if (r != WriteResult::kOk) return r;
    if (length != 0) std::memcpy(claim.data, data, length);
    Commit(claim);
    return WriteResult::kOk;
  }

  template <bool kExclusive>
  WriteResult Claim(std::int32_t type, std::size_t length, RingClaim& claim) {
    using namespace ring_detail;
    if (type < 0) return WriteResult::kInvalidType;
    if (length > MaxPayload()) return WriteResult::kTooLarge;
    const std::uint64_t record_length = kHeaderLength + length;
    const std::uint64_t aligned = Align(record_length);

    auto tail_ref = Atomic(trailer_->tail.value);
    auto head_cache_ref = Atomic(trailer_->head_cache.value);
    // Acquire: pairs with the release store of head in RingReader::Commit
    // (directly, or through the release store of head_cache below), so the
    // consumer's zeroing of the bytes we are about to claim happened before.
    std::uint64_t head = head_cache_ref.load(std::memory_order_acquire);
    std::uint64_t tail;
    std::uint64_t padding;
    for (;;) {
      tail = tail_ref.load(std::memory_order_relaxed);
      const std::uint64_t to_end = capacity_ - (tail & mask_);
      padding = aligned > to_end ? to_end : 0;
      const std::uint64_t needed = aligned + padding;
      // Signed: a head cache older than a lap gives used > capacity (look
      // again), a tail older than the head gives used < 0 (the CAS fails).
      if (static_cast<std::int64_t>(tail - head) + static_cast<std::int64_t>(needed) >
          static_cast<std::int64_t>(capacity_)) {
        head = Atomic(trailer_->head.value).load(std::memory_order_acquire);  // as above
        if (static_cast<std::int64_t>(tail - head) + static_cast<std::int64_t>(needed) >
            static_cast<std::int64_t>(capacity_)) {
          Atomic(trailer_->full_count).fetch_add(1, std::memory_order_relaxed);
          return WriteResult::kFull;
        }
        // Release: pairs with the acquire load of head_cache above in other
        // producers, passing on what we acquired from the consumer.
        head_cache_ref.store(head, std::memory_order_release);
      }
      // The claim orders nothing by itself: bytes are ours once the CAS wins
      // (or at once for the only producer).
      if constexpr (kExclusive) {
        tail_ref.store(tail + needed, std::memory_order_relaxed);
        break;
      } else {
        if (tail_ref.compare_exchange_weak(tail, tail + needed, std::memory_order_relaxed,
                                           std::memory_order_relaxed)) {
          break;
        }
      }
    }
    std::uint64_t index = tail & mask_;
    if (padding != 0) {
      // Release: pairs with the acquire header load in RingReader::Peek.
      HeaderAt(index).store(MakeHeader(static_cast<std::int32_t>(padding), kPaddingType),
                            std::memory_order_release);
      index = 0;
    }
    // The negated length marks the claim; the pid lets the consumer skip it
    // if we die before Commit.
    HeaderAt(index).store(MakeHeader(-static_cast<std::int32_t>(record_length), ProcessId()),
                          std::memory_order_relaxed);
    // Keeps the payload stores below from becoming visible before the claim
    // header: the consumer's unblock scan reads the first non-zero word after
    // a dead claim as the next record's header.
    // (Hardware ordering only, which ThreadSanitizer does not model.)
#if !defined(HOKM_TSAN)
    std::atomic_thread_fence(std::memory_order_release);
#endif
    claim.data = buffer_ + index + kHeaderLength;
    claim.length = length;
    claim.index = index;
    claim.type = type;
    return WriteResult::kOk;
  }

  std::byte* buffer_ = nullptr;
  RingTrailer* trailer_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t mask_ = 0;
};

// One record as the consumer sees it; payload points into the ring and stays
// valid until the next Commit.
struct RingRecord {
  std::int32_t type;
  std::span<const std::byte> payload;
  std::uint64_t position;       // of the record's header
  std::uint64_t next_position;  // of the record after it
};

struct RingReaderOptions {
  // How long a claim with a live-looking but idle state is waited for before
  // its producer's pid is checked (and again between checks).
  std::uint64_t dead_claim_check_ns = 100'000;
  // How long a claimed region with no header at all (its producer died
  // between the CAS on tail and the header store) is waited for before the
  // reader scans past it. A producer stopped in that window for longer would
  // lose its record; Aeron takes the same trade.
  std::uint64_t unblock_timeout_ns = 5'000'000'000;
};

// The single consumer of a ring.
// Thread safety: one RingReader per ring at a time, used by one thread.
class RingReader {
 public:
  RingReader() = default;
  // Starts reading at the ring's committed head (so a restarted consumer
  // resumes where its predecessor last committed).
  explicit RingReader(Ring ring, RingReaderOptions options = {})
      : ring_(ring),
        options_(options),
        read_position_(ring.HeadPosition()),
        committed_(read_position_) {}

  const Ring& ring() const { return ring_; }

  // Calls handler(const RingRecord&) for up to max_records whole records
  // after the read position, in order, and advances the read position past
  // them. Commits nothing. Returns the number of records handed out.
  template <typename Handler>
  std::size_t Peek(Handler&& handler, std::size_t max_records) {
    using namespace ring_detail;
    // A head no consumer wrote (commits are record boundaries, 8-byte
    // aligned): a header there would be a misaligned atomic access.
    if ((read_position_ & (kAlignment - 1)) != 0) {
      corrupt_at_ = read_position_;
      return 0;
    }
    std::size_t count = 0;
    std::uint64_t position = read_position_;
    // Never read more than a ring's worth ahead of the committed head, nor
    // past a header found corrupt (whatever has been committed since).
    const std::uint64_t limit = std::min(committed_ + ring_.Capacity(), corrupt_at_);
    while (count < max_records && position < limit) {
      const std::uint64_t index = position & (ring_.Capacity() - 1);
      // Acquire: pairs with the release header store in Ring::Commit / Abort /
      // TryClaim (padding) and in Unblock: the payload is visible.
      const std::uint64_t header = ring_.HeaderAt(index).load(std::memory_order_acquire);
      const std::int32_t length = LengthOf(header);
      if (length <= 0) {
        if (!TryUnblock(position, header)) break;
        continue;  // the header is padding now
      }
      const std::uint64_t next = position + Align(static_cast<std::uint64_t>(length));
      if (length < static_cast<std::int32_t>(kHeaderLength) ||
          index + (next - position) > ring_.Capacity() || next > limit) {
        // A length shorter than its own header, a record crossing the end of
        // the data, or one running into the bytes at the committed head (a
        // producer never claims more than a ring ahead of it): no producer
        // writes any of these.
        corrupt_at_ = position;
        break;
      }
      const std::int32_t type = TypeOf(header);
      if (type != kPaddingType) {
        handler(
            RingRecord{type,
                       std::span<const std::byte>(ring_.buffer() + index + kHeaderLength,
                                                  static_cast<std::size_t>(length) - kHeaderLength),
                       position, next});
        ++count;
      }
      position = next;
    }
    read_position_ = position;
    return count;
  }

  // True if a whole record (or padding) is published at the read position:
  // the consumer's re-check after it announced parking (C3 in
  // wait_strategy.h). Seq_cst: the other half of that Dekker pair is the
  // seq_cst fence in NotifyConsumer after the release header store in
  // Ring::Commit. A hint only: Peek decides.
  bool RecordWaiting() const {
    if ((read_position_ & (ring_detail::kAlignment - 1)) != 0) return false;  // corrupt (Peek)
    const std::uint64_t header =
        ring_.HeaderAt(read_position_ & (ring_.Capacity() - 1)).load(std::memory_order_seq_cst);
    return ring_detail::LengthOf(header) > 0;
  }

  // Commits everything read so far: zeroes those bytes (so "zero" means "not
  // written" on the next lap) and release-stores the head.
  void Commit() { CommitTo(read_position_); }
  // Commits up to `position`, a record boundary (a RingRecord's position or
  // next_position) with committed_position() <= position <= read_position().
  void CommitTo(std::uint64_t position);
  // Moves the read position back to the committed head: the uncommitted
  // records will be handed out again.
  void Rewind() { read_position_ = committed_; }

  std::uint64_t read_position() const { return read_position_; }
  std::uint64_t committed_position() const { return committed_; }
  // True once Peek met a header (of a record or a claim) whose length is
  // shorter than a header or runs past the end of the data, a record more
  // than a ring ahead of the committed head, or a read position that is not 8-byte
  // aligned (a scribbled head): the ring was overwritten by something else.
  // Peek stops there (at read_position()) for good.
  bool corrupted() const { return corrupt_at_ != kNotCorrupt; }

 private:
  // Slow path of Peek at a header that is not a whole record (`header` is 0
  // or a claim). Returns true if the header at `position` changed and is
  // worth reading again (e.g. a dead claim has become padding).
  bool TryUnblock(std::uint64_t position, std::uint64_t header);
  // Turns an unwritten (zero) claimed region at `position` into padding when
  // a written header follows it. Returns true if it did.
  bool ScanPastGap(std::uint64_t position, std::uint64_t tail);
  std::uint64_t NowNs() const;

  Ring ring_;
  RingReaderOptions options_;
  std::uint64_t read_position_ = 0;
  std::uint64_t committed_ = 0;
  // Where Peek last stopped at an unfinished claim, its header, since when.
  std::uint64_t stuck_position_ = ~std::uint64_t{0};
  std::uint64_t stuck_header_ = 0;
  std::uint64_t stuck_since_ns_ = 0;
  std::uint64_t last_pid_check_ns_ = 0;
  std::uint32_t empty_polls_ = 0;
  static constexpr std::uint64_t kNotCorrupt = ~std::uint64_t{0};
  std::uint64_t corrupt_at_ = kNotCorrupt;  // where Peek found the ring corrupt
};

}  // namespace hokm::shm
