// record_json.h: a change record's fields as compact JSON: the body stored
// in PostgreSQL (in game_commands.body, jsonb; a command's card play keeps
// seat and card in columns instead) and the public event written to the
// game's Redis stream (hokm:g:{ID}, sidecar/redis/redis_sink.h).
//
// Field names and order are those of schemas/hokm.fbs, as
// core::VisitFields (core/records/record_types.h) walks them; TeamScore
// structs become {"a":n,"b":n}; cards, suits and the first-hakem rule are
// numbers (cards suit * 13 + rank); 64-bit ids are JSON numbers (exact in
// jsonb; JavaScript readers lose precision above 2^53). The dump line of
// core/records/change_json.h is the same walk in a readable form.
//
//   body   {"seat":1,"card":23}
//   event  {"seq":12,"type":"CardPlayed","seat":1,"card":23}
//   public {"seq":3,"type":"CardsDealt","seat":0,"count":5}  (no cards: hands stay private)
#pragma once

#include <string>

#include "core/records/text.h"
#include "hokm_generated.h"

namespace hokm::sidecar {

// Appends the body's fields as a JSON object to out.
// REQUIRES: CheckRecord(record) == nullptr (the room is clean UTF-8).
void AppendBodyJson(const hokm::fb::ChangeRecord& record, std::string& out);

// Appends {"seq":..,"type":"..",<body fields>} to out.
// REQUIRES: CheckRecord(record) == nullptr.
void AppendEventJson(const hokm::fb::ChangeRecord& record, std::string& out);

// AppendEventJson, but a CardsDealt gives its number of cards, not the
// cards: what Redis readers may see (docs/DESIGN.md §5, readers' contract 5).
// REQUIRES: CheckRecord(record) == nullptr.
void AppendPublicEventJson(const hokm::fb::ChangeRecord& record, std::string& out);

using core::AppendJsonString;
using core::AppendUint;

}  // namespace hokm::sidecar
