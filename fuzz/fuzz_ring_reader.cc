// fuzz_ring_reader.cc: RingReader (the change and command rings' consumer)
// over an arbitrary data region and trailer: headers of any length and type,
// claims of any pid, any head and tail. Peek, CommitTo and Rewind are driven
// by the input, with the dead-claim and unblock timeouts at zero so the
// recovery paths run too.
//
// Invariants: every record handed out lies wholly inside the data region,
// starts where the previous one ended (or after padding), is at most a
// ring's worth ahead of the committed head, is not padding, and has the
// payload its length says; once corrupted(), nothing past that point is
// handed out (a Rewind re-reads the records before it, as it should).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "fuzz/ring_input.h"
#include "shm/ring.h"

namespace {

using hokm::shm::Ring;
using hokm::shm::RingReader;
using hokm::shm::RingRecord;

constexpr std::size_t kCapacity = hokm::fuzz::kRingCapacity;  // 1 KiB: inputs can cover it
static_assert(Ring::IsValidCapacity(kCapacity));

struct Memory {
  Memory()
      : bytes(static_cast<std::byte*>(std::aligned_alloc(128, Ring::RequiredBytes(kCapacity)))) {}
  ~Memory() { std::free(bytes); }
  std::byte* bytes;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < hokm::fuzz::kRingPrefixBytes) return -1;
  static Memory memory;
  Ring::Init(memory.bytes, kCapacity, /*zero_data=*/true);
  Ring ring(memory.bytes, kCapacity);
  // Head (where the reader starts) and tail: anything at all.
  std::uint64_t head;
  std::uint64_t tail;
  std::memcpy(&head, data, 8);
  std::memcpy(&tail, data + 8, 8);
  ring.trailer()->head.value = head;
  ring.trailer()->head_cache.value = head;
  ring.trailer()->tail.value = tail;
  const std::uint8_t* script = data + 16;
  // The data region: the rest of the input (short inputs leave zeros, "not written").
  std::memcpy(memory.bytes, data + hokm::fuzz::kRingPrefixBytes,
              std::min(size - hokm::fuzz::kRingPrefixBytes, kCapacity));

  hokm::shm::RingReaderOptions options;
  options.dead_claim_check_ns = 0;
  options.unblock_timeout_ns = 0;
  RingReader reader(ring, options);
  const auto* data_begin = reinterpret_cast<const std::byte*>(memory.bytes);
  const auto* data_end = data_begin + kCapacity;

  constexpr std::uint64_t kNotCorrupt = ~std::uint64_t{0};
  std::uint64_t corrupt_at = kNotCorrupt;  // read_position() when corrupted() turned true
  std::size_t step = 0;
  std::vector<std::uint64_t> boundaries;  // record boundaries read, not yet committed
  for (int round = 0; round < 300; ++round) {
    const std::uint8_t op = script[step++ % hokm::fuzz::kRingScriptBytes];
    std::uint64_t expected = reader.read_position();
    const std::size_t max_records = 1 + op % 8;
    const std::size_t got = reader.Peek(
        [&](const RingRecord& r) {
          // Any other type, negative ones included, is the consumer's to
          // refuse (the sidecar dead-letters it, the engine counts it).
          HOKM_FUZZ_CHECK(r.type != hokm::shm::ring_detail::kPaddingType,
                          "padding is never handed out");
          HOKM_FUZZ_CHECK(r.position >= expected, "records come in order");
          HOKM_FUZZ_CHECK(r.next_position > r.position && r.next_position - r.position <= kCapacity,
                          "a record is shorter than the ring");
          HOKM_FUZZ_CHECK(r.next_position <= reader.committed_position() + kCapacity,
                          "never more than a ring ahead of the committed head");
          HOKM_FUZZ_CHECK(r.payload.data() >= data_begin + Ring::kHeaderLength &&
                              r.payload.data() + r.payload.size() <= data_end,
                          "a record never extends past the data region");
          HOKM_FUZZ_CHECK(
              static_cast<std::uint64_t>(r.payload.data() - data_begin) - Ring::kHeaderLength ==
                  (r.position & (kCapacity - 1)),
              "the payload follows its header");
          HOKM_FUZZ_CHECK(r.payload.size() + Ring::kHeaderLength <= r.next_position - r.position,
                          "the payload fits its record");
          HOKM_FUZZ_CHECK(r.next_position <= corrupt_at, "nothing is read past a corrupt header");
          expected = r.next_position;
          boundaries.push_back(r.next_position);
        },
        max_records);
    HOKM_FUZZ_CHECK(got <= max_records, "Peek honours max_records");
    // Where Peek stopped when it first found the ring corrupt (before any
    // Rewind below moves the read position back).
    if (reader.corrupted() && corrupt_at == kNotCorrupt) corrupt_at = reader.read_position();
    switch ((op >> 3) % 4) {
      case 0:
        break;
      case 1:
        reader.Commit();
        boundaries.clear();
        break;
      case 2:
        if (!boundaries.empty()) {
          const std::uint64_t to = boundaries[(op >> 5) % boundaries.size()];
          reader.CommitTo(to);
          HOKM_FUZZ_CHECK(reader.committed_position() >= to, "CommitTo commits");
          HOKM_FUZZ_CHECK(ring.HeadPosition() == reader.committed_position(),
                          "the head is the committed position");
          std::erase_if(boundaries, [&](std::uint64_t b) { return b <= to; });
        }
        break;
      case 3:
        reader.Rewind();
        boundaries.clear();
        HOKM_FUZZ_CHECK(reader.read_position() == reader.committed_position(), "Rewind rewinds");
        break;
    }
  }
  return 0;
}
