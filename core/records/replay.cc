// replay.cc: stored records -> commands -> the rules -> regenerated records,
// each compared with the stored one. Fields are compared through the one
// list of each type's fields (record_types.h VisitFields), so a new record
// type needs nothing here beyond CommandOf when it stands for a command.
#include "core/records/replay.h"

#include <flatbuffers/flatbuffers.h>

#include <bit>
#include <cstring>
#include <string_view>
#include <utility>

#include "core/records/record_codec.h"
#include "core/records/record_types.h"
#include "core/records/text.h"
#include "core/rules/rules.h"
#include "hokm_generated.h"

namespace hokm::core {
namespace {

namespace fb = ::hokm::fb;

// A field writer for VisitFields that keeps (name, value as text) pairs;
// values as the PostgreSQL body holds them (sidecar/record_json.h).
class FieldList {
 public:
  std::vector<std::pair<std::string_view, std::string>> fields;

  void Uint(std::string_view name, std::uint64_t v) {
    std::string s;
    AppendUint(v, s);
    fields.emplace_back(name, std::move(s));
  }
  void Seat(std::string_view name, std::uint8_t v) { Uint(name, v); }
  void Player(std::string_view name, std::uint64_t v) { Uint(name, v); }
  void Team(std::string_view name, std::uint8_t v) { Uint(name, v); }
  void Suit(std::string_view name, std::uint8_t v) { Uint(name, v); }
  void Card(std::string_view name, std::uint8_t v) { Uint(name, v); }
  void FirstHakem(std::string_view name, std::uint8_t v) { Uint(name, v); }
  void Bool(std::string_view name, bool v) { fields.emplace_back(name, v ? "true" : "false"); }
  void Room(std::string_view name, const flatbuffers::String* room) {
    std::string s;
    AppendJsonString(room ? std::string_view(room->c_str(), room->size()) : std::string_view(), s);
    fields.emplace_back(name, std::move(s));
  }
  void Score(std::string_view name, const fb::TeamScore* score) {
    std::string s = "{\"a\":";
    AppendUint(score ? score->a() : 0, s);
    s += ",\"b\":";
    AppendUint(score ? score->b() : 0, s);
    s += '}';
    fields.emplace_back(name, std::move(s));
  }
  void Cards(std::string_view name, const flatbuffers::Vector<std::uint8_t>* cards) {
    std::string s = "[";
    for (flatbuffers::uoffset_t i = 0; cards != nullptr && i < cards->size(); ++i) {
      if (i) s += ',';
      AppendUint(cards->Get(i), s);
    }
    s += ']';
    fields.emplace_back(name, std::move(s));
  }
};

// The record's encoding without its timestamp (a replay has none): two
// records with the same fields encode to the same bytes.
void Encode(const Change& c, flatbuffers::FlatBufferBuilder& fbb) { EncodeRecord(c, 0, fbb); }

FieldList Fields(const Change& c) {
  flatbuffers::FlatBufferBuilder fbb(128);
  Encode(c, fbb);
  FieldList list;
  (void)VisitRecordFields(*fb::GetChangeRecord(fbb.GetBufferPointer()), list);
  return list;
}

const char* TypeName(RecordType t) {
  const RecordTypeInfo* info = FindRecordType(t);
  return info != nullptr ? info->name : "Unknown";
}

class Replayer {
 public:
  explicit Replayer(const ReplayOptions& options) : options_(options) {}

  void Add(std::uint64_t seq, std::string field, std::string stored, std::string replayed) {
    ++result.difference_count;
    if (result.differences.size() >= options_.max_differences) return;
    result.differences.push_back({seq, std::move(field), std::move(stored), std::move(replayed)});
  }

