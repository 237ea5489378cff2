// rebuild_source.cc: seqlock reads of the game table; ended games replayed
// from PostgreSQL through the rules; ratings.
#include "sidecar/rebuild_source.h"

#include <pqxx/pqxx>

#include "core/records/record_types.h"
#include "core/records/replay.h"
#include "sidecar/stored_record.h"

namespace hokm::sidecar {
namespace {

// The rebuild brings back at most this many ended games, the latest ones:
// each is a replay of its whole history from PostgreSQL (README.md,
// Operations, has what that costs).
constexpr int kMaxEndedGames = 2000;

// The record types that stand for a command (kRecordTypes' `command`),
// whose replay regenerates the rest (core/records/replay.h).
std::string CommandTypeList() {
  std::string list;
  for (const core::RecordTypeInfo& t : core::kRecordTypes) {
    if (!t.command) continue;
    if (!list.empty()) list += ',';
    list += std::to_string(core::RecordTag(t.type));
  }
  return list;
}

// A game_moves row (game_id, seq, type, seat, card, body) as a record.
// False when it is no valid record (stored_record.h).
bool DecodeRow(const pqxx::row& row, core::Change& out) {
  StoredRow r;
  r.game_id = row[0].as<std::uint64_t>();
  r.seq = row[1].as<std::uint64_t>();
  r.type = row[2].as<int>();
  if (!row[3].is_null()) r.seat = row[3].as<int>();
  if (!row[4].is_null()) r.card = row[4].as<int>();
  if (!row[5].is_null()) r.body = std::string_view(row[5].c_str(), row[5].size());
  return DecodeStoredRow(r, out).empty();
}

}  // namespace

struct StoreRebuildSource::Pg {
  explicit Pg(const std::string& conninfo) : conn(conninfo) {}
  pqxx::connection conn;
};

StoreRebuildSource::StoreRebuildSource(const shm::GameTable& table, PgUrl pg_url)
    : table_(table), pg_url_(std::move(pg_url)) {}
StoreRebuildSource::~StoreRebuildSource() = default;

void StoreRebuildSource::LiveGames(std::vector<RebuiltGame>& out) const {
  core::GameState game;
  for (std::uint32_t slot = 0; slot < table_.capacity(); ++slot) {
    if (table_.GameIdAt(slot) == 0) continue;  // free: skip the copy
    std::uint64_t game_id = 0;
    if (!table_.Read(slot, game, &game_id) || game_id == 0 || game.phase == core::Phase::kEmpty)
      continue;
    RebuiltGame& g = out.emplace_back();
    g.game_id = game_id;
    g.state = PublicState::FromGame(game);
  }
}

std::optional<PublicState> StoreRebuildSource::FindLive(std::uint64_t game_id) const {
  core::GameState game;
  if (table_.ReadGame(game_id, game) != shm::ReadResult::kOk || game.phase == core::Phase::kEmpty)
    return std::nullopt;
  return PublicState::FromGame(game);
}

Status StoreRebuildSource::EndedGames(std::chrono::milliseconds within,
                                      std::optional<std::uint64_t> only,
                                      std::vector<RebuiltGame>& out) const {
  unreplayable_ = 0;
  last_error_.clear();
  try {
    if (!pg_ || !pg_->conn.is_open()) pg_ = std::make_unique<Pg>(pg_url_.ConnInfo());
    pqxx::read_transaction tx(pg_->conn);
    tx.exec("SET LOCAL jit = off");  // compiling the plan costs more than running it
    const pqxx::result games = tx.exec_params(
        "SELECT s.game_id, floor(extract(epoch FROM s.finished_at) * 1000)::bigint, "
        "(SELECT max(seq) FROM game_moves m WHERE m.game_id = s.game_id) FROM "
        "(SELECT game_id, finished_at FROM game_sessions WHERE status IN ('finished', 'abandoned') "
        "AND finished_at > now() - make_interval(secs => $1) AND ($3::bigint IS NULL OR game_id = "
        "$3) ORDER BY finished_at DESC LIMIT $2) s ORDER BY s.game_id",
        static_cast<double>(within.count()) / 1000.0, kMaxEndedGames,
        only ? std::optional<std::int64_t>(static_cast<std::int64_t>(*only)) : std::nullopt);
    std::string ids = "{";
    for (const pqxx::row& g : games) {
      if (ids.size() > 1) ids += ',';
      ids += g[0].c_str();
    }
    ids += '}';
    const pqxx::result rows = tx.exec_params(
        "SELECT m.game_id, m.seq, m.type, m.seat, m.card, m.body::text FROM game_moves m "
        "WHERE m.game_id = ANY($1::bigint[]) AND m.type IN (" +
            CommandTypeList() + ") ORDER BY m.game_id, m.seq",
        ids);
    std::size_t at = 0;
    std::vector<core::Change> records;
    for (const pqxx::row& g : games) {
      const auto game_id = g[0].as<std::uint64_t>();
      const auto last_seq = g[2].is_null() ? 0 : g[2].as<std::uint64_t>();
      records.clear();
      bool ok = true;
      for (; at < rows.size() && rows[at][0].as<std::uint64_t>() == game_id; ++at) {
        ok = ok && DecodeRow(rows[at], records.emplace_back());
      }
      core::ReplayOptions options;
      options.input = core::ReplayInput::kCommandsOnly;
      options.max_differences = 0;  // only whether the replay reproduces them
      const core::ReplayResult replay =
          ok ? core::ReplayRecords(records, options) : core::ReplayResult{};
      const core::GameState& s = replay.state;
      if (!ok || !replay.identical() || s.seq != last_seq ||
          (s.phase != core::Phase::kFinished && s.phase != core::Phase::kAbandoned)) {
        ++unreplayable_;
        continue;
      }
      RebuiltGame& r = out.emplace_back();
      r.game_id = game_id;
      r.state = PublicState::FromGame(s);
      r.ended_ms = g[1].as<std::uint64_t>();
    }
  } catch (const std::exception& e) {
    pg_.reset();
    last_error_ =
        std::string("reading ended games from postgres at ") + pg_url_.HostPort() + ": " + e.what();
    return Status::Unavailable(last_error_);
  }
  return Status::Ok();
}

Status StoreRebuildSource::Ratings(std::vector<PlayerRating>& out) const {
  last_error_.clear();
  try {
    if (!pg_ || !pg_->conn.is_open()) pg_ = std::make_unique<Pg>(pg_url_.ConnInfo());
    pqxx::read_transaction tx(pg_->conn);
    // The leaderboard (keys::Leaderboard) holds players with a rated
    // (finished) game.
    for (const pqxx::row& r : tx.exec("SELECT player_id, rating FROM players WHERE games > 0")) {
      out.push_back({r[0].as<std::uint64_t>(), r[1].as<std::int64_t>()});
    }
  } catch (const std::exception& e) {
    pg_.reset();
    last_error_ =
        std::string("reading ratings from postgres at ") + pg_url_.HostPort() + ": " + e.what();
    return Status::Unavailable(last_error_);
  }
  return Status::Ok();
}

}  // namespace hokm::sidecar
