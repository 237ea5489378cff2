// replay.cc: hokmctl replay ID [--json]: rebuilds a game from its records
// in PostgreSQL through the rules (core/records/replay.h) and compares every
// step: each record the rules regenerate with the stored one of its seq
// (type and every field), then the final state: a game live in the segment
// against the engine's state there (the whole GameState, hands included);
// any other against its game_sessions row (status, winner, points, hands).
// PostgreSQL is read from the read replica when one is given (ctl.h,
// PgReadUrl): a live game's records are read again until they reach the
// segment's seq, which covers the replica's lag as it covers the sidecar's.
//
// Exit: 0 identical; 1 any difference (the first ones are printed: seq,
// field, stored vs replayed), no records, or a store down; 2 usage.
// JSON: {"game_id", "identical", "records", "commands", "compared",
// "difference_count", "differences": [{"seq", "field", "stored",
// "replayed"}], "stopped_at" (seq or null), "final_state": {"against":
// "segment"|"postgres", "identical", "note"}}.
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/records/replay.h"
#include "ctl/ctl.h"
#include "ctl/game_stores.h"

namespace hokm::ctl {
namespace {

using nlohmann::json;

// How long the replay waits for PostgreSQL to reach the seq the segment
// shows for a live game (the sidecar's lag is well under a second).
constexpr std::chrono::seconds kCatchUpDeadline{10};
constexpr std::size_t kMaxShown = 20;

// The session row against the replay's final state (a game not live).
void DiffSession(const StoredGame& g, const core::GameState& s,
                 std::vector<core::ReplayDifference>& out) {
  if (!g.has_session) {
    out.push_back({s.seq, "session", "none", "a game_sessions row"});
    return;
  }
  const auto diff = [&](const char* field, const std::string& stored, const std::string& replayed) {
    if (stored != replayed) out.push_back({s.seq, field, stored, replayed});
  };
  std::string status = "waiting";
  if (s.phase == core::Phase::kChoosingTrump || s.phase == core::Phase::kPlaying)
    status = "playing";
  if (s.phase == core::Phase::kFinished) status = "finished";
  if (s.phase == core::Phase::kAbandoned) status = "abandoned";
  diff("session.status", g.status, status);
  diff("session.points_a", std::to_string(g.points_a), std::to_string(s.points[0]));
  diff("session.points_b", std::to_string(g.points_b), std::to_string(s.points[1]));
  if (s.phase == core::Phase::kFinished) {
    diff("session.winner_team", g.winner_team ? std::to_string(*g.winner_team) : "null",
         std::to_string(s.winner_team));
    diff("session.hands", std::to_string(g.hands), std::to_string(s.hand_no));
  }
}

}  // namespace

int RunReplay(const Globals& globals, const ReplayCliOptions& options) {
  std::uint64_t id = 0;
  if (!ParseGameId(options.id, id)) {
    return Fail(kExitUsage, "replay: \"" + options.id + "\" is not a game id (1 .. 2^63-1)");
  }
  if (!NeedPgRead(globals)) return kExitUsage;
  const std::string game = "game " + std::to_string(id);

  // The segment first, then PostgreSQL: a live game's records are in
  // PostgreSQL up to at least the seq read from the segment once the
  // sidecar caught up; until then both are read again.
  const auto deadline = std::chrono::steady_clock::now() + kCatchUpDeadline;
  std::optional<core::GameState> live;
  std::string segment_note;
  std::optional<StoredGame> stored;
  core::ReplayResult replay;
  for (;;) {
    Result<std::optional<core::GameState>> seg = ReadSegmentGame(globals.shm_name, id);
    if (!seg.ok()) segment_note = seg.status().message();
    live = seg.ok() ? *seg : std::nullopt;
    Result<std::optional<StoredGame>> pg = ReadPgGame(PgReadUrl(globals), id);
    if (!pg.ok()) return Fail(kExitProblems, pg.status().message());
    if (!pg->has_value()) return Fail(kExitProblems, game + ": no records in postgres");
    stored = std::move(*pg);
    core::ReplayOptions replay_options;
    replay_options.max_differences = kMaxShown;
    replay = core::ReplayRecords(stored->records, replay_options);
    const std::uint64_t pg_seq = stored->rows.empty() ? 0 : stored->rows.back().seq;
    if (!live || live->seq == pg_seq || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // a poll, not a sync
  }

  std::vector<core::ReplayDifference> differences = replay.differences;
  std::uint64_t difference_count = replay.difference_count;
  if (!stored->decode_error.empty()) {
    differences.insert(differences.begin(), {0, "decode", stored->decode_error, ""});
    ++difference_count;
  }
  std::vector<core::ReplayDifference> final_differences;
  std::string against;
  std::string final_note;
  if (live) {
    against = "segment";
    const std::uint64_t pg_seq = stored->rows.empty() ? 0 : stored->rows.back().seq;
    if (live->seq != pg_seq) {
      final_note = "postgres holds seq " + std::to_string(pg_seq) + ", the segment seq " +
                   std::to_string(live->seq) + " after " +
                   std::to_string(kCatchUpDeadline.count()) + " s: the sidecar is behind" +
                   (globals.pg_read_url.empty() ? "" : " (or the read replica)");
      final_differences.push_back(
          {live->seq, "state.seq", std::to_string(live->seq), std::to_string(replay.state.seq)});
    } else {
      core::DiffStates(*live, replay.state, final_differences);
    }
  } else {
    against = "postgres";
    if (!segment_note.empty()) final_note = "not live (" + segment_note + ")";
    DiffSession(*stored, replay.state, final_differences);
  }
  difference_count += final_differences.size();
  for (core::ReplayDifference& d : final_differences) {
    if (differences.size() < kMaxShown) differences.push_back(std::move(d));
  }
  const bool identical = difference_count == 0;

  if (options.json) {
    json diffs = json::array();
    for (const core::ReplayDifference& d : differences) {
      diffs.push_back(
          {{"seq", d.seq}, {"field", d.field}, {"stored", d.stored}, {"replayed", d.replayed}});
    }
    json out{
        {"game_id", id},
        {"identical", identical},
        {"records", stored->rows.size()},
        {"commands", replay.commands},
        {"compared", replay.compared},
        {"difference_count", difference_count},
        {"differences", diffs},
        {"stopped_at", replay.stopped_at ? json(replay.stopped_at) : json(nullptr)},
        {"final_state",
         {{"against", against}, {"identical", final_differences.empty()}, {"note", final_note}}}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%s: %zu records in postgres, %llu commands replayed, %llu records compared\n",
                game.c_str(), stored->rows.size(), static_cast<unsigned long long>(replay.commands),
                static_cast<unsigned long long>(replay.compared));
    if (replay.stopped_at != 0) {
      std::printf("the rules refused the command at seq %llu: the replay stopped there\n",
                  static_cast<unsigned long long>(replay.stopped_at));
    }
    std::printf("final state against %s: %s%s%s\n", against.c_str(),
                final_differences.empty() ? "identical" : "differs", final_note.empty() ? "" : "; ",
                final_note.c_str());
    if (identical) {
      std::printf("result: identical\n");
    } else {
      std::printf("result: %llu difference%s%s:\n",
                  static_cast<unsigned long long>(difference_count),
                  difference_count == 1 ? "" : "s",
                  difference_count > differences.size() ? " (the first ones)" : "");
      for (const core::ReplayDifference& d : differences) {
        std::printf("  seq %llu  %s: stored %s, replayed %s\n",
                    static_cast<unsigned long long>(d.seq), d.field.c_str(), d.stored.c_str(),
                    d.replayed.c_str());
      }
    }
  }
  return identical ? kExitOk : kExitProblems;
}

}  // namespace hokm::ctl
