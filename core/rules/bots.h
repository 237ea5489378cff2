// bots.h: computer players for load generation and tests.
#pragma once

#include <cstdint>

#include "core/rules/command.h"
#include "core/rules/game_state.h"

namespace hokm::core {

// A bot decides the next command for the seat that must act.
// REQUIRES: SeatToAct(s) >= 0. The returned command is always legal.

// Uniformly random among legal moves (cards; as hakem, the four suits);
// deterministic from its seed.
class RandomBot {
 public:
  explicit RandomBot(std::uint64_t seed) : rng_(seed) {}
  Command NextCommand(const GameState& s);

 private:
  std::uint64_t rng_;
};

// Plays to take each trick as cheaply as it can, with no memory of the game:
//   following: the lowest card of the led suit that beats the table (a trump
//     on the table cannot be beaten by the led suit);
//   void in the led suit: the lowest trump that beats the table;
//   nothing wins: discards its lowest card (lowest rank, ties in suit order
//     C D H S), from the led suit when it must follow;
//   leading: its highest card (most likely to hold the trick), a side-suit
//     card rather than a trump of the same rank;
//   hakem: names the suit with most cards among its first five, ties by the
//     higher rank sum, then suit order.
// Stateless: one GreedyBot may play every seat of every game.
class GreedyBot {
 public:
  Command NextCommand(const GameState& s);
};

// The move the engine makes for a seat whose turn deadline passed
// (core/engine.h): its lowest legal card (lowest rank, ties in suit order
// C D H S: GreedyBot's discard), or as hakem GreedyBot's suit. Predictable
// and cheap, so a player who lets the clock run gains nothing by it.
// REQUIRES: SeatToAct(s) >= 0. The returned command is always legal.
Command TimeoutCommand(const GameState& s);

enum class BotKind : std::uint8_t { kRandom, kGreedy };

}  // namespace hokm::core
