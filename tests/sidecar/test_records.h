// test_records.h: change records for the sink tests, built with the
// FlatBuffers generated builders: single records of every type, and whole
// games scripted to the shape the rules engine emits (docs/DESIGN.md §10): create,
// four joins, per hand hakem / 5 cards / trump / the rest of the deal /
// tricks of four card plays until a team has 7 / the score, until a team
// has 7 points. Deterministic from a seed; not a rules check (who wins a
// trick is drawn, not computed).
#pragma once

#include <flatbuffers/flatbuffers.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "hokm_generated.h"
#include "sidecar/record_batch.h"

namespace hokm::sidecar::testing {

namespace fb = hokm::fb;

// One record's bytes, owned. Records of one game with the same command
// number left the engine as one command (one ring record, one timestamp).
struct OwnedRecord {
  std::vector<std::uint8_t> bytes;
  std::uint64_t game_id = 0;
  std::uint32_t seq = 0;
  fb::Body type = fb::Body::NONE;
  std::uint32_t command = 0;
};

using BodyFn = std::function<flatbuffers::Offset<void>(flatbuffers::FlatBufferBuilder&)>;

inline OwnedRecord MakeRecord(std::uint64_t game_id, std::uint32_t seq, std::uint64_t ts_ns,
                              fb::Body type, const BodyFn& body) {
  flatbuffers::FlatBufferBuilder fbb(128);
  const auto b = body ? body(fbb) : flatbuffers::Offset<void>();
  fb::FinishChangeRecordBuffer(fbb, fb::CreateChangeRecord(fbb, game_id, seq, ts_ns, type, b));
  return OwnedRecord{
      std::vector<std::uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()),
      game_id, seq, type, seq};
}

