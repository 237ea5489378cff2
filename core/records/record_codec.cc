// record_codec.cc: FlatBuffers encode/decode of change records; the decoder
// trusts nothing: it verifies, then range-checks every field it copies.
#include "core/records/record_codec.h"

#include <bit>
#include <cstring>
#include <memory>

#include "core/records/record_types.h"
#include "hokm_generated.h"

namespace hokm::core {
namespace {

namespace fb = ::hokm::fb;

// RecordType equals the union tag: record_types.h checks it.

std::size_t RoomLength(const char room[kRoomCodeLen]) {
  std::size_t n = 0;
  while (n < static_cast<std::size_t>(kRoomCodeLen) && room[n] != '\0') ++n;
  return n;
}

flatbuffers::Offset<void> EncodeBody(const Change& c, flatbuffers::FlatBufferBuilder& fbb) {
  switch (c.type) {
    case RecordType::kGameCreated: {
      const auto room = fbb.CreateString(c.room, RoomLength(c.room));
      return fb::CreateGameCreated(
                 fbb, room, c.seed, c.config.play_all_tricks, c.config.kot_points_hakem_team,
                 c.config.kot_points_opponents, c.config.target_points,
                 static_cast<std::uint8_t>(c.config.first_hakem), c.turn_timeout_ms)
          .Union();
    }
    case RecordType::kPlayerJoined:
      return fb::CreatePlayerJoined(fbb, c.seat, c.player_id).Union();
    case RecordType::kPlayerLeft:
      return fb::CreatePlayerLeft(fbb, c.seat, c.player_id).Union();
    case RecordType::kHakemChosen:
      return fb::CreateHakemChosen(fbb, c.seat, c.hand_no).Union();
    case RecordType::kTrumpChosen:
      return fb::CreateTrumpChosen(fbb, c.seat, static_cast<std::uint8_t>(c.suit), c.on_timeout)
          .Union();
    case RecordType::kCardsDealt: {
      std::uint8_t cards[kCardsInDeck];
      std::size_t n = 0;
      for (CardMask m = c.cards & kFullDeck; m != 0; m &= m - 1) {
        cards[n++] = static_cast<std::uint8_t>(std::countr_zero(m));
      }
      const auto vec = fbb.CreateVector(cards, n);
      return fb::CreateCardsDealt(fbb, c.seat, vec).Union();
    }
    case RecordType::kCardPlayed:
      return fb::CreateCardPlayed(fbb, c.seat, c.card, c.on_timeout).Union();
    case RecordType::kTrickWon: {
      const fb::TeamScore tricks(c.tricks[0], c.tricks[1]);
      return fb::CreateTrickWon(fbb, c.seat, c.trick_no, &tricks).Union();
    }
    case RecordType::kHandScored: {
      const fb::TeamScore points(c.points[0], c.points[1]);
      return fb::CreateHandScored(fbb, c.hand_no, c.seat, static_cast<std::uint8_t>(c.suit),
                                  c.winner_team, c.points_awarded, &points, c.kot)
          .Union();
    }
    case RecordType::kGameFinished: {
      const fb::TeamScore points(c.points[0], c.points[1]);
      return fb::CreateGameFinished(fbb, c.winner_team, &points).Union();
    }
    case RecordType::kGameAbandoned: {
      const fb::TeamScore points(c.points[0], c.points[1]);
      return fb::CreateGameAbandoned(fbb, c.hand_no, &points).Union();
    }
    case RecordType::kPlayerConnection:
      return fb::CreatePlayerConnection(fbb, c.seat, c.player_id, c.connected).Union();
  }
  return 0;
}

constexpr bool SeatOk(std::uint8_t seat) { return seat < kSeats; }
constexpr bool SuitOk(std::uint8_t suit) { return suit < 4; }
constexpr bool TeamOk(std::uint8_t team) { return team < 2; }

// A join or a leave: a seat and its player.
template <typename SeatAndPlayer>
DecodeError DecodeSeatAndPlayer(const SeatAndPlayer& b, Change& c) {
  if (!SeatOk(b.seat())) return DecodeError::kSeatOutOfRange;
  c.seat = b.seat();
  c.player_id = b.player_id();
  return DecodeError::kOk;
}

DecodeError DecodeBody(const fb::ChangeRecord& rec, Change& c) {
  DecodeError e = DecodeError::kMissingBody;
  const auto decode = Overloaded{
      [&](const fb::GameCreated& b) -> DecodeError {
        const auto* room = b.room();
        if (room != nullptr && room->size() > static_cast<unsigned>(kRoomCodeLen)) {
          return DecodeError::kValueOutOfRange;
        }
        if (b.first_hakem() > static_cast<std::uint8_t>(FirstHakem::kSeededRandom) ||
            b.turn_timeout_ms() > kMaxTurnTimeoutMs) {
          return DecodeError::kValueOutOfRange;
        }
        if (room != nullptr) std::memcpy(c.room, room->data(), room->size());
        c.seed = b.seed();
        c.config.play_all_tricks = b.play_all_tricks();
        c.config.kot_points_hakem_team = b.kot_points_hakem_team();
        c.config.kot_points_opponents = b.kot_points_opponents();
        c.config.target_points = b.target_points();
        c.config.first_hakem = static_cast<FirstHakem>(b.first_hakem());
        c.turn_timeout_ms = b.turn_timeout_ms();
        return DecodeError::kOk;
      },
      [&](const fb::PlayerJoined& b) { return DecodeSeatAndPlayer(b, c); },
      [&](const fb::PlayerLeft& b) { return DecodeSeatAndPlayer(b, c); },
      [&](const fb::HakemChosen& b) -> DecodeError {
        if (!SeatOk(b.seat())) return DecodeError::kSeatOutOfRange;
        c.seat = b.seat();
        c.hand_no = b.hand_no();
        return DecodeError::kOk;
      },
      [&](const fb::TrumpChosen& b) -> DecodeError {
        if (!SeatOk(b.seat())) return DecodeError::kSeatOutOfRange;
        if (!SuitOk(b.suit())) return DecodeError::kSuitOutOfRange;
        c.seat = b.seat();
        c.suit = static_cast<Suit>(b.suit());
        c.on_timeout = b.on_timeout();
        return DecodeError::kOk;
      },
      [&](const fb::CardsDealt& b) -> DecodeError {
        if (!SeatOk(b.seat())) return DecodeError::kSeatOutOfRange;
        const auto* cards = b.cards();
        if (cards == nullptr) return DecodeError::kMissingField;
        CardMask m = 0;
        for (const std::uint8_t card : *cards) {
          if (!IsValidCard(card)) return DecodeError::kCardOutOfRange;
          if (m & Bit(card)) return DecodeError::kDuplicateCard;
          m |= Bit(card);
        }
        c.seat = b.seat();
        c.cards = m;
        return DecodeError::kOk;
      },
      [&](const fb::CardPlayed& b) -> DecodeError {
        if (!SeatOk(b.seat())) return DecodeError::kSeatOutOfRange;
        if (!IsValidCard(b.card())) return DecodeError::kCardOutOfRange;
        c.seat = b.seat();
        c.card = b.card();
        c.on_timeout = b.on_timeout();
        return DecodeError::kOk;
      },
      [&](const fb::TrickWon& b) -> DecodeError {
        if (!SeatOk(b.seat())) return DecodeError::kSeatOutOfRange;
        if (b.tricks() == nullptr) return DecodeError::kMissingField;
        c.seat = b.seat();
        c.trick_no = b.trick_no();
        c.tricks[0] = b.tricks()->a();
        c.tricks[1] = b.tricks()->b();
        return DecodeError::kOk;
      },
      [&](const fb::HandScored& b) -> DecodeError {
        if (!SeatOk(b.hakem())) return DecodeError::kSeatOutOfRange;
        if (!SuitOk(b.trump())) return DecodeError::kSuitOutOfRange;
        if (!TeamOk(b.winner_team())) return DecodeError::kValueOutOfRange;
        if (b.points() == nullptr) return DecodeError::kMissingField;
        c.hand_no = b.hand_no();
        c.seat = b.hakem();
        c.suit = static_cast<Suit>(b.trump());
        c.winner_team = b.winner_team();
        c.points_awarded = b.points_awarded();
        c.points[0] = b.points()->a();
        c.points[1] = b.points()->b();
        c.kot = b.kot();
        return DecodeError::kOk;
      },
      [&](const fb::GameFinished& b) -> DecodeError {
        if (!TeamOk(b.winner_team())) return DecodeError::kValueOutOfRange;
        if (b.points() == nullptr) return DecodeError::kMissingField;
        c.winner_team = b.winner_team();
        c.points[0] = b.points()->a();
        c.points[1] = b.points()->b();
        return DecodeError::kOk;
      },
      [&](const fb::GameAbandoned& b) -> DecodeError {
        if (b.points() == nullptr) return DecodeError::kMissingField;
        c.hand_no = b.hand_no();
        c.points[0] = b.points()->a();
        c.points[1] = b.points()->b();
        return DecodeError::kOk;
      },
      [&](const fb::PlayerConnection& b) -> DecodeError {
        if (!SeatOk(b.seat())) return DecodeError::kSeatOutOfRange;
        c.seat = b.seat();
        c.player_id = b.player_id();
        c.connected = b.connected();
        return DecodeError::kOk;
      },
  };
  if (!VisitRecord(rec, [&](const auto& b) { e = decode(b); })) {
    return rec.body_type() == fb::Body::NONE ? DecodeError::kMissingBody
                                             : DecodeError::kUnknownBody;
  }
  return e;
}

DecodeError DecodeAligned(const std::uint8_t* bytes, std::size_t size, Change* out,
                          std::uint64_t* ts_ns) {
  flatbuffers::Verifier verifier(bytes, size);
  if (!fb::VerifyChangeRecordBuffer(verifier)) return DecodeError::kVerifyFailed;
  const fb::ChangeRecord* rec = fb::GetChangeRecord(bytes);
  const auto tag = static_cast<std::uint8_t>(rec->body_type());
  if (tag > kRecordTypeCount) return DecodeError::kUnknownBody;
  if (tag == 0 || rec->body() == nullptr) return DecodeError::kMissingBody;

  // Zeroed like the rules' records (memset: Change{} would carry RulesConfig's
  // member defaults), so a decoded record equals the one encoded.
  Change c;
  std::memset(static_cast<void*>(&c), 0, sizeof c);
  c.type = static_cast<RecordType>(tag);
  c.card = kNoCard;
  c.suit = Suit::kNone;
  c.game_id = rec->game_id();
  c.game_seq = rec->game_seq();
  const DecodeError e = DecodeBody(*rec, c);
  if (e != DecodeError::kOk) return e;
  *out = c;
  if (ts_ns != nullptr) *ts_ns = rec->ts_ns();
  return DecodeError::kOk;
}

}  // namespace

void EncodeRecord(const Change& c, std::uint64_t ts_ns, flatbuffers::FlatBufferBuilder& fbb) {
  fbb.Clear();
  const flatbuffers::Offset<void> body = EncodeBody(c, fbb);
  const auto rec = fb::CreateChangeRecord(fbb, c.game_id, c.game_seq, ts_ns,
                                          static_cast<fb::Body>(c.type), body);
  fb::FinishChangeRecordBuffer(fbb, rec);
}

const char* DecodeErrorName(DecodeError e) {
  switch (e) {
    case DecodeError::kOk:
      return "ok";
    case DecodeError::kVerifyFailed:
      return "verify_failed";
    case DecodeError::kUnknownBody:
      return "unknown_body";
    case DecodeError::kMissingBody:
      return "missing_body";
    case DecodeError::kMissingField:
      return "missing_field";
    case DecodeError::kSeatOutOfRange:
      return "seat_out_of_range";
    case DecodeError::kCardOutOfRange:
      return "card_out_of_range";
    case DecodeError::kDuplicateCard:
      return "duplicate_card";
    case DecodeError::kSuitOutOfRange:
      return "suit_out_of_range";
    case DecodeError::kValueOutOfRange:
      return "value_out_of_range";
  }
  return "unknown";
}

DecodeError DecodeRecord(const void* data, std::size_t size, Change* out, std::uint64_t* ts_ns) {
  if (data == nullptr || size < 2 * sizeof(flatbuffers::uoffset_t) ||
      size >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    return DecodeError::kVerifyFailed;
  }
  const auto* bytes = static_cast<const std::uint8_t*>(data);
  if (reinterpret_cast<std::uintptr_t>(bytes) % alignof(std::uint64_t) == 0) {
    return DecodeAligned(bytes, size, out, ts_ns);
  }
  constexpr std::size_t kStackCopy = 1024;
  if (size <= kStackCopy) {
    alignas(std::uint64_t) std::uint8_t copy[kStackCopy];
    std::memcpy(copy, bytes, size);
    return DecodeAligned(copy, size, out, ts_ns);
  }
  const auto copy = std::make_unique<std::uint64_t[]>((size + 7) / 8);
  std::memcpy(copy.get(), bytes, size);
  return DecodeAligned(reinterpret_cast<const std::uint8_t*>(copy.get()), size, out, ts_ns);
}

}  // namespace hokm::core
