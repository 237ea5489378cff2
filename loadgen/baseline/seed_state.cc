// seed_state.cc: the baseline's JSON state codec, CAS script and table (see
// seed_state.h).
#include "loadgen/baseline/seed_state.h"

#include <charconv>
#include <cstring>

#include "core/records/text.h"

namespace hokm::loadgen {
namespace {

using core::AppendUint;

void AppendQuoted(std::string& out, std::uint64_t v) {
  out += '"';
  AppendUint(v, out);
  out += '"';
}

template <typename T, std::size_t N>
void AppendArray(std::string& out, const T (&values)[N], bool quoted) {
  out += '[';
  for (std::size_t i = 0; i < N; ++i) {
    if (i != 0) out += ',';
    if (quoted) {
      AppendQuoted(out, static_cast<std::uint64_t>(values[i]));
    } else {
      AppendUint(static_cast<std::uint64_t>(values[i]), out);
    }
  }
  out += ']';
}

// A strict reader of the exact document EncodeSeedState writes.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool Lit(std::string_view lit) {
    if (s_.substr(at_, lit.size()) != lit) return false;
    at_ += lit.size();
    return true;
  }
  bool Uint(std::uint64_t& v) {
    const char* begin = s_.data() + at_;
    const auto r = std::from_chars(begin, s_.data() + s_.size(), v);
    if (r.ec != std::errc() || r.ptr == begin) return false;
    at_ += static_cast<std::size_t>(r.ptr - begin);
    return true;
  }
  bool Quoted(std::uint64_t& v) { return Lit("\"") && Uint(v) && Lit("\""); }
  template <typename T>
  bool Small(T& out, std::uint64_t max) {
    std::uint64_t v;
    if (!Uint(v) || v > max) return false;
    out = static_cast<T>(v);
    return true;
  }
  template <typename T, std::size_t N>
  bool Array(T (&out)[N], bool quoted, std::uint64_t max) {
    if (!Lit("[")) return false;
    for (std::size_t i = 0; i < N; ++i) {
      if (i != 0 && !Lit(",")) return false;
      std::uint64_t v;
      if (!(quoted ? Quoted(v) : Uint(v)) || v > max) return false;
      out[i] = static_cast<T>(v);
    }
    return Lit("]");
  }
  bool Room(char (&room)[core::kRoomCodeLen]) {
    if (!Lit("\"")) return false;
    std::memset(room, 0, sizeof room);
    std::size_t n = 0;
    while (at_ < s_.size() && s_[at_] != '"') {
      const char c = s_[at_++];
      if (n == sizeof room || c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
      room[n++] = c;
    }
    return Lit("\"");
  }
  bool AtEnd() const { return at_ == s_.size(); }

 private:
  std::string_view s_;
  std::size_t at_ = 0;
};

}  // namespace

std::string SeedGameKey(std::uint64_t game_id) {
  return "seed:g:{" + std::to_string(game_id) + "}";
}

void EncodeSeedState(const core::GameState& s, std::string& out) {
  out += "{\"seq\":";
  AppendUint(s.seq, out);
  out += ",\"game_id\":";
  AppendQuoted(out, s.game_id);
  out += ",\"phase\":";
  AppendUint(static_cast<std::uint64_t>(s.phase), out);
  out += ",\"hand_no\":";
  AppendUint(s.hand_no, out);
  out += ",\"hakem\":";
  AppendUint(s.hakem, out);
  out += ",\"turn\":";
  AppendUint(s.turn, out);
  out += ",\"leader\":";
  AppendUint(s.leader, out);
  out += ",\"trump\":";
  AppendUint(static_cast<std::uint64_t>(s.trump), out);
  out += ",\"trick_no\":";
  AppendUint(s.trick_no, out);
  out += ",\"trick_size\":";
  AppendUint(s.trick_size, out);
  out += ",\"trick\":";
  AppendArray(out, s.trick, false);
  out += ",\"tricks\":";
  AppendArray(out, s.tricks, false);
  out += ",\"points\":";
  AppendArray(out, s.points, false);
  out += ",\"winner\":";
  AppendUint(s.winner_team, out);
  out += ",\"players\":";
  AppendArray(out, s.player_ids, true);
  out += ",\"hands\":";
  AppendArray(out, s.hands, false);
  out += ",\"pending\":";
  AppendArray(out, s.pending, false);
  out += ",\"seed\":";
  AppendQuoted(out, s.seed);
  out += ",\"rng\":";
  AppendQuoted(out, s.rng);
  out += ",\"room\":\"";
  out.append(s.room, strnlen(s.room, core::kRoomCodeLen));
  out += "\",\"config\":[";
  AppendUint(s.config.play_all_tricks ? 1 : 0, out);
  out += ',';
  AppendUint(s.config.kot_points_hakem_team, out);
  out += ',';
  AppendUint(s.config.kot_points_opponents, out);
  out += ',';
  AppendUint(s.config.target_points, out);
  out += ',';
  AppendUint(static_cast<std::uint64_t>(s.config.first_hakem), out);
  out += "]}";
}

