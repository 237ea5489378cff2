// rules.h: the Hokm rules (docs/DESIGN.md §10) as pure functions over GameState.
//
// Every function validates first and, on any error, returns it with the
// state and the output untouched. On kOk it updates the state and appends
// the change records, in order, each stamped with the next game_seq.
// None of them allocates, throws or blocks. They append to out: Clear() it
// per command (one command yields at most kMaxChangesPerCommand records).
//
// Errors are checked in this order: kGameOver (finished or abandoned game),
// argument validation (kInvalidSeat, kInvalidCard, kInvalidSuit,
// kInvalidPlayer, kInvalidConfig), kWrongPhase, the seat (kSeatEmpty,
// kSeatTaken, kAlreadySeated), then the turn (kNotYourTurn, kNotHakem),
// kCardNotInHand, kMustFollowSuit.
#pragma once

#include <string_view>

#include "core/records/change.h"
#include "core/rules/command.h"
#include "core/rules/game_state.h"

namespace hokm::core {

// REQUIRES: s.phase == kEmpty (else kWrongPhase; kGameOver when s holds a
// finished or abandoned game: the engine frees a slot by zeroing it).
// room: at most 8 bytes of UTF-8 without NUL (else kInvalidConfig);
// turn_timeout_ms: at most kMaxTurnTimeoutMs (else kInvalidConfig), kept in
// the state and the GameCreated record; the rules never look at it.
[[nodiscard]] CommandResult CreateGame(GameState& s, std::uint64_t game_id, std::string_view room,
                                       std::uint64_t seed, const RulesConfig& config,
                                       ChangeBuffer& out, std::uint32_t turn_timeout_ms = 0);
[[nodiscard]] CommandResult Join(GameState& s, int seat, std::uint64_t player_id,
                                 ChangeBuffer& out);
[[nodiscard]] CommandResult Leave(GameState& s, int seat, ChangeBuffer& out);
[[nodiscard]] CommandResult ChooseTrump(GameState& s, int seat, Suit suit, ChangeBuffer& out);
[[nodiscard]] CommandResult PlayCard(GameState& s, int seat, Card card, ChangeBuffer& out);
[[nodiscard]] CommandResult Abandon(GameState& s, ChangeBuffer& out);
[[nodiscard]] CommandResult SetConnected(GameState& s, int seat, bool connected, ChangeBuffer& out);

// Dispatches a Command to the functions above (kCreateGame uses cmd.game_id
// as the new game's id).
[[nodiscard]] CommandResult Apply(GameState& s, const Command& cmd, ChangeBuffer& out);

// The cards seat may legally play now (0 when it is not seat's turn to play).
// Inline: bots call it once per card play.
inline CardMask LegalCards(const GameState& s, int seat) {
  if (s.phase != Phase::kPlaying || seat != s.turn) return 0;
  const CardMask hand = s.hands[seat];
  if (s.trick_size == 0) return hand;
  const CardMask follow = hand & SuitMask(SuitOf(s.trick[s.leader]));
  return follow ? follow : hand;
}

// The seat that must act next (trump or card), or -1 when nobody can.
inline int SeatToAct(const GameState& s) {
  if (s.phase == Phase::kPlaying) return s.turn;
  if (s.phase == Phase::kChoosingTrump) return s.hakem;
  return -1;
}

// The shuffle behind every deal: Fisher–Yates over cards 0..51 driven by the
// splitmix64 state rng (GameState::rng, which starts as the seed). The rules
// shuffle once to find the first-ace hakem (kFirstAce) and once per hand.
// Exposed so tests and tools can replay a game's deals from its seed.
void ShuffleDeck(std::uint64_t& rng, Card deck[kCardsInDeck]);

}  // namespace hokm::core