  // `stored` and `replayed` at the same place in the game.
  void Compare(const Change& stored, const Change& replayed) {
    ++result.compared;
    if (stored.game_seq != replayed.game_seq) {
      Add(stored.game_seq, "seq", std::to_string(stored.game_seq),
          std::to_string(replayed.game_seq));
    }
    if (stored.type != replayed.type) {
      Add(stored.game_seq, "type", TypeName(stored.type), TypeName(replayed.type));
      return;
    }
    Encode(stored, a_);
    Encode(replayed, b_);
    if (a_.GetSize() == b_.GetSize() &&
        std::memcmp(a_.GetBufferPointer(), b_.GetBufferPointer(), a_.GetSize()) == 0) {
      return;
    }
    const FieldList s = Fields(stored);
    const FieldList r = Fields(replayed);
    for (std::size_t i = 0; i < s.fields.size() && i < r.fields.size(); ++i) {
      if (s.fields[i].second != r.fields[i].second) {
        Add(stored.game_seq, std::string(s.fields[i].first), s.fields[i].second,
            r.fields[i].second);
      }
    }
  }

  void Run(std::span<const Change> stored) {
    std::size_t i = 0;
    ChangeBuffer out;
    while (i < stored.size()) {
      const Change& record = stored[i];
      const std::optional<Command> command = CommandOf(record);
      if (!command) {  // a record no command before it caused
        Add(record.game_seq, "record", TypeName(record.type), "none");
        ++i;
        continue;
      }
      out.Clear();
      const CommandResult r = Apply(result.state, *command, out);
      if (r != CommandResult::kOk) {
        Add(record.game_seq, "command",
            std::string(TypeName(record.type)) + ' ' + RecordFieldsJson(record),
            std::string("refused: ") + CommandResultName(r));
        result.stopped_at = record.game_seq;
        return;
      }
      ++result.commands;
      result.regenerated += static_cast<std::uint64_t>(out.count);
      // Who made the move (the seat, or the engine when the seat's turn
      // deadline passed) is not the rules' to know: the stored record says.
      out.items[0].on_timeout = record.on_timeout;
      Compare(record, out.items[0]);  // the command's own record
      ++i;
      for (int k = 1; k < out.count; ++k) {
        const Change& caused = out.items[k];
        // Stored records the rules did not regenerate before this one.
        while (options_.input == ReplayInput::kEveryRecord && i < stored.size() &&
               stored[i].game_seq < caused.game_seq) {
          Add(stored[i].game_seq, "record", TypeName(stored[i].type), "none");
          ++i;
        }
        if (i < stored.size() && stored[i].game_seq == caused.game_seq) {
          Compare(stored[i++], caused);
        } else if (options_.input == ReplayInput::kEveryRecord) {
          Add(caused.game_seq, "record", "none", TypeName(caused.type));
        }
      }
    }
  }

  ReplayResult result;

