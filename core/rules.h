// rules.h: the Hokm rules (DESIGN §10) as pure functions over GameState.
//
// Every function validates first and, on any error, returns it with the
// state and the output untouched. On kOk it updates the state and appends
// the change records, in order, each stamped with the next game_seq.
// None of them allocates, throws or blocks.
#pragma once

#include <string_view>

#include "core/change.h"
#include "core/command.h"
#include "core/game_state.h"

namespace hokm::core {

// REQUIRES: s.phase == kEmpty (else kWrongPhase). room: at most 8 bytes.
[[nodiscard]] CommandResult CreateGame(GameState& s, std::uint64_t game_id, std::string_view room,
                                       std::uint64_t seed, const RulesConfig& config,
                                       ChangeBuffer& out);
[[nodiscard]] CommandResult Join(GameState& s, int seat, std::uint64_t player_id, ChangeBuffer& out);
[[nodiscard]] CommandResult Leave(GameState& s, int seat, ChangeBuffer& out);
[[nodiscard]] CommandResult ChooseTrump(GameState& s, int seat, Suit suit, ChangeBuffer& out);
[[nodiscard]] CommandResult PlayCard(GameState& s, int seat, Card card, ChangeBuffer& out);
[[nodiscard]] CommandResult Abandon(GameState& s, ChangeBuffer& out);
[[nodiscard]] CommandResult SetConnected(GameState& s, int seat, bool connected, ChangeBuffer& out);

// Dispatches a Command to the functions above (kCreateGame uses cmd.game_id
// as the new game's id).
[[nodiscard]] CommandResult Apply(GameState& s, const Command& cmd, ChangeBuffer& out);

// The cards seat may legally play now (0 when it is not seat's turn to play).
CardMask LegalCards(const GameState& s, int seat);

// The seat that must act next (trump or card), or -1 when nobody can.
int SeatToAct(const GameState& s);

}  // namespace hokm::core
