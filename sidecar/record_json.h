// record_json.h: a change record's fields as compact JSON: the body stored
// in PostgreSQL (in game_commands.body, jsonb; a command's card play keeps
// seat and card in columns instead) and the public event written to the
// game's Redis stream (hokm:g:{ID}, sidecar/redis_sink.h).
//
// Field names are those of schemas/hokm.fbs; TeamScore structs become
// {"a":n,"b":n}; cards are numbers (suit * 13 + rank); 64-bit ids are JSON
// numbers (exact in jsonb; JavaScript readers lose precision above 2^53).
//
//   body   {"seat":1,"card":23}
//   event  {"seq":12,"type":"CardPlayed","seat":1,"card":23}
//   public {"seq":3,"type":"CardsDealt","seat":0,"count":5}  (no cards: hands stay private)
#pragma once

#include <string>

#include "hokm_generated.h"

namespace hokm::sidecar {

// "CardPlayed", ...; "NONE" or "" for bodies this build does not know.
const char* RecordTypeName(hokm::fb::Body type);

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

// Appends v in decimal (a JSON number, a RESP length, a COPY field).
void AppendUint(std::uint64_t v, std::string& out);

// Appends s as a JSON string literal (quotes included); control characters
// become \u00XX, bytes >= 0x80 are copied (the caller passes UTF-8).
void AppendJsonString(std::string_view s, std::string& out);

}  // namespace hokm::sidecar
