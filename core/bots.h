// bots.h: computer players for load generation and tests.
#pragma once

#include <cstdint>

#include "core/command.h"
#include "core/game_state.h"

namespace hokm::core {

// A bot decides the next command for the seat that must act.
// REQUIRES: SeatToAct(s) >= 0. The returned command is always legal.

// Uniformly random among legal moves; deterministic from its seed.
class RandomBot {
 public:
  explicit RandomBot(std::uint64_t seed) : rng_(seed) {}
  Command NextCommand(const GameState& s);

 private:
  std::uint64_t rng_;
};

// Follows with the lowest card that wins the trick, trumps when void
// (lowest trump that wins), otherwise discards its lowest card; the hakem
// names the suit strongest among its first five cards.
class GreedyBot {
 public:
  Command NextCommand(const GameState& s);
};

enum class BotKind : std::uint8_t { kRandom, kGreedy };

}  // namespace hokm::core
