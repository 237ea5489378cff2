// core_test_util.h: helpers shared by the core suites: games set up through
// the rules, states crafted directly, and byte-exact snapshots.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <initializer_list>
#include <string_view>

#include "core/records/change.h"
#include "core/rules/card.h"
#include "core/rules/game_state.h"
#include "core/rules/rules.h"

namespace hokm::core::testing {

// "TS" -> card. REQUIRES: a valid name.
constexpr Card C(std::string_view name) {
  constexpr std::string_view kRanks = "23456789TJQKA";
  constexpr std::string_view kSuits = "CDHS";
  return MakeCard(static_cast<Suit>(kSuits.find(name[1])), static_cast<int>(kRanks.find(name[0])));
}

inline CardMask Cards(std::initializer_list<std::string_view> names) {
  CardMask m = 0;
  for (const auto n : names) m |= Bit(C(n));
  return m;
}

// A game created with id 7 and players 101..104 in seats 0..3: phase
// kChoosingTrump after the fourth join.
inline GameState SeatedGame(std::uint64_t seed, const RulesConfig& config = {}) {
  GameState s{};
  ChangeBuffer out;
  EXPECT_EQ(CreateGame(s, 7, "room1", seed, config, out), CommandResult::kOk);
  for (int seat = 0; seat < kSeats; ++seat) {
    out.Clear();
    EXPECT_EQ(Join(s, seat, 101 + seat, out), CommandResult::kOk);
  }
  return s;
}

// A hand in play, crafted: seats filled, hakem, trump and hands as given,
// the leader to lead (no cards on the table), tricks and points as given.
inline GameState PlayingState(int hakem, Suit trump, const std::array<CardMask, 4>& hands,
                              int leader, std::array<std::uint8_t, 2> tricks = {0, 0},
                              std::array<std::uint8_t, 2> points = {0, 0},
                              const RulesConfig& config = {}) {
  GameState s{};
  s.game_id = 7;
  s.seed = 99;
  s.rng = 99;
  for (int seat = 0; seat < kSeats; ++seat) {
    s.player_ids[seat] = 101 + seat;
    s.hands[seat] = hands[seat];
  }
  s.seq = 40;
  s.hand_no = 3;
  s.config = config;
  std::memcpy(s.room, "room1", 5);
  s.phase = Phase::kPlaying;
  s.hakem = static_cast<std::uint8_t>(hakem);
  s.turn = s.leader = static_cast<std::uint8_t>(leader);
  s.trump = trump;
  s.trick_no = static_cast<std::uint8_t>(tricks[0] + tricks[1]);
  s.trick_size = 0;
  std::memset(s.trick, kNoCard, sizeof s.trick);
  s.tricks[0] = tricks[0];
  s.tricks[1] = tricks[1];
  s.points[0] = points[0];
  s.points[1] = points[1];
  return s;
}

// The object representation, for "untouched" checks that include padding.
struct StateBytes {
  unsigned char bytes[sizeof(GameState)];
  explicit StateBytes(const GameState& s) { std::memcpy(bytes, &s, sizeof s); }
  bool operator==(const StateBytes& o) const {
    return std::memcmp(bytes, o.bytes, sizeof bytes) == 0;
  }
};

inline bool SameChange(const Change& a, const Change& b) {
  return a.type == b.type && a.seat == b.seat && a.card == b.card && a.suit == b.suit &&
         a.trick_no == b.trick_no && a.winner_team == b.winner_team &&
         a.points_awarded == b.points_awarded && a.kot == b.kot && a.connected == b.connected &&
         a.tricks[0] == b.tricks[0] && a.tricks[1] == b.tricks[1] && a.points[0] == b.points[0] &&
         a.points[1] == b.points[1] && a.hand_no == b.hand_no && a.game_seq == b.game_seq &&
         a.game_id == b.game_id && a.player_id == b.player_id && a.seed == b.seed &&
         a.cards == b.cards && a.config.play_all_tricks == b.config.play_all_tricks &&
         a.config.kot_points_hakem_team == b.config.kot_points_hakem_team &&
         a.config.kot_points_opponents == b.config.kot_points_opponents &&
         a.config.target_points == b.config.target_points &&
         a.config.first_hakem == b.config.first_hakem && a.turn_timeout_ms == b.turn_timeout_ms &&
         a.on_timeout == b.on_timeout && std::memcmp(a.room, b.room, kRoomCodeLen) == 0;
}

}  // namespace hokm::core::testing
