// change.h: change records as the rules core emits them, before encoding.
// The engine encodes each into a FlatBuffers ChangeRecord (schemas/hokm.fbs).
#pragma once

#include <cstdint>

#include "core/rules/card.h"
#include "core/rules/game_state.h"

namespace hokm::core {

// Values equal the FlatBuffers union tags of hokm.fb.Body.
enum class RecordType : std::uint8_t {
  kGameCreated = 1,
  kPlayerJoined = 2,
  kPlayerLeft = 3,
  kHakemChosen = 4,
  kTrumpChosen = 5,
  kCardsDealt = 6,
  kCardPlayed = 7,
  kTrickWon = 8,
  kHandScored = 9,
  kGameFinished = 10,
  kGameAbandoned = 11,
  kPlayerConnection = 12,
};
inline constexpr int kRecordTypeCount = 12;

// "GameCreated", "CardPlayed", ...
const char* RecordTypeName(RecordType t);

// One change. Which fields are meaningful depends on type:
//   GameCreated      room, seed, config, turn_timeout_ms
//   PlayerJoined     seat, player_id          PlayerLeft  seat, player_id
//   HakemChosen      seat, hand_no            TrumpChosen seat, suit, on_timeout
//   CardsDealt       seat, cards              CardPlayed  seat, card, on_timeout
//   TrickWon         seat (winner), trick_no, tricks
//   HandScored       hand_no, seat (hakem), suit (trump), winner_team,
//                    points_awarded, points, kot
//   GameFinished     winner_team, points      GameAbandoned hand_no, points
//   PlayerConnection seat, player_id, connected
// The rules and DecodeRecord zero every field a type does not use (config
// included), except card = kNoCard and suit = kNone.
struct Change {
  RecordType type;
  std::uint8_t seat;
  Card card;
  Suit suit;
  std::uint8_t trick_no;
  std::uint8_t winner_team;
  std::uint8_t points_awarded;
  bool kot;
  bool connected;
  // The engine made this move for a seat whose turn deadline passed; the
  // rules never set it (core/engine.h, "Turn deadlines").
  bool on_timeout;
  std::uint8_t tricks[2];
  std::uint8_t points[2];
  std::uint16_t hand_no;
  std::uint32_t game_seq;
  std::uint64_t game_id;
  std::uint64_t player_id;
  std::uint64_t seed;
  std::uint32_t turn_timeout_ms;
  CardMask cards;
  RulesConfig config;
  char room[kRoomCodeLen];
};
static_assert(std::is_trivially_copyable_v<Change>);

// The most records one command yields: the last card of a hand gives
// CardPlayed, TrickWon, HandScored, HakemChosen, CardsDealt; trump gives
// TrumpChosen + 4 CardsDealt.
inline constexpr int kMaxChangesPerCommand = 8;

// Fixed-capacity output of one command; never allocates.
struct ChangeBuffer {
  Change items[kMaxChangesPerCommand];
  int count = 0;

  void Clear() { count = 0; }
  const Change* begin() const { return items; }
  const Change* end() const { return items + count; }
};

}  // namespace hokm::core
