// verify.cc: the drain wait and the batched store checks of --verify (see
// verify.h).
#include "loadgen/verify/verify.h"

#include <time.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <unordered_map>

#include "loadgen/baseline/seed_state.h"
#include "loadgen/redis_conn.h"
#include "loadgen/verify/sidecar_probe.h"
#include "shm/segment.h"
#include "sidecar/public_state.h"
#include "sidecar/redis/keys.h"
#include "sidecar/redis/stream_entry.h"
#include "sidecar/url.h"

namespace hokm::loadgen {
namespace {

constexpr std::size_t kPgChunk = 5000;
constexpr std::size_t kRedisChunk = 1000;
constexpr int kMaxReported = 5;

// "{1,2,3}": a PostgreSQL array literal, passed as one text parameter.
std::string ArrayLiteral(const std::vector<GameRecord>& games, std::size_t begin, std::size_t end,
                         bool last_seq) {
  std::string out = "{";
  for (std::size_t i = begin; i < end; ++i) {
    if (i != begin) out += ',';
    out += std::to_string(last_seq ? games[i].last_seq : games[i].game_id);
  }
  out += '}';
  return out;
}

const char* SessionStatus(core::Phase phase) {
  return phase == core::Phase::kFinished    ? "finished"
         : phase == core::Phase::kAbandoned ? "abandoned"
                                            : "";
}

void Report(int& reported, const std::string& what) {
  if (reported++ < kMaxReported) std::fprintf(stderr, "hokm-loadgen: verify: %s\n", what.c_str());
}

Status CheckPostgres(const LoadgenOptions& options, bool seed, const std::vector<GameRecord>& games,
                     VerifyResult& v, int& reported) {
  auto url = sidecar::ParsePgUrl(options.pg_url);
  if (!url.ok()) return Status::InvalidArgument("--pg-url: " + url.status().message());
  const std::string table = seed ? "seed_moves" : "game_commands";
  try {
    pqxx::connection conn(url->ConnInfo());
    pqxx::nontransaction tx(conn);
    tx.exec("SET jit = off");  // compiling these plans took longer than running them
    // Per game: all its records, and the distinct seqs among 1..last. The
    // product's rows are commands (schemas/postgres/004_game_commands.sql):
    // each covers seqs [seq, seq + n - 1]; a seq counts once however many
    // rows cover it (the running end of the rows before tells), so
    // records - distinct is what is there twice or outside 1..last.
    const std::string moves_sql =
        seed ? "SELECT m.game_id, count(*), count(DISTINCT m.seq) FILTER (WHERE m.seq BETWEEN 1 "
               "AND e.last_seq) "
               "FROM seed_moves m JOIN unnest($1::bigint[], $2::bigint[]) AS e(game_id, last_seq) "
               "ON m.game_id = e.game_id WHERE m.game_id = ANY($1::bigint[]) GROUP BY m.game_id"
             : "WITH r AS ("
               "  SELECT game_id, seq, hokm_command_last_seq(c) - seq + 1 AS n"
               "    FROM game_commands c WHERE game_id = ANY($1::bigint[])"
               "  UNION ALL SELECT game_id, seq, 1 FROM game_moves_v1 WHERE game_id = "
               "ANY($1::bigint[])"
               "), w AS ("
               "  SELECT r.game_id, r.seq, r.n, e.last_seq,"
               "         max(r.seq + r.n - 1) OVER (PARTITION BY r.game_id ORDER BY r.seq, r.n"
               "                                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 "
               "PRECEDING) AS prev_end"
               "    FROM r JOIN unnest($1::bigint[], $2::bigint[]) AS e(game_id, last_seq) ON "
               "r.game_id = e.game_id"
               ") SELECT game_id, sum(n), sum(greatest(0, least(seq + n - 1, last_seq)"
               "                              - greatest(seq, coalesce(prev_end, 0) + 1, 1) + 1))"
               "  FROM w GROUP BY game_id";
    const std::string sessions_sql =
        "SELECT game_id, status, points_a, points_b FROM game_sessions WHERE game_id = "
        "ANY($1::bigint[])";
    for (std::size_t begin = 0; begin < games.size(); begin += kPgChunk) {
      const std::size_t end = std::min(games.size(), begin + kPgChunk);
      std::unordered_map<std::uint64_t, const GameRecord*> expected;
      for (std::size_t i = begin; i < end; ++i) expected[games[i].game_id] = &games[i];
      const std::string ids = ArrayLiteral(games, begin, end, false);
      const std::string seqs = ArrayLiteral(games, begin, end, true);

      std::unordered_map<std::uint64_t, std::uint64_t> good_by_game;
      for (const auto& row : tx.exec_params(moves_sql, ids, seqs)) {
        const auto id = row[0].as<std::uint64_t>();
        const auto rows = row[1].as<std::uint64_t>();
        const auto good = row[2].as<std::uint64_t>();
        v.pg_moves += rows;
        v.duplicated += rows - good;
        good_by_game[id] = good;
        if (rows != good)
          Report(reported, "game " + std::to_string(id) + ": " + std::to_string(rows - good) +
                               " extra row(s) in " + table);
      }
      for (std::size_t i = begin; i < end; ++i) {
        const auto it = good_by_game.find(games[i].game_id);
        const std::uint64_t good = it == good_by_game.end() ? 0 : it->second;
        if (good < games[i].last_seq) {
          v.lost += games[i].last_seq - good;
          Report(reported, "game " + std::to_string(games[i].game_id) + ": " +
                               std::to_string(games[i].last_seq - good) + " of " +
                               std::to_string(games[i].last_seq) + " move row(s) missing in " +
                               table);
        }
        if (seed && good != 0) ++v.pg_games;
      }
      if (seed) continue;
      for (const auto& row : tx.exec_params(sessions_sql, ids)) {
        ++v.pg_games;
        const auto id = row[0].as<std::uint64_t>();
        const GameRecord& g = *expected.at(id);
        const std::string want = SessionStatus(g.phase);
        if (want.empty()) continue;  // a live game: its row is still changing
        const std::string status = row[1].as<std::string>();
        const int a = row[2].as<int>();
        const int b = row[3].as<int>();
        if (status != want || a != g.points[0] || b != g.points[1]) {
          ++v.mismatched;
          Report(reported, "game " + std::to_string(id) + ": game_sessions says " + status + " " +
                               std::to_string(a) + ":" + std::to_string(b) + ", the engine " +
                               want + " " + std::to_string(g.points[0]) + ":" +
                               std::to_string(g.points[1]));
        }
      }
    }
  } catch (const std::exception& e) {
    return Status::Unavailable("verify: postgres at " + url->HostPort() + ": " + e.what());
  }
  return Status::Ok();
}

std::string_view Text(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_STRING ? std::string_view(r->str, r->len)
                                                       : std::string_view();
}

// The whole Redis state against the engine's, field by field (updated_ms
// aside: the engine keeps no clock): the engine's state now when the game
// is still live in `segment`, else its final state as loadgen mirrored it.
// A Redis that lost data and was not rebuilt shows here (room, target,
// seats missing).
void CompareWhole(const shm::Segment* segment, const GameRecord& g,
                  const sidecar::PublicState& stored, VerifyResult& v, int& reported) {
  std::optional<sidecar::PublicState> engine = g.final_state;
  core::GameState game;
  if (segment != nullptr && segment->table().ReadGame(g.game_id, game) == shm::ReadResult::kOk &&
      game.phase != core::Phase::kEmpty) {
    engine = sidecar::PublicState::FromGame(game);
  }
  if (!engine) return;  // --verify-only: seq, phase and points were checked
  ++v.compared_whole;
  engine->updated_ms = stored.updated_ms;
  if (*engine == stored) return;
  ++v.mismatched;
  std::string want, got;
  engine->AppendJson(want);
  stored.AppendJson(got);
  Report(reported, "game " + std::to_string(g.game_id) +
                       ": its Redis state differs from the engine's:\n  engine " + want +
                       "\n  redis  " + got);
}

Status CheckRedis(const LoadgenOptions& options, bool seed, const std::vector<GameRecord>& games,
                  const shm::Segment* segment, VerifyResult& v, int& reported) {
  auto url = sidecar::ParseRedisUrl(options.redis_url);
  if (!url.ok()) return Status::InvalidArgument("--redis-url: " + url.status().message());
  if (options.redis_cluster) url->cluster = true;
  auto conn = ConnectRedis(*url);
  if (!conn.ok()) return conn.status();
  std::vector<std::string> keys;
  for (std::size_t begin = 0; begin < games.size(); begin += kRedisChunk) {
    const std::size_t end = std::min(games.size(), begin + kRedisChunk);
    keys.clear();
    for (std::size_t i = begin; i < end; ++i) {
      keys.push_back(seed ? SeedGameKey(games[i].game_id) : sidecar::keys::Game(games[i].game_id));
    }
    for (const std::string& key : keys) {
      if (seed) {
        conn->Append({"GET", key});
      } else {
        conn->Append({"XREVRANGE", key, "+", "-", "COUNT", "1"});
      }
    }
    for (std::size_t i = begin; i < end; ++i) {
      RedisReply r = conn->GetReply();
      if (!r)
        return Status::Unavailable("verify: redis at " + conn->Where() + ": " + conn->Error());
      const GameRecord& g = games[i];
      std::string seq, phase, a, b;
      if (seed) {
        if (r->type != REDIS_REPLY_STRING) continue;  // missing
        core::GameState s;
        if (!DecodeSeedState(Text(r.get()), s)) {
          ++v.redis_games;
          ++v.mismatched;
          Report(reported,
                 "game " + std::to_string(g.game_id) + ": its Redis document does not parse");
          continue;
        }
        seq = std::to_string(s.seq);
        phase = RedisPhaseName(s.phase);
        a = std::to_string(s.points[0]);
        b = std::to_string(s.points[1]);
      } else {
        // [[id, [field, value, ...]]]: the game's last stream entry, whose
        // `state` is the public state (sidecar/public_state.h).
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 1) continue;  // missing
        std::optional<sidecar::PublicState> state;
        if (const auto entry = sidecar::ParseStreamEntry(r->element[0]))
          state = sidecar::PublicStateFromJson(entry->Field("state"));
        if (!state) {
          ++v.redis_games;
          ++v.mismatched;
          Report(reported,
                 "game " + std::to_string(g.game_id) + ": its Redis stream has no parsable state");
          continue;
        }
        seq = std::to_string(state->seq);
        phase = sidecar::PhaseName(state->phase);
        a = std::to_string(state->points[0]);
        b = std::to_string(state->points[1]);
        CompareWhole(segment, g, *state, v, reported);
      }
      ++v.redis_games;
      if (seq != std::to_string(g.last_seq) || phase != RedisPhaseName(g.phase) ||
          a != std::to_string(g.points[0]) || b != std::to_string(g.points[1])) {
        ++v.mismatched;
        Report(reported, "game " + std::to_string(g.game_id) + ": Redis has seq " + seq + " " +
                             phase + " " + a + ":" + b + ", the engine seq " +
                             std::to_string(g.last_seq) + " " + RedisPhaseName(g.phase) + " " +
                             std::to_string(g.points[0]) + ":" + std::to_string(g.points[1]));
      }
    }
  }
  return Status::Ok();
}

}  // namespace

