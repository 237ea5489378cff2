// public_state.cc: the public effect of each record type, and the state's
// JSON (written by hand: it is on the sidecar's delivery path).
#include "core/records/public_state.h"

#include <algorithm>
#include <type_traits>

#include "core/records/record_types.h"
#include "core/records/text.h"

namespace hokm::core {
namespace {

namespace fb = hokm::fb;

void AppendSmall(std::int8_t v, std::string& out) {
  if (v < 0) {
    out.append("null");
  } else {
    AppendUint(static_cast<std::uint64_t>(v), out);
  }
}

template <typename T, std::size_t N>
void AppendArray(const std::array<T, N>& a, std::string& out) {
  out.push_back('[');
  for (std::size_t i = 0; i < N; ++i) {
    if (i) out.push_back(',');
    if constexpr (std::is_same_v<T, std::int8_t>) {
      AppendSmall(a[i], out);
    } else {
      AppendUint(a[i], out);
    }
  }
  out.push_back(']');
}

void SetScore(const fb::TeamScore* s, std::array<std::uint8_t, 2>& to) {
  to = {s ? s->a() : std::uint8_t{0}, s ? s->b() : std::uint8_t{0}};
}

}  // namespace

const char* PhaseName(PublicState::Phase phase) {
  return kPublicPhaseNames[static_cast<int>(phase)];
}

void PublicState::Apply(const fb::ChangeRecord& r) {
  const auto clear_table = [&] { table.fill(kNone); };
  // CardsDealt sets nothing (hands stay private), PlayerConnection only
  // the player's hash.
  (void)core::VisitRecord(
      r, core::Overloaded{
             [&](const fb::GameCreated& b) {
               *this = PublicState{};
               if (b.room()) {
                 room_size = static_cast<std::uint8_t>(
                     std::min<std::size_t>(b.room()->size(), room.size()));
                 std::copy_n(b.room()->c_str(), room_size, room.begin());
               }
               target = b.target_points();
             },
             [&](const fb::PlayerJoined& b) { seats[b.seat() & 3u] = b.player_id(); },
             [&](const fb::PlayerLeft& b) { seats[b.seat() & 3u] = 0; },
             [&](const fb::HakemChosen& b) {
               phase = Phase::kChoosingTrump;
               hakem = turn = leader = static_cast<std::int8_t>(b.seat() & 3u);
               hand = b.hand_no();
               trump = kNone;
               tricks = {0, 0};
               trick_no = 0;
               clear_table();
             },
             [&](const fb::TrumpChosen& b) {
               phase = Phase::kPlaying;
               trump = static_cast<std::int8_t>(b.suit() & 3u);
               turn = static_cast<std::int8_t>(b.seat() & 3u);
             },
             [&](const fb::CardPlayed& b) {
               table[b.seat() & 3u] = static_cast<std::int8_t>(b.card());
               turn = static_cast<std::int8_t>((b.seat() + 1u) % 4u);
             },
             [&](const fb::TrickWon& b) {
               clear_table();
               turn = leader = static_cast<std::int8_t>(b.seat() & 3u);
               trick_no = b.trick_no();
               SetScore(b.tricks(), tricks);
             },
             [&](const fb::HandScored& b) { SetScore(b.points(), points); },
             [&](const fb::GameFinished& b) {
               phase = Phase::kFinished;
               winner = static_cast<std::int8_t>(b.winner_team() & 1u);
               SetScore(b.points(), points);
               turn = kNone;
             },
             [&](const fb::GameAbandoned& b) {
               phase = Phase::kAbandoned;
               SetScore(b.points(), points);
               turn = kNone;
             },
             [](const auto&) {},
         });
  seq = r.game_seq();
  updated_ms = r.ts_ns() / 1'000'000;
}

PublicState::Phase PublicState::PhaseOf(core::Phase phase) {
  switch (phase) {
    case core::Phase::kEmpty:
    case core::Phase::kWaitingForPlayers:
      return Phase::kWaiting;
    case core::Phase::kChoosingTrump:
      return Phase::kChoosingTrump;
    case core::Phase::kPlaying:
      return Phase::kPlaying;
    case core::Phase::kFinished:
      return Phase::kFinished;
    case core::Phase::kAbandoned:
      return Phase::kAbandoned;
  }
  return Phase::kWaiting;
}

PublicState PublicState::FromGame(const core::GameState& g) {
  PublicState s;
  s.seq = g.seq;
  s.phase = PhaseOf(g.phase);
  const auto room_end = std::find(std::begin(g.room), std::end(g.room), '\0');
  s.room_size = static_cast<std::uint8_t>(room_end - std::begin(g.room));
  std::copy(std::begin(g.room), room_end, s.room.begin());
  s.target = g.config.target_points;
  std::copy(std::begin(g.player_ids), std::end(g.player_ids), s.seats.begin());
  // A game that has been dealt a hand (HakemChosen) has a hakem and a leader
  // from then on; one to act only while it is live.
  if (g.hand_no > 0) {
    s.hakem = static_cast<std::int8_t>(g.hakem & 3u);
    s.leader = static_cast<std::int8_t>(g.leader & 3u);
  }
  if (s.phase == Phase::kChoosingTrump || s.phase == Phase::kPlaying) {
    s.turn = static_cast<std::int8_t>(g.turn & 3u);
  }
  if (g.trump != core::Suit::kNone) s.trump = static_cast<std::int8_t>(g.trump);
  for (std::size_t seat = 0; seat < s.table.size(); ++seat) {
    if (g.trick[seat] != core::kNoCard) s.table[seat] = static_cast<std::int8_t>(g.trick[seat]);
  }
  s.trick_no = g.trick_no;
  s.tricks = {g.tricks[0], g.tricks[1]};
  s.hand = g.hand_no;
  s.points = {g.points[0], g.points[1]};
  if (s.phase == Phase::kFinished) s.winner = static_cast<std::int8_t>(g.winner_team & 1u);
  return s;
}

void PublicState::AppendJson(std::string& out) const {
  out.append("{\"seq\":");
  AppendUint(seq, out);
  out.append(",\"phase\":\"");
  out.append(PhaseName(phase));
  out.append("\",\"room\":");
  AppendJsonString(room_view(), out);
  out.append(",\"target\":");
  AppendUint(target, out);
  out.append(",\"seats\":");
  AppendArray(seats, out);
  out.append(",\"hakem\":");
  AppendSmall(hakem, out);
  out.append(",\"trump\":");
  AppendSmall(trump, out);
  out.append(",\"turn\":");
  AppendSmall(turn, out);
  out.append(",\"leader\":");
  AppendSmall(leader, out);
  out.append(",\"table\":");
  AppendArray(table, out);
  out.append(",\"trick_no\":");
  AppendUint(trick_no, out);
  out.append(",\"tricks\":");
  AppendArray(tricks, out);
  out.append(",\"hand\":");
  AppendUint(hand, out);
  out.append(",\"points\":");
  AppendArray(points, out);
  out.append(",\"winner\":");
  AppendSmall(winner, out);
  out.append(",\"updated_ms\":");
  AppendUint(updated_ms, out);
  out.push_back('}');
}

}  // namespace hokm::core
