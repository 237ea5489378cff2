// rebuild_source.cc: seqlock reads of the game table; ended games replayed
// from PostgreSQL through the rules; ratings.
#include "sidecar/rebuild_source.h"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "core/records/record_types.h"
#include "core/rules/rules.h"

namespace hokm::sidecar {
namespace {

namespace fb = hokm::fb;

// The rebuild brings back at most this many ended games, the latest ones:
// each is a replay of its whole history from PostgreSQL (README.md,
// Operations, has what that costs).
constexpr int kMaxEndedGames = 2000;

// The record types that stand for a command (kRecordTypes' `command`),
// whose replay regenerates the rest. PlayerConnection changes no game state.
std::string CommandTypeList() {
  std::string list;
  for (const core::RecordTypeInfo& t : core::kRecordTypes) {
    if (!t.command) continue;
    if (!list.empty()) list += ',';
    list += std::to_string(core::RecordTag(t.type));
  }
  return list;
}

// One stored record of a command type, applied to `s` through the rules.
// False when the rules refuse it or its first record is not at `seq`.
bool ApplyStored(core::GameState& s, std::uint64_t game_id, std::uint64_t seq, fb::Body type,
                 const pqxx::row& row) {
  const nlohmann::json body =
      row[5].is_null() ? nlohmann::json::object()
                       : nlohmann::json::parse(row[5].c_str(), nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return false;
  const auto seat = [&] { return row[3].is_null() ? body.value("seat", -1) : row[3].as<int>(); };
  core::ChangeBuffer out;
  core::CommandResult r = core::CommandResult::kInvalidCommand;
  switch (type) {
    case fb::Body::GameCreated: {
      core::RulesConfig config;
      config.play_all_tricks = body.value("play_all_tricks", false);
      config.kot_points_hakem_team = body.value("kot_points_hakem_team", std::uint8_t{2});
      config.kot_points_opponents = body.value("kot_points_opponents", std::uint8_t{3});
      config.target_points = body.value("target_points", std::uint8_t{7});
      config.first_hakem = static_cast<core::FirstHakem>(body.value("first_hakem", 0));
      r = core::CreateGame(s, game_id, body.value("room", std::string()),
                           body.value("seed", std::uint64_t{0}), config, out);
      break;
    }
    case fb::Body::PlayerJoined:
      r = core::Join(s, seat(), body.value("player_id", std::uint64_t{0}), out);
      break;
    case fb::Body::PlayerLeft:
      r = core::Leave(s, seat(), out);
      break;
    case fb::Body::TrumpChosen:
      r = core::ChooseTrump(s, seat(), static_cast<core::Suit>(body.value("suit", 0xFF)), out);
      break;
    case fb::Body::CardPlayed:
      if (row[4].is_null()) return false;
      r = core::PlayCard(s, seat(), static_cast<core::Card>(row[4].as<int>()), out);
      break;
    case fb::Body::GameAbandoned:
      r = core::Abandon(s, out);
      break;
    default:
      return false;
  }
  return r == core::CommandResult::kOk && out.count > 0 && out.items[0].game_seq == seq;
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
        "AND finished_at > now() - make_interval(secs => $1) ORDER BY finished_at DESC LIMIT $2) s "
        "ORDER BY s.game_id",
        static_cast<double>(within.count()) / 1000.0, kMaxEndedGames);
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
    for (const pqxx::row& g : games) {
      const auto game_id = g[0].as<std::uint64_t>();
      const auto last_seq = g[2].is_null() ? 0 : g[2].as<std::uint64_t>();
      core::GameState s{};
      bool ok = true;
      for (; at < rows.size() && rows[at][0].as<std::uint64_t>() == game_id; ++at) {
        ok = ok && ApplyStored(s, game_id, rows[at][1].as<std::uint64_t>(),
                               static_cast<fb::Body>(rows[at][2].as<int>()), rows[at]);
      }
      if (!ok || s.seq != last_seq ||
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
    // hokm:lb:global holds players with a rated (finished) game.
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