const char* RedisPhaseName(core::Phase phase) {
  return phase == core::Phase::kEmpty ? ""
                                      : sidecar::PhaseName(sidecar::PublicState::PhaseOf(phase));
}

Status WaitForSidecarDrain(const LoadgenOptions& options, const shm::Segment* segment) {
  auto metrics_url = ParseHttpUrl(options.sidecar_metrics);
  if (!metrics_url.ok())
    return Status::InvalidArgument("--sidecar-metrics: " + metrics_url.status().message());
  const HttpUrl health_url = HealthUrlOf(*metrics_url);
  const std::uint64_t deadline =
      NowNs() + static_cast<std::uint64_t>(options.verify_timeout_s * 1e9);
  std::string pending;
  for (;;) {
    std::uint64_t ring_lag = 0;
    if (segment != nullptr) {
      for (std::uint32_t s = 0; s < segment->shards(); ++s)
        ring_lag += segment->change_ring(s).Lag();
    }
    auto body = HttpGet(health_url, std::chrono::milliseconds(1000), /*accept_unavailable=*/true);
    Result<SidecarHealth> health =
        body.ok() ? ParseSidecarHealth(*body) : Result<SidecarHealth>(body.status());
    if (ring_lag == 0) {
      if (health.ok() && health->Drained()) return Status::Ok();
      if (!health.ok()) {
        std::fprintf(
            stderr,
            "hokm-loadgen: verify: %s; sidecar /health at %s:%u%s not answering (%s), so its "
            "spill queues are not checked\n",
            segment != nullptr ? "the change rings are empty" : "no segment to look at",
            health_url.host.c_str(), health_url.port, health_url.path.c_str(),
            health.status().message().c_str());
        return Status::Ok();
      }
    }
    pending = "change rings hold " + std::to_string(ring_lag) + " bytes; sidecar ";
    pending += health.ok()
                   ? "lag " + std::to_string(health->lag_records) + " records, spill redis " +
                         std::to_string(health->redis_spill_records) + " postgres " +
                         std::to_string(health->postgres_spill_records)
                   : health.status().message();
    if (NowNs() > deadline) {
      return Status::Unavailable("the sidecar did not drain within " +
                                 std::to_string(options.verify_timeout_s) + " s (" + pending + ")");
    }
    timespec ts{0, 50'000'000};
    nanosleep(&ts, nullptr);
  }
}

