// command.h: the commands a player or frontend sends, and their typed results.
// A Command is trivially copyable so it crosses the command ring as bytes.
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/card.h"
#include "core/game_state.h"

namespace hokm::core {

// Every result a command can have. The rules return kOk or one of the rule
// errors and leave the state untouched on error; the engine adds the rest.
enum class CommandResult : std::uint8_t {
  kOk = 0,
  // rules
  kWrongPhase,
  kNotYourTurn,
  kCardNotInHand,
  kMustFollowSuit,
  kSeatTaken,
  kSeatEmpty,
  kNotHakem,
  kInvalidCard,
  kInvalidSuit,
  kInvalidSeat,
  kInvalidPlayer,   // player id 0
  kAlreadySeated,   // the player holds another seat of this game
  kInvalidConfig,
  kGameOver,
  // engine
  kBusy,          // change ring full: nothing applied; retry
  kNoSuchGame,    // unknown or stale game id
  kTableFull,     // no free game slot
  kInvalidCommand,
};
inline constexpr int kCommandResultCount = static_cast<int>(CommandResult::kInvalidCommand) + 1;

// "ok", "wrong_phase", "not_your_turn", ...: stable names for logs and JSON.
const char* CommandResultName(CommandResult r);

enum class CommandType : std::uint8_t {
  kCreateGame = 1,
  kJoin,
  kLeave,
  kChooseTrump,
  kPlayCard,
  kAbandon,
  kSetConnected,
};

struct Command {
  CommandType type;
  std::uint8_t seat;
  Card card;          // kPlayCard
  Suit suit;          // kChooseTrump
  bool connected;     // kSetConnected
  std::uint64_t game_id;    // all but kCreateGame
  std::uint64_t player_id;  // kJoin
  std::uint64_t seed;       // kCreateGame
  RulesConfig config;       // kCreateGame
  char room[kRoomCodeLen];  // kCreateGame
};
static_assert(std::is_trivially_copyable_v<Command>);

}  // namespace hokm::core
