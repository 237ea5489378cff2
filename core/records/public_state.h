// public_state.h: a game's public state as Redis readers see it: what the
// last entry of the game's stream (hokm:g:{ID}, sidecar/redis/redis_sink.h)
// carries in its `state` field, and what a reconnecting player sees of the
// game (core/player_view.h). The one place that says which public fields
// each record type sets. In core so that the engine can render it too; the
// sidecar reads it back from JSON (sidecar/public_state.h).
//
// JSON (field order fixed; null = none):
//
//   {"seq":57,"phase":"playing","room":"r1","target":7,"seats":[11,12,13,14],
//    "hakem":0,"trump":2,"turn":1,"leader":0,"table":[null,23,null,null],
//    "trick_no":3,"tricks":[2,1],"hand":1,"points":[0,3],"winner":null,
//    "updated_ms":1764500000000}
//
// phase: waiting, choosing_trump, playing, finished, abandoned. seats: the
// player in each seat (0 = empty). table: the card each seat has on the
// table in the trick under way. tricks / points: team A (seats 0, 2), team
// B (seats 1, 3). Cards and suits are numbers as in schemas/hokm.fbs. No
// card of a hand is here before it is played: CardsDealt sets nothing.
//
// Thread safety: a plain value.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/rules/game_state.h"
#include "hokm_generated.h"

namespace hokm::core {

struct PublicState {
  static constexpr std::int8_t kNone = -1;
  enum class Phase : std::uint8_t { kWaiting, kChoosingTrump, kPlaying, kFinished, kAbandoned };

  std::uint64_t seq = 0;  // game_seq of the last record applied
  std::uint64_t updated_ms = 0;
  std::array<std::uint64_t, 4> seats{};
  Phase phase = Phase::kWaiting;
  std::uint8_t room_size = 0;
  std::array<char, 8> room{};  // CheckRecord: at most 8 bytes
  std::uint8_t target = 0;
  std::int8_t hakem = kNone, trump = kNone, turn = kNone, leader = kNone, winner = kNone;
  std::array<std::int8_t, 4> table{kNone, kNone, kNone, kNone};
  std::uint8_t trick_no = 0;
  std::array<std::uint8_t, 2> tricks{};
  std::uint16_t hand = 0;
  std::array<std::uint8_t, 2> points{};

  // Applies one record's public effect.
  // REQUIRES: CheckRecord(record) == nullptr.
  void Apply(const hokm::fb::ChangeRecord& record);

  bool Ended() const { return phase == Phase::kFinished || phase == Phase::kAbandoned; }
  std::string_view room_view() const { return {room.data(), room_size}; }

  // The public state of an engine's game, as applying every record the
  // game has had so far would leave it, except updated_ms (0: the engine
  // keeps no clock). How Redis is rebuilt from the segment (redis_rebuild.h).
  // REQUIRES: game.phase != kEmpty.
  static PublicState FromGame(const GameState& game);

  // The public phase of an engine's game phase (an empty slot: kWaiting).
  static Phase PhaseOf(core::Phase phase);

  // Appends the JSON above to out.
  void AppendJson(std::string& out) const;

  // (The inverse, PublicStateFromJson, is the sidecar's: it needs a JSON
  // parser, which hokm::core does without.)

  bool operator==(const PublicState&) const = default;
};

// The JSON names of PublicState::Phase, in its order.
inline constexpr const char* kPublicPhaseNames[] = {"waiting", "choosing_trump", "playing",
                                                    "finished", "abandoned"};

const char* PhaseName(PublicState::Phase phase);

}  // namespace hokm::core
