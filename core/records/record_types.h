// record_types.h: the one place that lists the change record types: a
// table of {RecordType, fb::Body, name}, VisitRecord (dispatch on a
// record's body to a visitor), and VisitFields (each type's fields, in
// schema order, each with what it holds). The codec, both JSON forms,
// CheckRecord, the public state, and the Redis and PostgreSQL planners are
// built on these.
//
// Adding a record type:
//   1. schemas/hokm.fbs: append the table and its member at the END of the
//      Body union (the tag values are stored: in ring headers, PostgreSQL).
//   2. core/records/change.h: RecordType kX with the same tag value (and
//      the Change fields it needs).
//   3. Here: a row of kRecordTypes, a case of VisitRecord and a VisitFields
//      overload (what the JSON forms and CheckRecord see; the build fails
//      until it exists).
//   4. core/records/record_codec.cc: its Encode and Decode.
//   5. Where it has meaning, and only there: PublicState::Apply
//      (core/records/public_state.cc), the Redis planner
//      (sidecar/redis/redis_plan.cc), the PostgreSQL derived rows
//      (sidecar/pg/pg_derived.cc).
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <iterator>

#include "core/records/change.h"
#include "hokm_generated.h"

namespace hokm::core {

struct RecordTypeInfo {
  RecordType type;
  hokm::fb::Body body;  // the union tag: equals type
  const char* name;     // stable: JSON "type", logs, metrics
  // The first record of a command of its own (a join, a card play, a
  // connection change, ...): replaying it through the rules regenerates
  // the records it caused (core/records/replay.h).
  bool command;
};

inline constexpr RecordTypeInfo kRecordTypes[] = {
    {RecordType::kGameCreated, hokm::fb::Body::GameCreated, "GameCreated", true},
    {RecordType::kPlayerJoined, hokm::fb::Body::PlayerJoined, "PlayerJoined", true},
    {RecordType::kPlayerLeft, hokm::fb::Body::PlayerLeft, "PlayerLeft", true},
    {RecordType::kHakemChosen, hokm::fb::Body::HakemChosen, "HakemChosen", false},
    {RecordType::kTrumpChosen, hokm::fb::Body::TrumpChosen, "TrumpChosen", true},
    {RecordType::kCardsDealt, hokm::fb::Body::CardsDealt, "CardsDealt", false},
    {RecordType::kCardPlayed, hokm::fb::Body::CardPlayed, "CardPlayed", true},
    {RecordType::kTrickWon, hokm::fb::Body::TrickWon, "TrickWon", false},
    {RecordType::kHandScored, hokm::fb::Body::HandScored, "HandScored", false},
    {RecordType::kGameFinished, hokm::fb::Body::GameFinished, "GameFinished", false},
    {RecordType::kGameAbandoned, hokm::fb::Body::GameAbandoned, "GameAbandoned", true},
    {RecordType::kPlayerConnection, hokm::fb::Body::PlayerConnection, "PlayerConnection", true},
};

static_assert(std::size(kRecordTypes) == kRecordTypeCount);
static_assert(static_cast<int>(hokm::fb::Body::MAX) == kRecordTypeCount,
              "a Body in schemas/hokm.fbs without a row here");
constexpr bool RecordTableInTagOrder() {
  for (std::size_t i = 0; i < std::size(kRecordTypes); ++i) {
    const RecordTypeInfo& t = kRecordTypes[i];
    if (static_cast<std::size_t>(t.type) != i + 1) return false;
    if (static_cast<int>(t.body) != static_cast<int>(t.type)) return false;
  }
  return true;
}
static_assert(RecordTableInTagOrder(), "kRecordTypes: row i holds tag i + 1");

// The row of a known type; nullptr for NONE and tags this build does not know.
constexpr const RecordTypeInfo* FindRecordType(hokm::fb::Body body) {
  const auto tag = static_cast<std::size_t>(body);
  return tag >= 1 && tag <= std::size(kRecordTypes) ? &kRecordTypes[tag - 1] : nullptr;
}
constexpr const RecordTypeInfo* FindRecordType(RecordType type) {
  return FindRecordType(static_cast<hokm::fb::Body>(type));
}

// The tag as a number (the PostgreSQL `type` column, SQL text).
constexpr int RecordTag(RecordType type) { return static_cast<int>(type); }

// Overloaded{f, g, ...}: one visitor out of several lambdas.
template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

namespace records_detail {
template <typename T, typename V>
bool Call(const T* body, V& visit) {
  if (body == nullptr) return false;
  visit(*body);
  return true;
}
}  // namespace records_detail

// Calls visit(const fb::X& body) with the record's body table, X its type.
// Returns false, without calling visit, when the record has no body (NONE),
// a tag this build does not know, or the tag without its table. A visitor
// that cares about a few types gives those overloads and a catch-all
// `[](const auto&) {}`.
template <typename Visitor>
bool VisitRecord(const hokm::fb::ChangeRecord& r, Visitor&& visit) {
  namespace fb = ::hokm::fb;
  using records_detail::Call;
  switch (r.body_type()) {
    case fb::Body::GameCreated:
      return Call(r.body_as_GameCreated(), visit);
    case fb::Body::PlayerJoined:
      return Call(r.body_as_PlayerJoined(), visit);
    case fb::Body::PlayerLeft:
      return Call(r.body_as_PlayerLeft(), visit);
    case fb::Body::HakemChosen:
      return Call(r.body_as_HakemChosen(), visit);
    case fb::Body::TrumpChosen:
      return Call(r.body_as_TrumpChosen(), visit);
    case fb::Body::CardsDealt:
      return Call(r.body_as_CardsDealt(), visit);
    case fb::Body::CardPlayed:
      return Call(r.body_as_CardPlayed(), visit);
    case fb::Body::TrickWon:
      return Call(r.body_as_TrickWon(), visit);
    case fb::Body::HandScored:
      return Call(r.body_as_HandScored(), visit);
    case fb::Body::GameFinished:
      return Call(r.body_as_GameFinished(), visit);
    case fb::Body::GameAbandoned:
      return Call(r.body_as_GameAbandoned(), visit);
    case fb::Body::PlayerConnection:
      return Call(r.body_as_PlayerConnection(), visit);
    case fb::Body::NONE:
      return false;
  }
  return false;
}

// Each type's fields in schema order, named as in schemas/hokm.fbs, passed
// to a field writer w by what they hold:
//   w.Uint(name, v)        a count or number (seed, hand_no, trick_no, ...)
//   w.Bool(name, v)
//   w.Seat(name, v)        0..3 (seat, hakem)
//   w.Player(name, v)      a player id (PostgreSQL bigint)
//   w.Team(name, v)        0..1
//   w.Suit(name, v)        0..3 (suit, trump)
//   w.Card(name, v)        0..51
//   w.Cards(name, cards)   card bytes, in the record's order; may be null
//   w.Score(name, score)   a TeamScore; may be null (then 0, 0)
//   w.Room(name, room)     a string; may be null (then "")
//   w.FirstHakem(name, v)  0 = first ace, 1 = seeded random
// Fields added after the first release (turn_timeout_ms, on_timeout) are
// visited only when set, so that every record without them renders, is
// stored and compares exactly as before; readers take them as 0 / false
// when absent.
template <typename W>
void VisitFields(const hokm::fb::GameCreated& b, W& w) {
  w.Room("room", b.room());
  w.Uint("seed", b.seed());
  w.Bool("play_all_tricks", b.play_all_tricks());
  w.Uint("kot_points_hakem_team", b.kot_points_hakem_team());
  w.Uint("kot_points_opponents", b.kot_points_opponents());
  w.Uint("target_points", b.target_points());
  w.FirstHakem("first_hakem", b.first_hakem());
  if (b.turn_timeout_ms() != 0) w.Uint("turn_timeout_ms", b.turn_timeout_ms());
}
namespace records_detail {
template <typename SeatAndPlayer, typename W>
void SeatAndPlayerFields(const SeatAndPlayer& b, W& w) {
  w.Seat("seat", b.seat());
  w.Player("player_id", b.player_id());
}
}  // namespace records_detail
template <typename W>
void VisitFields(const hokm::fb::PlayerJoined& b, W& w) {
  records_detail::SeatAndPlayerFields(b, w);
}
template <typename W>
void VisitFields(const hokm::fb::PlayerLeft& b, W& w) {
  records_detail::SeatAndPlayerFields(b, w);
}
template <typename W>
void VisitFields(const hokm::fb::HakemChosen& b, W& w) {
  w.Seat("seat", b.seat());
  w.Uint("hand_no", b.hand_no());
}
template <typename W>
void VisitFields(const hokm::fb::TrumpChosen& b, W& w) {
  w.Seat("seat", b.seat());
  w.Suit("suit", b.suit());
  if (b.on_timeout()) w.Bool("on_timeout", true);
}
template <typename W>
void VisitFields(const hokm::fb::CardsDealt& b, W& w) {
  w.Seat("seat", b.seat());
  w.Cards("cards", b.cards());
}
template <typename W>
void VisitFields(const hokm::fb::CardPlayed& b, W& w) {
  w.Seat("seat", b.seat());
  w.Card("card", b.card());
  if (b.on_timeout()) w.Bool("on_timeout", true);
}
template <typename W>
void VisitFields(const hokm::fb::TrickWon& b, W& w) {
  w.Seat("seat", b.seat());
  w.Uint("trick_no", b.trick_no());
  w.Score("tricks", b.tricks());
}
template <typename W>
void VisitFields(const hokm::fb::HandScored& b, W& w) {
  w.Uint("hand_no", b.hand_no());
  w.Seat("hakem", b.hakem());
  w.Suit("trump", b.trump());
  w.Team("winner_team", b.winner_team());
  w.Uint("points_awarded", b.points_awarded());
  w.Score("points", b.points());
  w.Bool("kot", b.kot());
}
template <typename W>
void VisitFields(const hokm::fb::GameFinished& b, W& w) {
  w.Team("winner_team", b.winner_team());
  w.Score("points", b.points());
}
template <typename W>
void VisitFields(const hokm::fb::GameAbandoned& b, W& w) {
  w.Uint("hand_no", b.hand_no());
  w.Score("points", b.points());
}
template <typename W>
void VisitFields(const hokm::fb::PlayerConnection& b, W& w) {
  w.Seat("seat", b.seat());
  w.Player("player_id", b.player_id());
  w.Bool("connected", b.connected());
}

// VisitFields of the record's body; false as VisitRecord.
template <typename W>
bool VisitRecordFields(const hokm::fb::ChangeRecord& r, W& w) {
  return VisitRecord(r, [&](const auto& body) { VisitFields(body, w); });
}

// The name of a record type: kRecordTypes' ("Unknown" outside it).
inline const char* RecordTypeName(hokm::fb::Body body) {
  const RecordTypeInfo* t = FindRecordType(body);
  return t != nullptr ? t->name : "Unknown";
}

}  // namespace hokm::core