 private:
  const ReplayOptions& options_;
  flatbuffers::FlatBufferBuilder a_{128};
  flatbuffers::FlatBufferBuilder b_{128};
};

std::string Text(std::uint64_t v) { return std::to_string(v); }

std::string CardText(Card c) { return c == kNoCard ? "none" : Text(c); }

std::string MaskText(CardMask m) {
  std::string s = "[";
  for (CardMask rest = m & kFullDeck; rest != 0; rest &= rest - 1) {
    if (s.size() > 1) s += ',';
    AppendUint(static_cast<std::uint64_t>(std::countr_zero(rest)), s);
  }
  s += ']';
  return s;
}

}  // namespace

std::optional<Command> CommandOf(const Change& record) {
  Command c{};
  c.game_id = record.game_id;
  c.seat = record.seat;
  c.card = kNoCard;
  c.suit = Suit::kNone;
  switch (record.type) {
    case RecordType::kGameCreated:
      c.type = CommandType::kCreateGame;
      c.seed = record.seed;
      c.config = record.config;
      c.turn_timeout_ms = record.turn_timeout_ms;
      std::memcpy(c.room, record.room, sizeof c.room);
      return c;
    case RecordType::kPlayerJoined:
      c.type = CommandType::kJoin;
      c.player_id = record.player_id;
      return c;
    case RecordType::kPlayerLeft:
      c.type = CommandType::kLeave;
      return c;
    case RecordType::kTrumpChosen:
      c.type = CommandType::kChooseTrump;
      c.suit = record.suit;
      return c;
    case RecordType::kCardPlayed:
      c.type = CommandType::kPlayCard;
      c.card = record.card;
      return c;
    case RecordType::kGameAbandoned:
      c.type = CommandType::kAbandon;
      return c;
    case RecordType::kPlayerConnection:
      c.type = CommandType::kSetConnected;
      c.connected = record.connected;
      return c;
    case RecordType::kHakemChosen:
    case RecordType::kCardsDealt:
    case RecordType::kTrickWon:
    case RecordType::kHandScored:
    case RecordType::kGameFinished:
      return std::nullopt;
  }
  return std::nullopt;
}

ReplayResult ReplayRecords(std::span<const Change> stored, const ReplayOptions& options) {
  Replayer replayer(options);
  replayer.Run(stored);
  return std::move(replayer.result);
}

void DiffStates(const GameState& expected, const GameState& replayed,
                std::vector<ReplayDifference>& out) {
  const std::uint64_t seq = expected.seq;
  const auto diff = [&](std::string_view field, std::string e, std::string r) {
    if (e == r) return;
    std::string name = "state.";
    name.append(field);
    out.push_back({seq, std::move(name), std::move(e), std::move(r)});
  };
  diff("game_id", Text(expected.game_id), Text(replayed.game_id));
  diff("seq", Text(expected.seq), Text(replayed.seq));
  diff("phase", Text(static_cast<int>(expected.phase)), Text(static_cast<int>(replayed.phase)));
  diff("seed", Text(expected.seed), Text(replayed.seed));
  diff("rng", Text(expected.rng), Text(replayed.rng));
  diff("hand_no", Text(expected.hand_no), Text(replayed.hand_no));
  diff("room", std::string(expected.room, strnlen(expected.room, kRoomCodeLen)),
       std::string(replayed.room, strnlen(replayed.room, kRoomCodeLen)));
  diff("hakem", Text(expected.hakem), Text(replayed.hakem));
  diff("turn", Text(expected.turn), Text(replayed.turn));
  diff("leader", Text(expected.leader), Text(replayed.leader));
  diff("trump", Text(static_cast<int>(expected.trump)), Text(static_cast<int>(replayed.trump)));
  diff("trick_no", Text(expected.trick_no), Text(replayed.trick_no));
  diff("trick_size", Text(expected.trick_size), Text(replayed.trick_size));
  diff("winner_team", Text(expected.winner_team), Text(replayed.winner_team));
  for (int t = 0; t < 2; ++t) {
    const char* team = t == 0 ? "[a]" : "[b]";
    diff(std::string("tricks").append(team), Text(expected.tricks[t]), Text(replayed.tricks[t]));
    diff(std::string("points").append(team), Text(expected.points[t]), Text(replayed.points[t]));
  }
  for (int seat = 0; seat < kSeats; ++seat) {
    const char at[] = {'[', static_cast<char>('0' + seat), ']', '\0'};
    diff(std::string("player_ids").append(at), Text(expected.player_ids[seat]),
         Text(replayed.player_ids[seat]));
    diff(std::string("hands").append(at), MaskText(expected.hands[seat]),
         MaskText(replayed.hands[seat]));
    diff(std::string("pending").append(at), MaskText(expected.pending[seat]),
         MaskText(replayed.pending[seat]));
    diff(std::string("trick").append(at), CardText(expected.trick[seat]),
         CardText(replayed.trick[seat]));
  }
  const RulesConfig& e = expected.config;
  const RulesConfig& r = replayed.config;
  diff("config.play_all_tricks", Text(e.play_all_tricks), Text(r.play_all_tricks));
  diff("config.kot_points_hakem_team", Text(e.kot_points_hakem_team),
       Text(r.kot_points_hakem_team));
  diff("config.kot_points_opponents", Text(e.kot_points_opponents), Text(r.kot_points_opponents));
  diff("config.target_points", Text(e.target_points), Text(r.target_points));
  diff("config.first_hakem", Text(static_cast<int>(e.first_hakem)),
       Text(static_cast<int>(r.first_hakem)));
  diff("turn_timeout_ms", Text(expected.turn_timeout_ms), Text(replayed.turn_timeout_ms));
}

std::string RecordFieldsJson(const Change& record) {
  std::string s = "{";
  for (const auto& [name, value] : Fields(record).fields) {
    if (s.size() > 1) s += ',';
    AppendJsonString(name, s);
    s += ':';
    s += value;
  }
  s += '}';
  return s;
}

}  // namespace hokm::core