Result<VerifyResult> VerifyGames(const LoadgenOptions& options, Mode mode,
                                 const std::vector<GameRecord>& games,
                                 const shm::Segment* segment) {
  const bool seed = mode == Mode::kSeedBaseline;
  VerifyResult v;
  v.games = games.size();
  int reported = 0;
  if (Status s = CheckPostgres(options, seed, games, v, reported); !s.ok()) return s;
  if (Status s = CheckRedis(options, seed, games, segment, v, reported); !s.ok()) return s;
  if (reported > kMaxReported) {
    std::fprintf(stderr, "hokm-loadgen: verify: ... %d more\n", reported - kMaxReported);
  }
  v.ok = v.lost == 0 && v.duplicated == 0 && v.mismatched == 0 && v.pg_games == v.games &&
         v.redis_games == v.games;
  return v;
}

Status SaveGames(const std::string& path, Mode mode, const std::vector<GameRecord>& games) {
  std::ofstream out(path, std::ios::trunc);
  if (!out)
    return Status::IoError("--save-games: cannot create " + path + ": " + std::strerror(errno));
  out << "# hokm-loadgen games v1 mode=" << ModeName(mode) << '\n';
  for (const GameRecord& g : games) {
    out << g.game_id << ' ' << g.last_seq << ' ' << static_cast<int>(g.phase) << ' '
        << static_cast<int>(g.points[0]) << ' ' << static_cast<int>(g.points[1]) << '\n';
  }
  out.close();
  if (!out)
    return Status::IoError("--save-games: cannot write " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

Result<SavedGames> LoadGames(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return Status::NotFound("--verify-only: cannot open " + path + ": " + std::strerror(errno));
  SavedGames saved;
  std::string line;
  constexpr std::string_view kHeader = "# hokm-loadgen games v1 mode=";
  if (!std::getline(in, line) || line.compare(0, kHeader.size(), kHeader) != 0) {
    return Status::InvalidArgument("--verify-only: " + path + " is not a --save-games file");
  }
  const std::string mode = line.substr(kHeader.size());
  bool known = false;
  for (Mode m : {Mode::kEmbedded, Mode::kShm, Mode::kRules, Mode::kSeedBaseline}) {
    if (mode == ModeName(m)) {
      saved.mode = m;
      known = true;
    }
  }
  if (!known)
    return Status::InvalidArgument("--verify-only: " + path + ": unknown mode '" + mode + "'");
  std::size_t line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    std::istringstream fields(line);
    GameRecord g;
    unsigned phase = 0, a = 0, b = 0;
    if (!(fields >> g.game_id >> g.last_seq >> phase >> a >> b) || phase > 5 || a > 255 ||
        b > 255) {
      return Status::InvalidArgument("--verify-only: " + path + ":" + std::to_string(line_no) +
                                     ": not a game line");
    }
    g.phase = static_cast<core::Phase>(phase);
    g.points[0] = static_cast<std::uint8_t>(a);
    g.points[1] = static_cast<std::uint8_t>(b);
    saved.games.push_back(g);
  }
  return saved;
}

}  // namespace hokm::loadgen
