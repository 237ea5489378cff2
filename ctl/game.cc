// game.cc: hokmctl game ID [--records] [--json]: one game's public state
// from the first place that has it: the engine's segment (live games), else
// Redis (the last entry of hokm:g:{ID}), else PostgreSQL (its records
// replayed through the rules, with its game_sessions row). A store that is
// down is said on stderr and the next one is tried; --records lists the
// game's records from PostgreSQL (game_moves). PostgreSQL is read from the
// read replica when one is given (ctl.h, PgReadUrl): a game that ended a
// moment ago may not be there yet, and is then still in Redis.
//
// Exit: 0 found; 1 unknown game (or nowhere left to look); 2 usage (a bad
// id). JSON: {"game_id", "source": "segment"|"redis"|"postgres", "state":
// the public state (sidecar/public_state.h), "session": the game_sessions
// row or null, "unavailable": [messages of the stores that were down],
// "records": [{"seq", "type", "json"}] with --records}.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/records/replay.h"
#include "core/rules/card.h"
#include "ctl/ctl.h"
#include "ctl/game_stores.h"

namespace hokm::ctl {
namespace {

using nlohmann::json;

json SessionJson(const StoredGame& g) {
  if (!g.has_session) return nullptr;
  return json{{"status", g.status},
              {"created_at", g.created_at},
              {"finished_at", g.finished_at.empty() ? json(nullptr) : json(g.finished_at)},
              {"winner_team", g.winner_team ? json(*g.winner_team) : json(nullptr)},
              {"points", {g.points_a, g.points_b}},
              {"hands", g.hands}};
}

std::string Seat(std::int8_t v) {
  return v == sidecar::PublicState::kNone ? "-" : std::to_string(v);
}

// "TS" for a card on the table, "-" for none.
std::string CardText(std::int8_t v) {
  if (v < 0 || !core::IsValidCard(static_cast<core::Card>(v))) return "-";
  char name[2];
  core::CardName(static_cast<core::Card>(v), name);
  return std::string(name, 2);
}

std::string SuitText(std::int8_t v) {
  return v < 0 || v > 3 ? "-" : std::string(1, core::SuitName(static_cast<core::Suit>(v)));
}

void PrintState(const sidecar::PublicState& s) {
  std::printf("  seq %llu, phase %s, room \"%.*s\", target %u\n",
              static_cast<unsigned long long>(s.seq), sidecar::PhaseName(s.phase),
              static_cast<int>(s.room_size), s.room.data(), static_cast<unsigned>(s.target));
  std::printf("  seats: %llu %llu %llu %llu\n", static_cast<unsigned long long>(s.seats[0]),
              static_cast<unsigned long long>(s.seats[1]),
              static_cast<unsigned long long>(s.seats[2]),
              static_cast<unsigned long long>(s.seats[3]));
  std::printf("  hand %u, hakem %s, trump %s, turn %s, leader %s\n", static_cast<unsigned>(s.hand),
              Seat(s.hakem).c_str(), SuitText(s.trump).c_str(), Seat(s.turn).c_str(),
              Seat(s.leader).c_str());
  std::printf("  table (seats 0-3): %s %s %s %s, tricks done %u, tricks A-B %u-%u\n",
              CardText(s.table[0]).c_str(), CardText(s.table[1]).c_str(),
              CardText(s.table[2]).c_str(), CardText(s.table[3]).c_str(),
              static_cast<unsigned>(s.trick_no), static_cast<unsigned>(s.tricks[0]),
              static_cast<unsigned>(s.tricks[1]));
  std::printf("  points A-B %u-%u, winner %s\n", static_cast<unsigned>(s.points[0]),
              static_cast<unsigned>(s.points[1]),
              s.winner == sidecar::PublicState::kNone ? "-" : (s.winner == 0 ? "A" : "B"));
}

}  // namespace

int RunGame(const Globals& globals, const GameOptions& options) {
  std::uint64_t id = 0;
  if (!ParseGameId(options.id, id)) {
    return Fail(kExitUsage, "game: \"" + options.id + "\" is not a game id (1 .. 2^63-1)");
  }
  json unavailable = json::array();
  const auto down = [&](const Status& s) {
    Fail(kExitProblems, s.message() + " (trying the next source)");
    unavailable.push_back(s.message());
  };

  std::optional<sidecar::PublicState> state;
  std::string source;
  if (Result<std::optional<core::GameState>> live = ReadSegmentGame(globals.shm_name, id);
      !live.ok()) {
    down(live.status());
  } else if (live->has_value()) {
    state = sidecar::PublicState::FromGame(**live);
    source = "segment";
  }
  if (!state && !globals.redis_url.empty()) {
    Result<std::optional<sidecar::PublicState>> hot =
        ReadRedisGame(globals.redis_url, globals.redis_cluster, id);
    if (!hot.ok()) {
      down(hot.status());
    } else if (hot->has_value()) {
      state = **hot;
      source = "redis";
    }
  } else if (!state) {
    down(Status::Unavailable("redis: no --redis-url, HOKM_REDIS_URL or REDIS_URL"));
  }

  // PostgreSQL: the state when neither had the game; the session and the
  // records whenever it is asked for them or holds the state.
  std::optional<StoredGame> stored;
  bool pg_read = false;
  if (!state || options.records) {
    if (PgReadUrl(globals).empty()) {
      down(Status::Unavailable("postgres: no --pg-url, HOKM_PG_URL or DATABASE_URL"));
    } else if (Result<std::optional<StoredGame>> pg = ReadPgGame(PgReadUrl(globals), id);
               !pg.ok()) {
      down(pg.status());
    } else {
      pg_read = true;
      stored = std::move(*pg);
    }
  }
  std::string note;
  if (!state && stored) {
    const core::ReplayResult replay = core::ReplayRecords(stored->records);
    if (replay.state.phase != core::Phase::kEmpty) {
      state = sidecar::PublicState::FromGame(replay.state);
      source = "postgres";
    }
    if (!stored->decode_error.empty()) {
      note = "a stored record does not decode (" + stored->decode_error + ")";
    } else if (!replay.identical()) {
      note = "its records do not replay identically from seq " +
             std::to_string(replay.differences.empty() ? 0 : replay.differences[0].seq) +
             " (hokmctl replay " + std::to_string(id) + ")";
    }
  }
  if (!state) {
    const std::string where = unavailable.empty() ? "" : " (a store was down: see above)";
    return Fail(kExitProblems, "game " + std::to_string(id) + ": no such game in the segment" +
                                   (globals.redis_url.empty() ? "" : ", redis") +
                                   (pg_read ? ", postgres" : "") + where);
  }
  if (!note.empty()) Fail(kExitProblems, "game " + std::to_string(id) + ": " + note);

  if (options.json) {
    std::string state_json;
    state->AppendJson(state_json);
    json out{{"game_id", id},
             {"source", source},
             {"state", json::parse(state_json)},
             {"session", stored ? SessionJson(*stored) : json(nullptr)},
             {"unavailable", unavailable}};
    if (!note.empty()) out["note"] = note;
    if (options.records) {
      json rows = json::array();
      if (stored) {
        for (const StoredGame::Row& r : stored->rows) {
          rows.push_back({{"seq", r.seq}, {"type", r.type_name}, {"json", json::parse(r.json)}});
        }
      }
      out["records"] = std::move(rows);
    }
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  std::printf("game %llu (source: %s)\n", static_cast<unsigned long long>(id), source.c_str());
  PrintState(*state);
  if (stored && stored->has_session) {
    std::printf("  postgres: %s, created %s%s%s, %d hands, points %d-%d\n", stored->status.c_str(),
                stored->created_at.c_str(), stored->finished_at.empty() ? "" : ", ended ",
                stored->finished_at.c_str(), stored->hands, stored->points_a, stored->points_b);
  }
  if (options.records) {
    if (!stored) {
      std::printf("records: none in postgres\n");
    } else {
      std::printf("records (%zu, from postgres):\n", stored->rows.size());
      for (const StoredGame::Row& r : stored->rows) {
        std::printf("  %6llu  %-16s %s\n", static_cast<unsigned long long>(r.seq),
                    r.type_name.c_str(), r.json.c_str());
      }
    }
  }
  return kExitOk;
}

}  // namespace hokm::ctl
