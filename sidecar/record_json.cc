// record_json.cc: hand-written JSON for change records: no allocation beyond
// the output string, since it runs once per record on the delivery path.
#include "sidecar/record_json.h"

#include <cstdint>
#include <string_view>

#include "core/records/record_types.h"

namespace hokm::sidecar {
namespace {

namespace fb = hokm::fb;

// A field writer for core::VisitFields: ,"name":value (or "name":value for
// the first field of an object).
class ObjectWriter {
 public:
  // public_only: a CardsDealt says how many cards, not which (the hands
  // stay private: docs/DESIGN.md §5, readers' contract 5).
  ObjectWriter(std::string& out, bool public_only) : out_(out), public_only_(public_only) {}

  void Uint(std::string_view name, std::uint64_t v) {
    Key(name);
    AppendUint(v, out_);
  }
  void Seat(std::string_view name, std::uint8_t v) { Uint(name, v); }
  void Player(std::string_view name, std::uint64_t v) { Uint(name, v); }
  void Team(std::string_view name, std::uint8_t v) { Uint(name, v); }
  void Suit(std::string_view name, std::uint8_t v) { Uint(name, v); }
  void Card(std::string_view name, std::uint8_t v) { Uint(name, v); }
  void FirstHakem(std::string_view name, std::uint8_t v) { Uint(name, v); }
  void Bool(std::string_view name, bool v) {
    Key(name);
    out_.append(v ? "true" : "false");
  }
  void String(std::string_view name, std::string_view v) {
    Key(name);
    AppendJsonString(v, out_);
  }
  void Room(std::string_view name, const flatbuffers::String* room) {
    String(name, room ? std::string_view(room->c_str(), room->size()) : std::string_view());
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
    if (public_only_) {
      Uint("count", cards ? cards->size() : 0);
      return;
    }
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
  void Key(std::string_view name) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_.append(name);
    out_.append("\":");
  }

  std::string& out_;
  bool public_only_;
  bool first_ = true;
};

void AppendEvent(const fb::ChangeRecord& record, bool public_only, std::string& out) {
  out.push_back('{');
  ObjectWriter w(out, public_only);
  w.Uint("seq", record.game_seq());
  w.String("type", core::RecordTypeName(record.body_type()));
  (void)core::VisitRecordFields(record, w);
  out.push_back('}');
}

}  // namespace

void AppendBodyJson(const fb::ChangeRecord& record, std::string& out) {
  out.push_back('{');
  ObjectWriter w(out, false);
  (void)core::VisitRecordFields(record, w);
  out.push_back('}');
}

void AppendEventJson(const fb::ChangeRecord& record, std::string& out) {
  AppendEvent(record, false, out);
}

void AppendPublicEventJson(const fb::ChangeRecord& record, std::string& out) {
  AppendEvent(record, true, out);
}

}  // namespace hokm::sidecar
