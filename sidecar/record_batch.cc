// record_batch.cc: verification and the semantic check of change records.
#include "sidecar/record_batch.h"

#include <cstddef>
#include <limits>
#include <string_view>

#include "core/rules/utf8.h"

namespace hokm::sidecar {
namespace {

namespace fb = hokm::fb;

constexpr std::uint64_t kMaxBigint =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

bool Seat(std::uint8_t s) { return s < 4; }

}  // namespace

RecordRef VerifyRecord(const std::uint8_t* bytes, std::uint32_t size, std::uint64_t position) {
  flatbuffers::Verifier verifier(bytes, size);
  const bool ok = bytes != nullptr && size > 0 && verifier.VerifyBuffer<fb::ChangeRecord>(nullptr);
  return RecordRef{ok ? flatbuffers::GetRoot<fb::ChangeRecord>(bytes) : nullptr, bytes, size,
                   position};
}

const char* CheckRecord(const fb::ChangeRecord& r) {
  if (r.game_id() == 0) return "game_id is 0";
  if (r.game_id() > kMaxBigint) return "game_id above 2^63-1 (PostgreSQL bigint)";
  if (r.game_seq() == 0) return "game_seq is 0 (sequences start at 1)";
  if (r.ts_ns() > kMaxBigint) return "ts_ns above 2^63-1 (PostgreSQL bigint)";
  if (r.body() == nullptr && r.body_type() != fb::Body::NONE) return "body table missing";
  switch (r.body_type()) {
    case fb::Body::NONE:
      return "record has no body";
    case fb::Body::GameCreated: {
      const auto* b = r.body_as_GameCreated();
      if (b->room() != nullptr) {
        const std::string_view room(b->room()->c_str(), b->room()->size());
        if (room.size() > 8) return "room longer than 8 bytes";
        if (!core::IsCleanUtf8(room)) return "room is not UTF-8 or holds NUL";
      }
      if (b->first_hakem() > 1) return "first_hakem not 0 or 1";
      return nullptr;
    }
    case fb::Body::PlayerJoined: {
      const auto* b = r.body_as_PlayerJoined();
      if (!Seat(b->seat())) return "seat not 0..3";
      if (b->player_id() == 0) return "player_id is 0";
      if (b->player_id() > kMaxBigint) return "player_id above 2^63-1 (PostgreSQL bigint)";
      return nullptr;
    }
    case fb::Body::PlayerLeft: {
      const auto* b = r.body_as_PlayerLeft();
      if (!Seat(b->seat())) return "seat not 0..3";
      if (b->player_id() > kMaxBigint) return "player_id above 2^63-1 (PostgreSQL bigint)";
      return nullptr;
    }
    case fb::Body::HakemChosen:
      return Seat(r.body_as_HakemChosen()->seat()) ? nullptr : "seat not 0..3";
    case fb::Body::TrumpChosen: {
      const auto* b = r.body_as_TrumpChosen();
      if (!Seat(b->seat())) return "seat not 0..3";
      if (b->suit() > 3) return "suit not 0..3";
      return nullptr;
    }
    case fb::Body::CardsDealt: {
      const auto* b = r.body_as_CardsDealt();
      if (!Seat(b->seat())) return "seat not 0..3";
      if (b->cards() != nullptr) {
        if (b->cards()->size() > 13) return "more than 13 cards dealt";
        for (std::uint8_t c : *b->cards()) {
          if (c >= 52) return "card not 0..51";
        }
      }
      return nullptr;
    }
    case fb::Body::CardPlayed: {
      const auto* b = r.body_as_CardPlayed();
      if (!Seat(b->seat())) return "seat not 0..3";
      if (b->card() >= 52) return "card not 0..51";
      return nullptr;
    }
    case fb::Body::TrickWon:
      return Seat(r.body_as_TrickWon()->seat()) ? nullptr : "seat not 0..3";
    case fb::Body::HandScored: {
      const auto* b = r.body_as_HandScored();
      if (!Seat(b->hakem())) return "hakem not 0..3";
      if (b->trump() > 3) return "trump not 0..3";
      if (b->winner_team() > 1) return "winner_team not 0 or 1";
      return nullptr;
    }
    case fb::Body::GameFinished:
      return r.body_as_GameFinished()->winner_team() > 1 ? "winner_team not 0 or 1" : nullptr;
    case fb::Body::GameAbandoned:
      return nullptr;
    case fb::Body::PlayerConnection: {
      const auto* b = r.body_as_PlayerConnection();
      if (!Seat(b->seat())) return "seat not 0..3";
      if (b->player_id() > kMaxBigint) return "player_id above 2^63-1 (PostgreSQL bigint)";
      return nullptr;
    }
  }
  return "unknown body type";
}

}  // namespace hokm::sidecar
