// ring.cc: the slow paths of the ring: formatting, the consumer's commit and
// the skipping of claims whose producer died (Aeron's unblock).
#include "shm/ring.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace hokm::shm {

namespace ring_detail {

std::atomic<pid_t> g_process_id{0};

pid_t LoadProcessId() {
  const pid_t pid = ::getpid();
  g_process_id.store(pid, std::memory_order_relaxed);
  return pid;
}

namespace {
void RefreshProcessIdInChild() { g_process_id.store(::getpid(), std::memory_order_relaxed); }

// Registers the fork handler once, before main.
const bool kForkHandlerRegistered = [] {
  ::pthread_atfork(nullptr, nullptr, &RefreshProcessIdInChild);
  return true;
}();
}  // namespace

}  // namespace ring_detail

const char* WriteResultName(WriteResult r) {
  switch (r) {
    case WriteResult::kOk:
      return "ok";
    case WriteResult::kFull:
      return "full";
    case WriteResult::kTooLarge:
      return "too_large";
    case WriteResult::kInvalidType:
      return "invalid_type";
  }
  return "unknown";
}

void Ring::Init(void* memory, std::size_t capacity, bool zero_data) {
  auto* bytes = static_cast<std::byte*>(memory);
  if (zero_data) std::memset(bytes, 0, capacity);
  auto* trailer = reinterpret_cast<RingTrailer*>(bytes + capacity);
  std::memset(static_cast<void*>(trailer), 0, sizeof(RingTrailer));
  trailer->capacity = capacity;
}

void RingReader::CommitTo(std::uint64_t position) {
  if (position <= committed_) return;
  const std::uint64_t capacity = ring_.Capacity();
  const std::uint64_t start = committed_ & (capacity - 1);
  const std::uint64_t length = position - committed_;
  const std::uint64_t first = length < capacity - start ? length : capacity - start;
  // Plain stores: every byte here was published to us by an acquire of its
  // header, and no producer writes it again before acquiring the head below.
  std::memset(ring_.buffer() + start, 0, first);
  if (length > first) std::memset(ring_.buffer(), 0, length - first);
  // Release: pairs with the acquire loads of head / head_cache in
  // Ring::TryClaim, so producers see these bytes zeroed before reusing them.
  Atomic(ring_.trailer()->head.value).store(position, std::memory_order_release);
  committed_ = position;
  if (read_position_ < position) read_position_ = position;
}

std::uint64_t RingReader::NowNs() const {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

bool RingReader::TryUnblock(std::uint64_t position, std::uint64_t header) {
  using namespace ring_detail;
  const bool same = position == stuck_position_ && header == stuck_header_;
  if (!same) {
    stuck_position_ = position;
    stuck_header_ = header;
    stuck_since_ns_ = 0;
    last_pid_check_ns_ = 0;
    empty_polls_ = 0;
  }
  const std::int32_t length = LengthOf(header);
  if (length < 0) {
    // A claim no producer makes (shorter than a header, or crossing the end
    // of the data) is corrupt, as such a length in a whole record is.
    const auto claimed = static_cast<std::uint64_t>(-static_cast<std::int64_t>(length));
    if (claimed < kHeaderLength ||
        (position & (ring_.Capacity() - 1)) + Align(claimed) > ring_.Capacity()) {
      corrupt_at_ = position;
      return false;
    }
    // A claim being written: normally done within nanoseconds. Only when it
    // stays open do we ask whether its producer is still alive.
    const std::uint64_t now = NowNs();
    if (stuck_since_ns_ == 0) {
      stuck_since_ns_ = now;
      return false;
    }
    if (now - stuck_since_ns_ < options_.dead_claim_check_ns) return false;
    if (last_pid_check_ns_ != 0 && now - last_pid_check_ns_ < options_.dead_claim_check_ns) {
      return false;
    }
    last_pid_check_ns_ = now;
    const pid_t pid = TypeOf(header);
    if (pid <= 0 || ::kill(pid, 0) == 0 || errno != ESRCH) return false;
    std::uint64_t expected = header;
    const std::uint64_t padding =
        MakeHeader(static_cast<std::int32_t>(Align(claimed)), kPaddingType);
    // Release: pairs with the acquire header load in Peek (ours, next call).
    if (ring_.HeaderAt(position & (ring_.Capacity() - 1))
            .compare_exchange_strong(expected, padding, std::memory_order_release,
                                     std::memory_order_relaxed)) {
      Atomic(ring_.trailer()->unblocked_count).fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  }
  // length == 0: usually the ring is simply empty. Look at the tail only now
  // and then, so an idle consumer does not pull the producers' tail line.
  if ((empty_polls_++ & 63) != 63) return false;
  const std::uint64_t tail = ring_.TailPosition();
  if (tail <= position) return false;
  const std::uint64_t now = NowNs();
  if (stuck_since_ns_ == 0) {
    stuck_since_ns_ = now;
    return false;
  }
  if (now - stuck_since_ns_ < options_.unblock_timeout_ns) return false;
  return ScanPastGap(position, tail);
}

bool RingReader::ScanPastGap(std::uint64_t position, std::uint64_t tail) {
  using namespace ring_detail;
  const std::uint64_t capacity = ring_.Capacity();
  const std::uint64_t index = position & (capacity - 1);
  const std::uint64_t claimed = tail - position;
  const std::uint64_t end = claimed < capacity - index ? index + claimed : capacity;
  std::uint64_t gap_end = 0;
  for (std::uint64_t i = index + kAlignment; i < end; i += kAlignment) {
    // Acquire: pairs with the header stores of the next producer.
    if (ring_.HeaderAt(i).load(std::memory_order_acquire) != 0) {
      gap_end = i;
      break;
    }
  }
  if (gap_end == 0) {
    // All zero up to the end of the data with claims beyond it: the dead
    // claim included the padding at wrap.
    if (end != capacity || claimed < capacity - index) return false;
    gap_end = capacity;
  }
  // Confirm nobody wrote into the gap meanwhile.
  for (std::uint64_t i = index; i < gap_end; i += kAlignment) {
    if (ring_.HeaderAt(i).load(std::memory_order_acquire) != 0) return true;
  }
  std::uint64_t expected = 0;
  const std::uint64_t padding =
      MakeHeader(static_cast<std::int32_t>(gap_end - index), kPaddingType);
  // Release: pairs with the acquire header load in Peek.
  if (ring_.HeaderAt(index).compare_exchange_strong(expected, padding, std::memory_order_release,
                                                    std::memory_order_relaxed)) {
    Atomic(ring_.trailer()->unblocked_count).fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

}  // namespace hokm::shm
