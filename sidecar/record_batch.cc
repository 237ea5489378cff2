// record_batch.cc: verification and the semantic check of change records.
#include "sidecar/record_batch.h"

#include <cstddef>
#include <limits>
#include <string_view>

#include "core/records/record_types.h"
#include "core/rules/utf8.h"

namespace hokm::sidecar {
namespace {

namespace fb = hokm::fb;

constexpr std::uint64_t kMaxBigint =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// A field writer for core::VisitFields that keeps the first field out of
// the range both stores accept.
class FieldCheck {
 public:
  const char* error() const { return error_; }

  void Uint(std::string_view, std::uint64_t) {}
  void Bool(std::string_view, bool) {}
  void Score(std::string_view, const fb::TeamScore*) {}
  void Seat(std::string_view name, std::uint8_t v) {
    if (v >= 4) Fail(name == "hakem" ? "hakem not 0..3" : "seat not 0..3");
  }
  void Player(std::string_view, std::uint64_t v) {
    if (v > kMaxBigint) Fail("player_id above 2^63-1 (PostgreSQL bigint)");
  }
  void Team(std::string_view, std::uint8_t v) {
    if (v > 1) Fail("winner_team not 0 or 1");
  }
  void Suit(std::string_view name, std::uint8_t v) {
    if (v > 3) Fail(name == "trump" ? "trump not 0..3" : "suit not 0..3");
  }
  void Card(std::string_view, std::uint8_t v) {
    if (v >= 52) Fail("card not 0..51");
  }
  void Cards(std::string_view, const flatbuffers::Vector<std::uint8_t>* cards) {
    if (cards == nullptr) return;
    if (cards->size() > 13) Fail("more than 13 cards dealt");
    for (std::uint8_t c : *cards) Card("card", c);
  }
  void Room(std::string_view, const flatbuffers::String* room) {
    if (room == nullptr) return;
    const std::string_view text(room->c_str(), room->size());
    if (text.size() > 8) Fail("room longer than 8 bytes");
    if (!core::IsCleanUtf8(text)) Fail("room is not UTF-8 or holds NUL");
  }
  void FirstHakem(std::string_view, std::uint8_t v) {
    if (v > 1) Fail("first_hakem not 0 or 1");
  }

 private:
  void Fail(const char* why) {
    if (error_ == nullptr) error_ = why;
  }
  const char* error_ = nullptr;
};

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
  FieldCheck check;
  if (!core::VisitRecordFields(r, check)) {
    return r.body_type() == fb::Body::NONE ? "record has no body" : "unknown body type";
  }
  if (check.error() != nullptr) return check.error();
  // A join names its player; a leave or a reconnect of an empty seat may not.
  if (const auto* join = r.body_as_PlayerJoined(); join != nullptr && join->player_id() == 0)
    return "player_id is 0";
  return nullptr;
}

}  // namespace hokm::sidecar
