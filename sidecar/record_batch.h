// record_batch.h: the sinks' input: change records read from the change ring
// (or a spill file), each with the ring position just after it.
//
// The sinks take a std::span<const RecordRef>; the caller keeps the bytes
// alive until the call returns. Records of one game must appear in game_seq
// order (they do in ring order); records of different games may interleave.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/records/change_batch.h"
#include "hokm_generated.h"

namespace hokm::sidecar {

struct RecordRef {
  // The verified record (points into bytes), or nullptr when the bytes failed
  // FlatBuffers verification: the PostgreSQL sink then dead-letters the
  // bytes and the Redis sink skips them; both count it.
  const hokm::fb::ChangeRecord* record;
  const std::uint8_t* bytes;  // the record's FlatBuffers bytes
  std::uint32_t size;
  std::uint64_t position;  // ring position just after this record
};

// Verifies size bytes at bytes as a ChangeRecord (the "HOKM" file
// identifier is optional) and returns a RecordRef whose record is nullptr
// when verification fails.
// REQUIRES: bytes stays live while the RecordRef is in use.
RecordRef VerifyRecord(const std::uint8_t* bytes, std::uint32_t size, std::uint64_t position);

// Checks what FlatBuffers verification does not: a known body type with its
// table present, 0 < game_id <= INT64_MAX, game_seq >= 1, ts_ns <= INT64_MAX, seats 0..3, cards
// 0..51, suits 0..3, teams 0..1, player ids <= INT64_MAX (PostgreSQL
// bigint), a room of at most 8 bytes of UTF-8 without NUL. Returns nullptr
// when the record is fit for both stores, else a static string saying why not.
const char* CheckRecord(const hokm::fb::ChangeRecord& record);

// CheckRecord for a ref: "failed FlatBuffers verification" when record is null.
inline const char* CheckRecord(const RecordRef& ref) {
  return ref.record ? CheckRecord(*ref.record) : "failed FlatBuffers verification";
}

// Splits one change-ring record (its type, payload and the ring position
// after it) into change records: on_record(const RecordRef&) once per frame
// of a well-formed, non-empty change batch, in order. Anything else (another
// type, an empty payload, frames whose lengths lie) yields exactly one
// RecordRef with record == nullptr spanning the whole payload, for the dead
// letters; so does nothing of a half-valid batch. Returns the number of
// on_record calls (always >= 1).
// REQUIRES: payload stays live while the RecordRefs are in use.
template <typename F>
std::size_t ForEachChangeRecord(std::int32_t type, std::span<const std::byte> payload,
                                std::uint64_t next_position, F&& on_record) {
  std::size_t frames = 0;
  const bool well_formed =
      type == core::kChangeBatchType &&
      core::ForEachFrame(payload, [&](const std::byte*, std::size_t) { ++frames; }) && frames > 0;
  if (!well_formed) {
    on_record(RecordRef{nullptr, reinterpret_cast<const std::uint8_t*>(payload.data()),
                        static_cast<std::uint32_t>(payload.size()), next_position});
    return 1;
  }
  (void)core::ForEachFrame(payload, [&](const std::byte* data, std::size_t size) {
    on_record(VerifyRecord(reinterpret_cast<const std::uint8_t*>(data),
                           static_cast<std::uint32_t>(size), next_position));
  });
  return frames;
}

}  // namespace hokm::sidecar
