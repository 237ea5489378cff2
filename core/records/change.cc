// change.cc: stable names of the change record types (equal to the
// FlatBuffers union member names of hokm.fb.Body).
#include "core/records/change.h"

namespace hokm::core {

const char* RecordTypeName(RecordType t) {
  switch (t) {
    case RecordType::kGameCreated:
      return "GameCreated";
    case RecordType::kPlayerJoined:
      return "PlayerJoined";
    case RecordType::kPlayerLeft:
      return "PlayerLeft";
    case RecordType::kHakemChosen:
      return "HakemChosen";
    case RecordType::kTrumpChosen:
      return "TrumpChosen";
    case RecordType::kCardsDealt:
      return "CardsDealt";
    case RecordType::kCardPlayed:
      return "CardPlayed";
    case RecordType::kTrickWon:
      return "TrickWon";
    case RecordType::kHandScored:
      return "HandScored";
    case RecordType::kGameFinished:
      return "GameFinished";
    case RecordType::kGameAbandoned:
      return "GameAbandoned";
    case RecordType::kPlayerConnection:
      return "PlayerConnection";
  }
  return "Unknown";
}

}  // namespace hokm::core