inline OwnedRecord GameCreated(std::uint64_t g, std::uint32_t seq, std::uint64_t ts,
                               const std::string& room, std::uint64_t seed = 42) {
  return MakeRecord(g, seq, ts, fb::Body::GameCreated, [&](flatbuffers::FlatBufferBuilder& fbb) {
    return fb::CreateGameCreated(fbb, fbb.CreateString(room), seed, false, 2, 3, 7, 0).Union();
  });
}
inline OwnedRecord PlayerJoined(std::uint64_t g, std::uint32_t seq, std::uint64_t ts, int seat,
                                std::uint64_t player) {
  return MakeRecord(g, seq, ts, fb::Body::PlayerJoined, [&](flatbuffers::FlatBufferBuilder& fbb) {
    return fb::CreatePlayerJoined(fbb, static_cast<std::uint8_t>(seat), player).Union();
  });
}
inline OwnedRecord PlayerLeft(std::uint64_t g, std::uint32_t seq, std::uint64_t ts, int seat,
                              std::uint64_t player) {
  return MakeRecord(g, seq, ts, fb::Body::PlayerLeft, [&](flatbuffers::FlatBufferBuilder& fbb) {
    return fb::CreatePlayerLeft(fbb, static_cast<std::uint8_t>(seat), player).Union();
  });
}
inline OwnedRecord HakemChosen(std::uint64_t g, std::uint32_t seq, std::uint64_t ts, int seat,
                               int hand_no) {
  return MakeRecord(g, seq, ts, fb::Body::HakemChosen, [&](flatbuffers::FlatBufferBuilder& fbb) {
    return fb::CreateHakemChosen(fbb, static_cast<std::uint8_t>(seat),
                                 static_cast<std::uint16_t>(hand_no))
        .Union();
  });
}
inline OwnedRecord TrumpChosen(std::uint64_t g, std::uint32_t seq, std::uint64_t ts, int seat,
                               int suit) {
  return MakeRecord(g, seq, ts, fb::Body::TrumpChosen, [&](flatbuffers::FlatBufferBuilder& fbb) {
    return fb::CreateTrumpChosen(fbb, static_cast<std::uint8_t>(seat),
                                 static_cast<std::uint8_t>(suit))
        .Union();
  });
}
inline OwnedRecord CardsDealt(std::uint64_t g, std::uint32_t seq, std::uint64_t ts, int seat,
                              const std::vector<std::uint8_t>& cards) {
  return MakeRecord(g, seq, ts, fb::Body::CardsDealt, [&](flatbuffers::FlatBufferBuilder& fbb) {
    return fb::CreateCardsDealtDirect(fbb, static_cast<std::uint8_t>(seat), &cards).Union();
  });
}
inline OwnedRecord CardPlayed(std::uint64_t g, std::uint32_t seq, std::uint64_t ts, int seat,
                              int card) {
  return MakeRecord(g, seq, ts, fb::Body::CardPlayed, [&](flatbuffers::FlatBufferBuilder& fbb) {
    return fb::CreateCardPlayed(fbb, static_cast<std::uint8_t>(seat),
                                static_cast<std::uint8_t>(card))
        .Union();
  });
}
inline OwnedRecord TrickWon(std::uint64_t g, std::uint32_t seq, std::uint64_t ts, int seat,
                            int trick_no, int a, int b) {
  return MakeRecord(g, seq, ts, fb::Body::TrickWon, [&](flatbuffers::FlatBufferBuilder& fbb) {
    const fb::TeamScore tricks(static_cast<std::uint8_t>(a), static_cast<std::uint8_t>(b));
    return fb::CreateTrickWon(fbb, static_cast<std::uint8_t>(seat),
                              static_cast<std::uint8_t>(trick_no), &tricks)
        .Union();
  });
}
inline OwnedRecord HandScored(std::uint64_t g, std::uint32_t seq, std::uint64_t ts, int hand_no,
                              int hakem, int trump, int winner, int awarded, int pa, int pb,
                              bool kot) {
  return MakeRecord(g, seq, ts, fb::Body::HandScored, [&](flatbuffers::FlatBufferBuilder& fbb) {
    const fb::TeamScore points(static_cast<std::uint8_t>(pa), static_cast<std::uint8_t>(pb));
    return fb::CreateHandScored(fbb, static_cast<std::uint16_t>(hand_no),
                                static_cast<std::uint8_t>(hakem), static_cast<std::uint8_t>(trump),
                                static_cast<std::uint8_t>(winner),
                                static_cast<std::uint8_t>(awarded), &points, kot)
        .Union();
  });
}
inline OwnedRecord GameFinished(std::uint64_t g, std::uint32_t seq, std::uint64_t ts, int winner,
                                int pa, int pb) {
  return MakeRecord(g, seq, ts, fb::Body::GameFinished, [&](flatbuffers::FlatBufferBuilder& fbb) {
    const fb::TeamScore points(static_cast<std::uint8_t>(pa), static_cast<std::uint8_t>(pb));
    return fb::CreateGameFinished(fbb, static_cast<std::uint8_t>(winner), &points).Union();
  });
}
inline OwnedRecord GameAbandoned(std::uint64_t g, std::uint32_t seq, std::uint64_t ts, int hand_no,
                                 int pa, int pb) {
  return MakeRecord(g, seq, ts, fb::Body::GameAbandoned, [&](flatbuffers::FlatBufferBuilder& fbb) {
    const fb::TeamScore points(static_cast<std::uint8_t>(pa), static_cast<std::uint8_t>(pb));
    return fb::CreateGameAbandoned(fbb, static_cast<std::uint16_t>(hand_no), &points).Union();
  });
}
inline OwnedRecord PlayerConnection(std::uint64_t g, std::uint32_t seq, std::uint64_t ts, int seat,
                                    std::uint64_t player, bool connected) {
  return MakeRecord(
      g, seq, ts, fb::Body::PlayerConnection, [&](flatbuffers::FlatBufferBuilder& fbb) {
        return fb::CreatePlayerConnection(fbb, static_cast<std::uint8_t>(seat), player, connected)
            .Union();
      });
}

// What a scripted game should leave in the stores.
struct HandSummary {
  int hand_no, hakem, trump, winner_team, points_awarded, tricks_a, tricks_b;
  bool kot;
};
struct ScriptedGame {
  std::uint64_t game_id = 0;
  std::array<std::uint64_t, 4> players{};
  std::vector<OwnedRecord> records;
  std::vector<HandSummary> hands;
  int winner_team = -1;  // -1: abandoned
  int points_a = 0, points_b = 0;
};

