// stored_record.cc: game_moves rows -> core::Change, checking every field.
#include "sidecar/stored_record.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "core/records/record_types.h"

namespace hokm::sidecar {
namespace {

using nlohmann::json;

// Reads one field of a body; the first problem it meets is kept.
class Fields {
 public:
  Fields(const json& body, const StoredRow& row) : body_(body), row_(row) {}

  std::uint64_t Uint(const char* name, std::uint64_t max) {
    const json* v = Find(name);
    if (v == nullptr) return 0;
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<std::int64_t>() >= 0)) {
      return Bad(name, "is not a number >= 0");
    }
    const auto n = v->get<std::uint64_t>();
    if (n > max) return Bad(name, std::to_string(n) + " out of range");
    return n;
  }
  bool Bool(const char* name) {
    const json* v = Find(name);
    if (v == nullptr) return false;
    if (!v->is_boolean()) return Bad(name, "is not true or false") != 0;
    return v->get<bool>();
  }
  // Fields visited only when set (core/records/record_types.h): absent
  // reads as false / 0.
  bool OptionalBool(const char* name) { return body_.contains(name) && Bool(name); }
  std::uint64_t OptionalUint(const char* name, std::uint64_t max) {
    return body_.contains(name) ? Uint(name, max) : 0;
  }
  // A column of the row when it is not null, else the body's field.
  std::uint64_t Column(const std::optional<int>& column, const char* name, std::uint64_t max) {
    if (!column) return Uint(name, max);
    if (*column < 0 || static_cast<std::uint64_t>(*column) > max) {
      return Bad(name, std::to_string(*column) + " out of range");
    }
    return static_cast<std::uint64_t>(*column);
  }
  void Score(const char* name, std::uint8_t out[2]) {
    const json* v = Find(name);
    if (v == nullptr) return;
    if (!v->is_object() || !v->contains("a") || !v->contains("b")) {
      Bad(name, "is not {\"a\":n,\"b\":n}");
      return;
    }
    Fields inner(*v, row_);
    out[0] = static_cast<std::uint8_t>(inner.Uint("a", 255));
    out[1] = static_cast<std::uint8_t>(inner.Uint("b", 255));
    if (!inner.error.empty()) Bad(name, inner.error);
  }
  core::CardMask Cards(const char* name) {
    const json* v = Find(name);
    if (v == nullptr) return 0;
    if (!v->is_array()) return Bad(name, "is not an array");
    core::CardMask mask = 0;
    for (const json& c : *v) {
      if (!c.is_number_unsigned() || c.get<std::uint64_t>() >= core::kCardsInDeck) {
        return Bad(name, "holds " + c.dump() + ", not a card 0..51");
      }
      const core::CardMask bit = core::Bit(static_cast<core::Card>(c.get<std::uint64_t>()));
      if (mask & bit) return Bad(name, "holds card " + c.dump() + " twice");
      mask |= bit;
    }
    return mask;
  }
  void Room(const char* name, char out[core::kRoomCodeLen]) {
    const json* v = Find(name);
    if (v == nullptr) return;
    if (!v->is_string()) {
      Bad(name, "is not a string");
      return;
    }
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > static_cast<std::size_t>(core::kRoomCodeLen)) {
      Bad(name, "longer than 8 bytes");
      return;
    }
    std::memcpy(out, s.data(), s.size());
  }

  std::string error;

 private:
  const json* Find(const char* name) {
    const auto it = body_.find(name);
    if (it == body_.end()) {
      Bad(name, "missing");
      return nullptr;
    }
    return &*it;
  }
  std::uint64_t Bad(const char* name, const std::string& why) {
    if (error.empty()) error = std::string(name) + ' ' + why;
    return 0;
  }

  const json& body_;
  const StoredRow& row_;
};

}  // namespace

