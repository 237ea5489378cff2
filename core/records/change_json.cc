// change_json.cc: hand-written JSON for change records (no JSON library: the
// dump writes millions of lines, and the format is fixed).
#include "core/records/change_json.h"

#include <bit>
#include <charconv>

namespace hokm::core {
namespace {

void AppendUint(std::uint64_t v, std::string& out) {
  char buf[20];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

// ", \"key\": "
void Key(const char* key, std::string& out) {
  out += ", \"";
  out += key;
  out += "\": ";
}

void UintField(const char* key, std::uint64_t v, std::string& out) {
  Key(key, out);
  AppendUint(v, out);
}

void BoolField(const char* key, bool v, std::string& out) {
  Key(key, out);
  out += v ? "true" : "false";
}

void CardString(Card c, std::string& out) {
  char name[2] = {'?', '?'};
  if (IsValidCard(c)) CardName(c, name);
  out += '"';
  out.append(name, 2);
  out += '"';
}

void SuitField(const char* key, Suit s, std::string& out) {
  Key(key, out);
  out += '"';
  out += SuitName(s);
  out += '"';
}

void PairField(const char* key, const std::uint8_t v[2], std::string& out) {
  Key(key, out);
  out += '[';
  AppendUint(v[0], out);
  out += ", ";
  AppendUint(v[1], out);
  out += ']';
}

// Room codes are meant to be printable ASCII; anything else is escaped
// byte by byte as \u00XX so the line stays valid JSON.
void RoomField(const char room[kRoomCodeLen], std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  Key("room", out);
  out += '"';
  for (int i = 0; i < kRoomCodeLen && room[i] != '\0'; ++i) {
    const auto b = static_cast<unsigned char>(room[i]);
    if (b == '"' || b == '\\') {
      out += '\\';
      out += static_cast<char>(b);
    } else if (b < 0x20 || b >= 0x7F) {
      out += "\\u00";
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    } else {
      out += static_cast<char>(b);
    }
  }
  out += '"';
}

}  // namespace

void AppendChangeJson(const Change& c, std::string& out) {
  out += "{\"game_id\": ";
  AppendUint(c.game_id, out);
  UintField("seq", c.game_seq, out);
  Key("type", out);
  out += '"';
  out += RecordTypeName(c.type);
  out += '"';
  switch (c.type) {
    case RecordType::kGameCreated:
      RoomField(c.room, out);
      UintField("seed", c.seed, out);
      BoolField("play_all_tricks", c.config.play_all_tricks, out);
      UintField("kot_points_hakem_team", c.config.kot_points_hakem_team, out);
      UintField("kot_points_opponents", c.config.kot_points_opponents, out);
      UintField("target_points", c.config.target_points, out);
      Key("first_hakem", out);
      out += c.config.first_hakem == FirstHakem::kFirstAce ? "\"first_ace\"" : "\"seeded_random\"";
      break;
    case RecordType::kPlayerJoined:
    case RecordType::kPlayerLeft:
      UintField("seat", c.seat, out);
      UintField("player_id", c.player_id, out);
      break;
    case RecordType::kHakemChosen:
      UintField("seat", c.seat, out);
      UintField("hand_no", c.hand_no, out);
      break;
    case RecordType::kTrumpChosen:
      UintField("seat", c.seat, out);
      SuitField("suit", c.suit, out);
      break;
    case RecordType::kCardsDealt: {
      UintField("seat", c.seat, out);
      Key("cards", out);
      out += '[';
      bool first = true;
      for (CardMask m = c.cards & kFullDeck; m != 0; m &= m - 1) {
        if (!first) out += ", ";
        first = false;
        CardString(static_cast<Card>(std::countr_zero(m)), out);
      }
      out += ']';
      break;
    }
    case RecordType::kCardPlayed:
      UintField("seat", c.seat, out);
      Key("card", out);
      CardString(c.card, out);
      break;
    case RecordType::kTrickWon:
      UintField("seat", c.seat, out);
      UintField("trick_no", c.trick_no, out);
      PairField("tricks", c.tricks, out);
      break;
    case RecordType::kHandScored:
      UintField("hand_no", c.hand_no, out);
      UintField("hakem", c.seat, out);
      SuitField("trump", c.suit, out);
      UintField("winner_team", c.winner_team, out);
      UintField("points_awarded", c.points_awarded, out);
      PairField("points", c.points, out);
      BoolField("kot", c.kot, out);
      break;
    case RecordType::kGameFinished:
      UintField("winner_team", c.winner_team, out);
      PairField("points", c.points, out);
      break;
    case RecordType::kGameAbandoned:
      UintField("hand_no", c.hand_no, out);
      PairField("points", c.points, out);
      break;
    case RecordType::kPlayerConnection:
      UintField("seat", c.seat, out);
      UintField("player_id", c.player_id, out);
      BoolField("connected", c.connected, out);
      break;
  }
  out += '}';
}

std::string ChangeJson(const Change& c) {
  std::string out;
  AppendChangeJson(c, out);
  return out;
}

}  // namespace hokm::core