// A complete game (or one abandoned after abandon_after_hands hands when >= 0).
inline ScriptedGame ScriptGame(std::uint64_t game_id, const std::array<std::uint64_t, 4>& players,
                               std::uint64_t seed, std::uint64_t ts0_ns,
                               int abandon_after_hands = -1) {
  std::mt19937_64 rng(seed);
  ScriptedGame g;
  g.game_id = game_id;
  g.players = players;
  std::uint32_t seq = 0;
  std::uint64_t ts = ts0_ns;
  const auto next_ts = [&] { return ts += 1'000'000 + rng() % 5'000'000; };
  auto& out = g.records;
  std::string room("R");
  room += std::to_string(game_id % 100000);
  out.push_back(GameCreated(game_id, ++seq, next_ts(), room, seed));
  for (int s = 0; s < 4; ++s) out.push_back(PlayerJoined(game_id, ++seq, next_ts(), s, players[s]));
  int hakem = static_cast<int>(rng() % 4);
  int points[2] = {0, 0};
  for (int hand_no = 1; points[0] < 7 && points[1] < 7; ++hand_no) {
    if (abandon_after_hands >= 0 && hand_no > abandon_after_hands) {
      out.push_back(GameAbandoned(game_id, ++seq, next_ts(), hand_no, points[0], points[1]));
      g.points_a = points[0];
      g.points_b = points[1];
      return g;
    }
    std::array<std::uint8_t, 52> deck;
    for (int c = 0; c < 52; ++c) deck[c] = static_cast<std::uint8_t>(c);
    std::shuffle(deck.begin(), deck.end(), rng);
    std::array<std::vector<std::uint8_t>, 4> hands;
    for (int s = 0; s < 4; ++s) hands[s].assign(deck.begin() + 13 * s, deck.begin() + 13 * (s + 1));
    out.push_back(HakemChosen(game_id, ++seq, next_ts(), hakem, hand_no));
    out.push_back(
        CardsDealt(game_id, ++seq, next_ts(), hakem,
                   std::vector<std::uint8_t>(hands[hakem].begin(), hands[hakem].begin() + 5)));
    const int trump = static_cast<int>(rng() % 4);
    out.push_back(TrumpChosen(game_id, ++seq, next_ts(), hakem, trump));
    for (int k = 0; k < 4; ++k) {
      const int s = (hakem + k) % 4;
      std::vector<std::uint8_t> rest =
          s == hakem ? std::vector<std::uint8_t>(hands[s].begin() + 5, hands[s].end()) : hands[s];
      out.push_back(CardsDealt(game_id, ++seq, next_ts(), s, rest));
    }
    int tricks[2] = {0, 0};
    int leader = hakem;
    for (int trick_no = 1; tricks[0] < 7 && tricks[1] < 7; ++trick_no) {
      for (int k = 0; k < 4; ++k) {
        const int s = (leader + k) % 4;
        const std::size_t pick = rng() % hands[s].size();
        out.push_back(CardPlayed(game_id, ++seq, next_ts(), s, hands[s][pick]));
        hands[s].erase(hands[s].begin() + static_cast<std::ptrdiff_t>(pick));
      }
      const int winner = static_cast<int>((leader + rng() % 4) % 4);
      ++tricks[winner % 2];
      out.push_back(TrickWon(game_id, ++seq, next_ts(), winner, trick_no, tricks[0], tricks[1]));
      leader = winner;
    }
    const int hand_winner = tricks[0] == 7 ? 0 : 1;
    const bool kot = tricks[1 - hand_winner] == 0;
    const int awarded = !kot ? 1 : (hand_winner == hakem % 2 ? 2 : 3);
    points[hand_winner] += awarded;
    out.push_back(HandScored(game_id, ++seq, next_ts(), hand_no, hakem, trump, hand_winner, awarded,
                             points[0], points[1], kot));
    g.hands.push_back({hand_no, hakem, trump, hand_winner, awarded, tricks[0], tricks[1], kot});
    if (hand_winner != hakem % 2) hakem = (hakem + 1) % 4;
  }
  g.winner_team = points[0] >= 7 ? 0 : 1;
  g.points_a = points[0];
  g.points_b = points[1];
  out.push_back(GameFinished(game_id, ++seq, next_ts(), g.winner_team, points[0], points[1]));
  return g;
}

// Interleaves the games' commands round-robin, as concurrent games reach
// the change ring: each game's order is kept, and a command's records stay
// together.
inline std::vector<const OwnedRecord*> Interleave(const std::vector<ScriptedGame>& games) {
  std::vector<const OwnedRecord*> out;
  std::vector<std::size_t> next(games.size(), 0);
  for (bool any = true; any;) {
    any = false;
    for (std::size_t g = 0; g < games.size(); ++g) {
      const auto& records = games[g].records;
      std::size_t& k = next[g];
      if (k == records.size()) continue;
      const std::uint32_t command = records[k].command;
      while (k < records.size() && records[k].command == command) out.push_back(&records[k++]);
      any = true;
    }
  }
  return out;
}

// RecordRefs (verified) for records, the ring position of each command
// first_position + 1, + 2, ... (a command's records share the position
// just after their ring record, as the sidecar's reader gives them).
inline std::vector<RecordRef> Refs(const std::vector<const OwnedRecord*>& records,
                                   std::uint64_t first_position = 0) {
  std::vector<RecordRef> refs;
  refs.reserve(records.size());
  const OwnedRecord* prev = nullptr;
  for (const OwnedRecord* r : records) {
    if (prev == nullptr || prev->game_id != r->game_id || prev->command != r->command)
      ++first_position;
    prev = r;
    refs.push_back(
        VerifyRecord(r->bytes.data(), static_cast<std::uint32_t>(r->bytes.size()), first_position));
  }
  return refs;
}

}  // namespace hokm::sidecar::testing
