// record_codec.h: core::Change <-> FlatBuffers ChangeRecord (schemas/hokm.fbs),
// the bytes that travel on the change ring and into the sinks (docs/DESIGN.md §4).
//
// Wire format: one finished FlatBuffer with file identifier "HOKM", root
// hokm.fb.ChangeRecord {game_id, game_seq, ts_ns, body}; the body's union
// tag equals core::RecordType. CardsDealt.cards holds the card bytes in
// ascending order. Scalars equal to their schema default are omitted, as
// FlatBuffers does by default.
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>

#include "core/records/change.h"

namespace hokm::core {

// Builds c as one ChangeRecord in fbb, which is Clear()ed first; the bytes are
// then fbb.GetBufferPointer() / fbb.GetSize(), valid until fbb's next use.
// Reusing one builder, this does not allocate once its buffer has grown to
// the largest record (about 100 bytes). REQUIRES: c is a valid record as the
// rules emit it (seats, cards and suits in range).
void EncodeRecord(const Change& c, std::uint64_t ts_ns, flatbuffers::FlatBufferBuilder& fbb);

// Why a byte string is not a valid ChangeRecord.
enum class DecodeError : std::uint8_t {
  kOk = 0,
  kVerifyFailed,     // not a well-formed "HOKM" FlatBuffer (Verifier said no)
  kUnknownBody,      // union tag outside the known RecordTypes
  kMissingBody,      // tag NONE, or a tag without its table
  kMissingField,     // a struct or vector the record type needs is absent
  kSeatOutOfRange,   // seat or hakem > 3
  kCardOutOfRange,   // card > 51
  kDuplicateCard,    // a card twice in CardsDealt
  kSuitOutOfRange,   // suit or trump > 3
  kValueOutOfRange,  // team > 1, first_hakem unknown, room longer than 8
};

// "ok", "verify_failed", ...: stable names for logs, metrics and dead letters.
const char* DecodeErrorName(DecodeError e);

// Verifies data[0, size) and, if it is a valid ChangeRecord, fills *out (and
// *ts_ns when given). On error *out is left unspecified. Never crashes on any
// input. Ring records are 8-byte aligned; misaligned input is first copied
// to an aligned buffer, since FlatBuffers reads scalars in place.
[[nodiscard]] DecodeError DecodeRecord(const void* data, std::size_t size, Change* out,
                                       std::uint64_t* ts_ns = nullptr);

}  // namespace hokm::core
