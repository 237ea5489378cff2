// replay.h: a game rebuilt from its stored records through the rules, and
// every regenerated record compared with the stored one (docs/DESIGN.md §5,
// readers' contract 4: replaying a game's records reproduces the engine's
// state).
//
// The records that stand for a command (kRecordTypes' `command`: a create,
// join, leave, trump, card play, abandon, connection change) are turned
// back into that command (CommandOf) and applied with the rules; the rules
// regenerate every record, the command's own and those it caused (deals,
// tricks won, hands scored, ...), each of which is compared with the stored
// record of its seq: same seq, same type, same fields.
//
// Pure logic: the caller decodes the records from wherever they are stored
// (PostgreSQL: sidecar/record_json.h ParseBodyJson); used by the Redis
// rebuild (sidecar/rebuild_source.cc), `hokmctl replay` (ctl/replay.cc)
// and whatever restores an engine from PostgreSQL.
//
// Thread safety: plain functions over the caller's values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/records/change.h"
#include "core/rules/command.h"
#include "core/rules/game_state.h"

namespace hokm::core {

// The command a stored record stands for; nullopt for the records a
// command caused (HakemChosen, CardsDealt, TrickWon, HandScored,
// GameFinished), which the rules regenerate.
std::optional<Command> CommandOf(const Change& record);

// One place where the stored records and the replay disagree.
struct ReplayDifference {
  std::uint64_t seq = 0;  // the stored record's seq (else the replayed one's)
  // A field name of schemas/hokm.fbs ("seat", "card", "tricks", ...), or
  //   "seq"     the command's record is stored at another seq
  //   "type"    another record type at this seq
  //   "record"  a record on one side only ("none" on the other)
  //   "command" the rules refused the stored command (replayed: why)
  //   "state.X" a field X of the final state (DiffStates)
  std::string field;
  std::string stored;    // the value as text (numbers as stored in PostgreSQL)
  std::string replayed;  // the same for the replay
};

// What the stored records given to ReplayRecords are.
enum class ReplayInput : std::uint8_t {
  // Every record of the game (from seq 1, in order): each regenerated
  // record must be stored, equal, and nothing else may be.
  kEveryRecord,
  // Only the records that stand for a command (what the Redis rebuild
  // reads, to read less): each must be regenerated at its seq; a record a
  // command caused is compared only when it is given too.
  kCommandsOnly,
};

struct ReplayOptions {
  ReplayInput input = ReplayInput::kEveryRecord;
  std::size_t max_differences = 20;  // kept; the rest are only counted
};

struct ReplayResult {
  GameState state{};              // after the last command the rules accepted
  std::uint64_t commands = 0;     // commands applied
  std::uint64_t regenerated = 0;  // records the rules regenerated
  std::uint64_t compared = 0;     // of them, compared with a stored record
  std::uint64_t difference_count = 0;
  std::vector<ReplayDifference> differences;  // the first max_differences, in seq order
  // The seq of the stored command the rules refused: the replay stopped
  // there (every record after it is left uncompared). 0: it did not stop.
  std::uint64_t stopped_at = 0;

  bool identical() const { return difference_count == 0; }
};

// Replays `stored`, the decoded records of ONE game in seq order, from an
// empty state. REQUIRES: every record's game_id is the game's.
ReplayResult ReplayRecords(std::span<const Change> stored, const ReplayOptions& options = {});

// Appends a difference "state.<field>" (seq: expected.seq) for each field
// of the two states that differs: the check of a replay's final state
// against the engine's (a live game in the segment).
void DiffStates(const GameState& expected, const GameState& replayed,
                std::vector<ReplayDifference>& out);

// The record's fields as one JSON object ({"seat":1,"card":23}), in the
// form the differences print values: field names of schemas/hokm.fbs,
// cards and suits as numbers.
std::string RecordFieldsJson(const Change& record);

}  // namespace hokm::core
