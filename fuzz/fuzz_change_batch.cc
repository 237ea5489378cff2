// fuzz_change_batch.cc: one change-ring record (type + payload) through the
// sidecar's splitting into change records (ForEachChangeRecord, the code
// behind Sidecar's reader), then each record through CheckRecord.
//
// Invariants: at least one RecordRef per ring record; every ref lies inside
// the payload and carries the ring position; frames come out in order
// without overlap; a malformed batch is one unverified ref over the whole
// payload.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "core/records/change_batch.h"
#include "fuzz/fuzz_check.h"
#include "sidecar/record_batch.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1 || size > (1u << 20)) return -1;
  // First byte: the ring record type (mostly the change-batch type).
  const std::int32_t type = data[0] < 0xF0 ? hokm::core::kChangeBatchType : data[0] - 0xF0;
  ++data;
  --size;
  // Ring payloads start 8-byte aligned, right after the 8-byte header.
  std::vector<std::uint64_t> aligned((size + 7) / 8 + 1);
  auto* payload = reinterpret_cast<std::byte*>(aligned.data());
  if (size != 0) std::memcpy(payload, data, size);
  const std::span<const std::byte> span(payload, size);
  const auto* begin = reinterpret_cast<const std::uint8_t*>(payload);
  constexpr std::uint64_t kNext = 4096;

  std::vector<hokm::sidecar::RecordRef> refs;
  const std::size_t n = hokm::sidecar::ForEachChangeRecord(
      type, span, kNext, [&](const hokm::sidecar::RecordRef& ref) { refs.push_back(ref); });
  HOKM_FUZZ_CHECK(n == refs.size() && n >= 1, "one or more refs, as counted");
  const std::uint8_t* previous_end = begin;
  for (const auto& ref : refs) {
    HOKM_FUZZ_CHECK(ref.position == kNext, "every ref carries the ring position");
    HOKM_FUZZ_CHECK(ref.bytes >= previous_end && ref.bytes + ref.size <= begin + size,
                    "refs lie inside the payload, in order, without overlap");
    previous_end = ref.bytes + ref.size;
    if (ref.record == nullptr) {
      (void)hokm::sidecar::CheckRecord(ref);
    } else {
      HOKM_FUZZ_CHECK(ref.size > 0, "a verified record has bytes");
      HOKM_FUZZ_CHECK(reinterpret_cast<const std::uint8_t*>(ref.record) >= ref.bytes &&
                          reinterpret_cast<const std::uint8_t*>(ref.record) < ref.bytes + ref.size,
                      "a verified record's root lies inside its frame");
      (void)hokm::sidecar::CheckRecord(*ref.record);
    }
  }
  const bool whole_payload = refs.size() == 1 && refs[0].record == nullptr &&
                             refs[0].bytes == begin && refs[0].size == size;
  if (type != hokm::core::kChangeBatchType || size == 0) {
    HOKM_FUZZ_CHECK(whole_payload, "not a batch: one dead letter over the whole payload");
  }
  if (!hokm::core::ForEachFrame(span, [](const std::byte*, std::size_t) {})) {
    HOKM_FUZZ_CHECK(whole_payload, "frames whose lengths lie: one dead letter, nothing else");
  }
  return 0;
}