std::string DecodeStoredRow(const StoredRow& row, core::Change& out) {
  using core::RecordType;
  std::memset(static_cast<void*>(&out), 0, sizeof out);
  out.card = core::kNoCard;
  out.suit = core::Suit::kNone;
  out.game_id = row.game_id;
  out.game_seq = static_cast<std::uint32_t>(row.seq);
  const std::string at = "seq " + std::to_string(row.seq) + ": ";
  const core::RecordTypeInfo* info =
      row.type >= 1 && row.type <= core::kRecordTypeCount
          ? core::FindRecordType(static_cast<hokm::fb::Body>(row.type))
          : nullptr;
  if (info == nullptr) return at + "unknown record type " + std::to_string(row.type);
  if (row.seq == 0 || row.seq > UINT32_MAX) return at + "seq out of range";
  out.type = info->type;
  json body = json::object();
  if (row.body) {
    body = json::parse(*row.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object()) return at + info->name + ": body is not a JSON object";
  }
  Fields f(body, row);
  constexpr std::uint64_t kSeatMax = core::kSeats - 1;
  constexpr std::uint64_t kSuitMax = 3;
  constexpr std::uint64_t kTeamMax = 1;
  constexpr std::uint64_t kU8 = 255;
  switch (out.type) {
    case RecordType::kGameCreated:
      f.Room("room", out.room);
      out.seed = f.Uint("seed", UINT64_MAX);
      out.config.play_all_tricks = f.Bool("play_all_tricks");
      out.config.kot_points_hakem_team =
          static_cast<std::uint8_t>(f.Uint("kot_points_hakem_team", kU8));
      out.config.kot_points_opponents =
          static_cast<std::uint8_t>(f.Uint("kot_points_opponents", kU8));
      out.config.target_points = static_cast<std::uint8_t>(f.Uint("target_points", kU8));
      out.config.first_hakem = static_cast<core::FirstHakem>(f.Uint("first_hakem", 1));
      out.turn_timeout_ms =
          static_cast<std::uint32_t>(f.OptionalUint("turn_timeout_ms", core::kMaxTurnTimeoutMs));
      break;
    case RecordType::kPlayerJoined:
    case RecordType::kPlayerLeft:
      out.seat = static_cast<std::uint8_t>(f.Uint("seat", kSeatMax));
      out.player_id = f.Uint("player_id", UINT64_MAX);
      break;
    case RecordType::kHakemChosen:
      out.seat = static_cast<std::uint8_t>(f.Uint("seat", kSeatMax));
      out.hand_no = static_cast<std::uint16_t>(f.Uint("hand_no", UINT16_MAX));
      break;
    case RecordType::kTrumpChosen:
      out.seat = static_cast<std::uint8_t>(f.Uint("seat", kSeatMax));
      out.suit = static_cast<core::Suit>(f.Uint("suit", kSuitMax));
      out.on_timeout = f.OptionalBool("on_timeout");
      break;
    case RecordType::kCardsDealt:
      out.seat = static_cast<std::uint8_t>(f.Uint("seat", kSeatMax));
      out.cards = f.Cards("cards");
      break;
    case RecordType::kCardPlayed:
      out.seat = static_cast<std::uint8_t>(f.Column(row.seat, "seat", kSeatMax));
      out.card = static_cast<core::Card>(f.Column(row.card, "card", core::kCardsInDeck - 1));
      out.on_timeout = f.OptionalBool("on_timeout");
      break;
    case RecordType::kTrickWon:
      out.seat = static_cast<std::uint8_t>(f.Uint("seat", kSeatMax));
      out.trick_no = static_cast<std::uint8_t>(f.Uint("trick_no", kU8));
      f.Score("tricks", out.tricks);
      break;
    case RecordType::kHandScored:
      out.hand_no = static_cast<std::uint16_t>(f.Uint("hand_no", UINT16_MAX));
      out.seat = static_cast<std::uint8_t>(f.Uint("hakem", kSeatMax));
      out.suit = static_cast<core::Suit>(f.Uint("trump", kSuitMax));
      out.winner_team = static_cast<std::uint8_t>(f.Uint("winner_team", kTeamMax));
      out.points_awarded = static_cast<std::uint8_t>(f.Uint("points_awarded", kU8));
      f.Score("points", out.points);
      out.kot = f.Bool("kot");
      break;
    case RecordType::kGameFinished:
      out.winner_team = static_cast<std::uint8_t>(f.Uint("winner_team", kTeamMax));
      f.Score("points", out.points);
      break;
    case RecordType::kGameAbandoned:
      out.hand_no = static_cast<std::uint16_t>(f.Uint("hand_no", UINT16_MAX));
      f.Score("points", out.points);
      break;
    case RecordType::kPlayerConnection:
      out.seat = static_cast<std::uint8_t>(f.Uint("seat", kSeatMax));
      out.player_id = f.Uint("player_id", UINT64_MAX);
      out.connected = f.Bool("connected");
      break;
  }
  if (!f.error.empty()) return at + info->name + ": " + f.error;
  return {};
}

}  // namespace hokm::sidecar
