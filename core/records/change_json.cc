// change_json.cc: hand-written JSON for change records (no JSON library: the
// dump writes millions of lines, and the format is fixed).
#include "core/records/change_json.h"

#include "core/records/record_codec.h"
#include "core/records/record_types.h"
#include "core/records/text.h"

namespace hokm::core {
namespace {

namespace fb = ::hokm::fb;

// A field writer for VisitFields (core/records/record_types.h) in the dump's
// readable form: ", \"key\": " before each value; cards and suits by name,
// team pairs as [a, b].
class DumpWriter {
 public:
  explicit DumpWriter(std::string& out) : out_(out) {}

  void Uint(const char* key, std::uint64_t v) {
    Key(key);
    AppendUint(v, out_);
  }
  void Seat(const char* key, std::uint8_t v) { Uint(key, v); }
  void Player(const char* key, std::uint64_t v) { Uint(key, v); }
  void Team(const char* key, std::uint8_t v) { Uint(key, v); }
  void Bool(const char* key, bool v) {
    Key(key);
    out_ += v ? "true" : "false";
  }
  void Suit(const char* key, std::uint8_t v) {
    Key(key);
    out_ += '"';
    out_ += SuitName(static_cast<core::Suit>(v));
    out_ += '"';
  }
  void Card(const char* key, std::uint8_t v) {
    Key(key);
    CardString(v);
  }
  void Cards(const char* key, const flatbuffers::Vector<std::uint8_t>* cards) {
    Key(key);
    out_ += '[';
    if (cards != nullptr) {
      for (flatbuffers::uoffset_t i = 0; i < cards->size(); ++i) {
        if (i != 0) out_ += ", ";
        CardString(cards->Get(i));
      }
    }
    out_ += ']';
  }
  void Score(const char* key, const fb::TeamScore* s) {
    Key(key);
    out_ += '[';
    AppendUint(s ? s->a() : 0, out_);
    out_ += ", ";
    AppendUint(s ? s->b() : 0, out_);
    out_ += ']';
  }
  void FirstHakem(const char* key, std::uint8_t v) {
    Key(key);
    out_ += v == static_cast<std::uint8_t>(core::FirstHakem::kFirstAce) ? "\"first_ace\""
                                                                        : "\"seeded_random\"";
  }
  // Room codes are meant to be printable ASCII; anything else is escaped
  // byte by byte as \u00XX so the line stays valid JSON.
  void Room(const char* key, const flatbuffers::String* room) {
    static constexpr char kHex[] = "0123456789abcdef";
    Key(key);
    out_ += '"';
    for (flatbuffers::uoffset_t i = 0; room != nullptr && i < room->size(); ++i) {
      const auto b = static_cast<unsigned char>(room->Get(i));
      if (b == '"' || b == '\\') {
        out_ += '\\';
        out_ += static_cast<char>(b);
      } else if (b < 0x20 || b >= 0x7F) {
        out_ += "\\u00";
        out_ += kHex[b >> 4];
        out_ += kHex[b & 0xF];
      } else {
        out_ += static_cast<char>(b);
      }
    }
    out_ += '"';
  }

 private:
  void Key(const char* key) {
    out_ += ", \"";
    out_ += key;
    out_ += "\": ";
  }
  void CardString(core::Card c) {
    char name[2] = {'?', '?'};
    if (IsValidCard(c)) CardName(c, name);
    out_ += '"';
    out_.append(name, 2);
    out_ += '"';
  }

  std::string& out_;
};

}  // namespace

void AppendChangeJson(const Change& c, std::string& out) {
  out += "{\"game_id\": ";
  AppendUint(c.game_id, out);
  DumpWriter w(out);
  w.Uint("seq", c.game_seq);
  out += ", \"type\": \"";
  out += RecordTypeName(c.type);
  out += '"';
  // The fields are those of the record the codec makes of c: one walk
  // (VisitFields) serves this line and the stores' JSON.
  thread_local flatbuffers::FlatBufferBuilder fbb(256);
  EncodeRecord(c, 0, fbb);
  (void)VisitRecordFields(*fb::GetChangeRecord(fbb.GetBufferPointer()), w);
  out += '}';
}

std::string ChangeJson(const Change& c) {
  std::string out;
  AppendChangeJson(c, out);
  return out;
}

}  // namespace hokm::core
