// command.h: the commands a player or frontend sends, and their typed results.
// A Command is trivially copyable so it crosses the command ring as bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/rules/card.h"
#include "core/rules/game_state.h"

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
  kInvalidPlayer,  // player id 0 or above kMaxPlayerId
  kAlreadySeated,  // the player holds another seat of this game
  kInvalidConfig,
  kGameOver,
  // engine
  kBusy,        // change ring full: nothing applied; retry
  kNoSuchGame,  // unknown or stale game id
  kTableFull,   // no free game slot
  kInvalidCommand,
};
inline constexpr int kCommandResultCount = static_cast<int>(CommandResult::kInvalidCommand) + 1;

// "ok", "wrong_phase", "not_your_turn", ...: stable names for logs and JSON.
const char* CommandResultName(CommandResult r);

// The largest player id: the stores keep ids as PostgreSQL bigint.
inline constexpr std::uint64_t kMaxPlayerId = 0x7FFF'FFFF'FFFF'FFFFull;

enum class CommandType : std::uint8_t {
  kCreateGame = 1,
  kJoin,
  kLeave,
  kChooseTrump,
  kPlayCard,
  kAbandon,
  kSetConnected,
};

// The words first, the bytes after: no padding inside, so the command fits
// the command ring's 48 bytes (shm::kCommandBytes).
struct Command {
  std::uint64_t game_id;          // all but kCreateGame
  std::uint64_t player_id;        // kJoin
  std::uint64_t seed;             // kCreateGame
  std::uint32_t turn_timeout_ms;  // kCreateGame: 0 = the engine's default, kNoTurnTimeout = none
  CommandType type;
  std::uint8_t seat;
  Card card;                // kPlayCard
  Suit suit;                // kChooseTrump
  bool connected;           // kSetConnected
  RulesConfig config;       // kCreateGame
  char room[kRoomCodeLen];  // kCreateGame
};
static_assert(std::is_trivially_copyable_v<Command>);
static_assert(sizeof(Command) == 48);

// True if each bool of cmd holds 0 or 1. A Command copied out of the command
// ring holds whatever bytes its sender wrote, and reading a bool that holds
// any other value is undefined behaviour: check this before reading a field.
// Reads the bytes, never the bools.
inline bool BoolsAreValid(const Command& cmd) {
  unsigned char connected;
  unsigned char play_all_tricks;
  std::memcpy(&connected, &cmd.connected, 1);
  std::memcpy(&play_all_tricks, &cmd.config.play_all_tricks, 1);
  return connected <= 1 && play_all_tricks <= 1;
}

}  // namespace hokm::core