bool DecodeSeedState(std::string_view json, core::GameState& s) {
  std::memset(static_cast<void*>(&s), 0, sizeof s);
  Reader r(json);
  constexpr std::uint64_t kByte = 0xFF;
  constexpr std::uint64_t kMask = core::kFullDeck;
  constexpr std::uint64_t kAny = ~std::uint64_t{0};
  std::uint8_t config[5];
  const bool ok =
      r.Lit("{\"seq\":") && r.Small(s.seq, 0xFFFFFFFFu) && r.Lit(",\"game_id\":") &&
      r.Quoted(s.game_id) && r.Lit(",\"phase\":") &&
      r.Small(s.phase, static_cast<std::uint64_t>(core::Phase::kAbandoned)) &&
      r.Lit(",\"hand_no\":") && r.Small(s.hand_no, 0xFFFF) && r.Lit(",\"hakem\":") &&
      r.Small(s.hakem, 3) && r.Lit(",\"turn\":") && r.Small(s.turn, 3) && r.Lit(",\"leader\":") &&
      r.Small(s.leader, 3) && r.Lit(",\"trump\":") && r.Small(s.trump, kByte) &&
      r.Lit(",\"trick_no\":") && r.Small(s.trick_no, kByte) && r.Lit(",\"trick_size\":") &&
      r.Small(s.trick_size, 4) && r.Lit(",\"trick\":") && r.Array(s.trick, false, kByte) &&
      r.Lit(",\"tricks\":") && r.Array(s.tricks, false, kByte) && r.Lit(",\"points\":") &&
      r.Array(s.points, false, kByte) && r.Lit(",\"winner\":") && r.Small(s.winner_team, 1) &&
      r.Lit(",\"players\":") && r.Array(s.player_ids, true, kAny) && r.Lit(",\"hands\":") &&
      r.Array(s.hands, false, kMask) && r.Lit(",\"pending\":") &&
      r.Array(s.pending, false, kMask) && r.Lit(",\"seed\":") && r.Quoted(s.seed) &&
      r.Lit(",\"rng\":") && r.Quoted(s.rng) && r.Lit(",\"room\":") && r.Room(s.room) &&
      r.Lit(",\"config\":") && r.Array(config, false, kByte) && r.Lit("}") && r.AtEnd();
  if (!ok) return false;
  s.config.play_all_tricks = config[0] != 0;
  s.config.kot_points_hakem_team = config[1];
  s.config.kot_points_opponents = config[2];
  s.config.target_points = config[3];
  s.config.first_hakem = static_cast<core::FirstHakem>(config[4]);
  return true;
}

std::string_view SeedCasScript() { return kSeedCasScript; }

std::string_view SeedMovesDdl() {
  return "CREATE TABLE IF NOT EXISTS seed_moves ("
         " game_id bigint NOT NULL,"
         " seq bigint NOT NULL,"
         " type smallint NOT NULL,"
         " ts timestamptz NOT NULL,"
         " body jsonb NOT NULL,"
         " PRIMARY KEY (game_id, seq))";
}

}  // namespace hokm::loadgen
