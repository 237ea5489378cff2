// command.cc: stable snake_case names of command results, for logs, metrics
// labels and JSON; never rename one, only add.
#include "core/rules/command.h"

namespace hokm::core {

const char* CommandResultName(CommandResult r) {
  switch (r) {
    case CommandResult::kOk:
      return "ok";
    case CommandResult::kWrongPhase:
      return "wrong_phase";
    case CommandResult::kNotYourTurn:
      return "not_your_turn";
    case CommandResult::kCardNotInHand:
      return "card_not_in_hand";
    case CommandResult::kMustFollowSuit:
      return "must_follow_suit";
    case CommandResult::kSeatTaken:
      return "seat_taken";
    case CommandResult::kSeatEmpty:
      return "seat_empty";
    case CommandResult::kNotHakem:
      return "not_hakem";
    case CommandResult::kInvalidCard:
      return "invalid_card";
    case CommandResult::kInvalidSuit:
      return "invalid_suit";
    case CommandResult::kInvalidSeat:
      return "invalid_seat";
    case CommandResult::kInvalidPlayer:
      return "invalid_player";
    case CommandResult::kAlreadySeated:
      return "already_seated";
    case CommandResult::kInvalidConfig:
      return "invalid_config";
    case CommandResult::kGameOver:
      return "game_over";
    case CommandResult::kBusy:
      return "busy";
    case CommandResult::kNoSuchGame:
      return "no_such_game";
    case CommandResult::kTableFull:
      return "table_full";
    case CommandResult::kInvalidCommand:
      return "invalid_command";
  }
  return "unknown";
}

}  // namespace hokm::core
