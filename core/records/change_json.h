// change_json.h: one JSON object per change record, the line format of
// `hokm-loadgen --dump` and of debugging tools.
//
// Format: {"game_id": 7, "seq": 12, "type": "CardPlayed", "seat": 2, "card": "TS"}
// Keys in the order shown per type below, ", " between members, ": " after
// keys. Cards are rank + suit ("2C" ... "AS", ranks 2-9 T J Q K A, suits
// C D H S); suits "C" "D" "H" "S"; team pairs [team A, team B].
//   GameCreated      room, seed, play_all_tricks, kot_points_hakem_team,
//                    kot_points_opponents, target_points,
//                    first_hakem ("first_ace" | "seeded_random")
//   PlayerJoined     seat, player_id          PlayerLeft seat, player_id
//   HakemChosen      seat, hand_no            TrumpChosen seat, suit
//   CardsDealt       seat, cards [ascending]  CardPlayed seat, card
//   TrickWon         seat, trick_no, tricks [a, b]
//   HandScored       hand_no, hakem, trump, winner_team, points_awarded,
//                    points [a, b], kot
//   GameFinished     winner_team, points [a, b]
//   GameAbandoned    hand_no, points [a, b]
//   PlayerConnection seat, player_id, connected
#pragma once

#include <string>

#include "core/records/change.h"

namespace hokm::core {

// Appends c as one JSON object, without a newline.
void AppendChangeJson(const Change& c, std::string& out);

// c as one JSON object, without a newline.
std::string ChangeJson(const Change& c);

}  // namespace hokm::core
