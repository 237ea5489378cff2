// game_state.h: one game's complete state: fixed-size, trivially copyable and
// pointer-free, so it lives in a shared-memory slot as is (docs/DESIGN.md §1, §2).
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/rules/card.h"

namespace hokm::core {

enum class Phase : std::uint8_t {
  kEmpty = 0,          // no game: a fresh or freed slot
  kWaitingForPlayers,  // created, seats filling
  kChoosingTrump,      // hakem holds 5 cards and must name trump
  kPlaying,            // tricks in progress
  kFinished,           // a team reached the target
  kAbandoned,
};

enum class FirstHakem : std::uint8_t {
  kFirstAce = 0,      // cards dealt face up; the first seat to receive an ace
  kSeededRandom = 1,  // drawn from the game's seed
};

// The largest target and kot points: keeps points[] + an award inside a byte.
inline constexpr int kMaxConfigPoints = 127;

// The rule variants (docs/DESIGN.md §10).
struct RulesConfig {
  bool play_all_tricks = false;  // false: a hand ends when a team has 7 tricks
  std::uint8_t kot_points_hakem_team = 2;
  std::uint8_t kot_points_opponents = 3;
  std::uint8_t target_points = 7;
  FirstHakem first_hakem = FirstHakem::kFirstAce;
};
static_assert(std::is_trivially_copyable_v<RulesConfig>);

// A game's turn deadline (GameState::turn_timeout_ms) is not a rule of
// play but the game's clock: how long a seat may take to act before the
// engine plays for it (core/engine.h, "Turn deadlines"); 0 = none. It sits
// beside RulesConfig, not in it, so that a Command still fits the command
// ring's 48 bytes. The longest a game may have: a day.
inline constexpr std::uint32_t kMaxTurnTimeoutMs = 86'400'000;
// A create command's turn_timeout_ms that means "no deadline" even when the
// engine has a default (0 asks for the default); the engine stores it as 0.
inline constexpr std::uint32_t kNoTurnTimeout = 0xFFFF'FFFF;

inline constexpr int kRoomCodeLen = 8;  // not NUL-terminated when all 8 are used

struct GameState {
  std::uint64_t game_id;
  std::uint64_t seed;
  std::uint64_t rng;                 // shuffle generator state, advanced per hand
  std::uint64_t player_ids[kSeats];  // 0: seat empty
  CardMask hands[kSeats];            // cards held now
  CardMask pending[kSeats];          // dealt after trump is named
  std::uint32_t seq;                 // last game_seq issued
  std::uint32_t turn_timeout_ms;     // 0: no turn deadline
  std::uint16_t hand_no;             // 1-based; 0 before the first deal
  RulesConfig config;
  char room[kRoomCodeLen];
  Phase phase;
  std::uint8_t hakem;
  std::uint8_t turn;    // seat to act
  std::uint8_t leader;  // seat that led the current trick
  Suit trump;
  std::uint8_t trick_no;     // tricks completed in this hand
  std::uint8_t trick_size;   // cards on the table
  Card trick[kSeats];        // by seat; kNoCard when that seat has not played
  std::uint8_t tricks[2];    // tricks per team in this hand
  std::uint8_t points[2];    // game points per team
  std::uint8_t winner_team;  // valid in kFinished
};
static_assert(std::is_trivially_copyable_v<GameState>);
static_assert(std::is_standard_layout_v<GameState>);
static_assert(sizeof(GameState) <= 192, "GameState must leave room for slot metadata in 256 bytes");

}  // namespace hokm::core
