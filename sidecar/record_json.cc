// record_json.cc: hand-written JSON for change records: no allocation beyond
// the output string, since it runs once per record on the delivery path.
#include "sidecar/record_json.h"

#include <charconv>
#include <cstdint>
#include <string_view>

namespace hokm::sidecar {
namespace {

namespace fb = hokm::fb;

// Writes ,"name":value (or "name":value for the first field of an object).
class ObjectWriter {
 public:
  explicit ObjectWriter(std::string& out) : out_(out) {}

  void Key(std::string_view name) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_.append(name);
    out_.append("\":");
  }
  void Uint(std::string_view name, std::uint64_t v) {
    Key(name);
    AppendUint(v, out_);
  }
  void Bool(std::string_view name, bool v) {
    Key(name);
    out_.append(v ? "true" : "false");
  }
  void String(std::string_view name, std::string_view v) {
    Key(name);
    AppendJsonString(v, out_);
  }
  void Score(std::string_view name, const fb::TeamScore* s) {
    Key(name);
    out_.append("{\"a\":");
    AppendUint(s ? s->a() : 0, out_);
    out_.append(",\"b\":");
    AppendUint(s ? s->b() : 0, out_);
    out_.push_back('}');
  }
  void Cards(std::string_view name, const flatbuffers::Vector<std::uint8_t>* cards) {
    Key(name);
    out_.push_back('[');
    if (cards != nullptr) {
      for (flatbuffers::uoffset_t i = 0; i < cards->size(); ++i) {
        if (i) out_.push_back(',');
        AppendUint(cards->Get(i), out_);
      }
    }
    out_.push_back(']');
  }

 private:
  std::string& out_;
  bool first_ = true;
};

// public_only: a CardsDealt says how many cards, not which (the hands stay
// private: docs/DESIGN.md §5, readers' contract 5).
void AppendBodyFields(const fb::ChangeRecord& r, ObjectWriter& w, bool public_only) {
  switch (r.body_type()) {
    case fb::Body::GameCreated: {
      const auto* b = r.body_as_GameCreated();
      w.String("room", b->room() ? std::string_view(b->room()->c_str(), b->room()->size())
                                 : std::string_view());
      w.Uint("seed", b->seed());
      w.Bool("play_all_tricks", b->play_all_tricks());
      w.Uint("kot_points_hakem_team", b->kot_points_hakem_team());
      w.Uint("kot_points_opponents", b->kot_points_opponents());
      w.Uint("target_points", b->target_points());
      w.Uint("first_hakem", b->first_hakem());
      break;
    }
    case fb::Body::PlayerJoined: {
      const auto* b = r.body_as_PlayerJoined();
      w.Uint("seat", b->seat());
      w.Uint("player_id", b->player_id());
      break;
    }
    case fb::Body::PlayerLeft: {
      const auto* b = r.body_as_PlayerLeft();
      w.Uint("seat", b->seat());
      w.Uint("player_id", b->player_id());
      break;
    }
    case fb::Body::HakemChosen: {
      const auto* b = r.body_as_HakemChosen();
      w.Uint("seat", b->seat());
      w.Uint("hand_no", b->hand_no());
      break;
    }
    case fb::Body::TrumpChosen: {
      const auto* b = r.body_as_TrumpChosen();
      w.Uint("seat", b->seat());
      w.Uint("suit", b->suit());
      break;
    }
    case fb::Body::CardsDealt: {
      const auto* b = r.body_as_CardsDealt();
      w.Uint("seat", b->seat());
      if (public_only) {
        w.Uint("count", b->cards() ? b->cards()->size() : 0);
      } else {
        w.Cards("cards", b->cards());
      }
      break;
    }
    case fb::Body::CardPlayed: {
      const auto* b = r.body_as_CardPlayed();
      w.Uint("seat", b->seat());
      w.Uint("card", b->card());
      break;
    }
    case fb::Body::TrickWon: {
      const auto* b = r.body_as_TrickWon();
      w.Uint("seat", b->seat());
      w.Uint("trick_no", b->trick_no());
      w.Score("tricks", b->tricks());
      break;
    }
    case fb::Body::HandScored: {
      const auto* b = r.body_as_HandScored();
      w.Uint("hand_no", b->hand_no());
      w.Uint("hakem", b->hakem());
      w.Uint("trump", b->trump());
      w.Uint("winner_team", b->winner_team());
      w.Uint("points_awarded", b->points_awarded());
      w.Score("points", b->points());
      w.Bool("kot", b->kot());
      break;
    }
    case fb::Body::GameFinished: {
      const auto* b = r.body_as_GameFinished();
      w.Uint("winner_team", b->winner_team());
      w.Score("points", b->points());
      break;
    }
    case fb::Body::GameAbandoned: {
      const auto* b = r.body_as_GameAbandoned();
      w.Uint("hand_no", b->hand_no());
      w.Score("points", b->points());
      break;
    }
    case fb::Body::PlayerConnection: {
      const auto* b = r.body_as_PlayerConnection();
      w.Uint("seat", b->seat());
      w.Uint("player_id", b->player_id());
      w.Bool("connected", b->connected());
      break;
    }
    case fb::Body::NONE:
      break;
  }
}

}  // namespace

const char* RecordTypeName(fb::Body type) { return fb::EnumNameBody(type); }

void AppendUint(std::uint64_t v, std::string& out) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void AppendJsonString(std::string_view s, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

void AppendBodyJson(const fb::ChangeRecord& record, std::string& out) {
  out.push_back('{');
  ObjectWriter w(out);
  AppendBodyFields(record, w, false);
  out.push_back('}');
}

void AppendEventJson(const fb::ChangeRecord& record, std::string& out) {
  out.push_back('{');
  ObjectWriter w(out);
  w.Uint("seq", record.game_seq());
  w.String("type", RecordTypeName(record.body_type()));
  AppendBodyFields(record, w, false);
  out.push_back('}');
}

void AppendPublicEventJson(const fb::ChangeRecord& record, std::string& out) {
  out.push_back('{');
  ObjectWriter w(out);
  w.Uint("seq", record.game_seq());
  w.String("type", RecordTypeName(record.body_type()));
  AppendBodyFields(record, w, true);
  out.push_back('}');
}

}  // namespace hokm::sidecar
