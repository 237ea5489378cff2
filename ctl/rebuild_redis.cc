// rebuild_redis.cc: hokmctl rebuild-redis [--game ID]: rewrites Redis's hot
// state, live games from the engine's segment (its game table, seqlock
// reads: the engine is never paused) and games that ended within their TTL
// from PostgreSQL (replayed from their records), with the leaderboard. It
// is the Redis sink's own rebuild after a loss (sidecar/redis/redis_sink.h,
// "Losing Redis"; the sources are sidecar/rebuild_source.h), run on
// demand; an audit_log row records it.
//
// Without a segment (the engine's segment removed, or never created under
// this name) only PostgreSQL's games come back, and the marker (one
// hokm:marker:{T} per master, sidecar/redis/keys.h) is left alone: the sidecar that next attaches
// checks it and rebuilds its live games itself. With a segment a full rebuild sets the marker, as
// the sink's rebuild does.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "ctl/ctl.h"
#include "ctl/stores.h"
#include "shm/segment.h"
#include "sidecar/rebuild_source.h"
#include "sidecar/redis/redis_sink.h"

namespace hokm::ctl {
namespace {}  // namespace

int RunRebuild(const Globals& globals, const RebuildArgs& args) {
  const std::optional<sidecar::RedisUrl> redis_url = RedisUrlOf(globals);
  if (!redis_url) return kExitUsage;
  const std::optional<sidecar::PgUrl> pg_url = PgUrlOf(globals);
  if (!pg_url) return kExitUsage;

  std::optional<shm::Segment> segment;
  std::string no_segment;  // why there is none
  if (auto s = shm::Segment::Attach(globals.shm_name); s.ok()) {
    segment.emplace(std::move(s).value());
  } else if (s.status().code() == Status::Code::kNotFound) {
    no_segment = "no segment " + globals.shm_name;
  } else {
    return Fail(kExitProblems, s.status().message());
  }
  const shm::GameTable no_games;  // capacity 0: no live game
  auto source = std::make_shared<sidecar::StoreRebuildSource>(segment ? segment->table() : no_games,
                                                              WithTimeouts(*pg_url));
  sidecar::RedisSinkOptions options;
  options.rebuild_source = source;
  options.check_marker = false;
  options.client_name = "hokmctl";
  auto sink = sidecar::RedisSink::Connect(*redis_url, options);
  if (!sink.ok()) return Fail(kExitProblems, sink.status().message());
  const std::optional<std::uint64_t> only =
      args.game != 0 ? std::optional<std::uint64_t>(args.game) : std::nullopt;
  auto counts = sink->Rebuild(only, segment.has_value());
  if (!counts.ok()) return Fail(kExitProblems, counts.status().message());

  std::vector<std::string> problems;
  if (!counts->ended_read) {
    const std::string& e = source->last_error();  // libpq's may run over lines
    problems.push_back(e.substr(0, e.find('\n')));
  }
  if (source->unreplayable() != 0)
    problems.push_back(std::to_string(source->unreplayable()) +
                       " ended game(s) left out: their records in postgresql do not replay to "
                       "their last seq (hokmctl replay ID says where)");
  if (only && counts->live_games + counts->ended_games == 0 && counts->ended_read)
    problems.push_back(
        "game " + std::to_string(*only) + " is neither live" +
        (segment ? std::string(" in ") + globals.shm_name : std::string()) +
        " nor ended within the last " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::minutes>(options.finished_game_ttl).count()) +
        " min in postgresql: nothing rebuilt");

  nlohmann::json details = {{"segment", segment ? nlohmann::json(globals.shm_name) : nullptr},
                            {"live_games", counts->live_games},
                            {"ended_games", counts->ended_games},
                            {"players", counts->players},
                            {"unreplayable", source->unreplayable()},
                            {"marker_set", segment.has_value() && !only}};
  if (only) details["game"] = *only;
  const Status audit = WriteAudit(*pg_url, "rebuild_redis", only, details);
  if (!audit.ok()) problems.push_back("no audit_log row: " + audit.message());

  if (args.json) {
    nlohmann::json out = details;
    out["engine_alive"] = segment ? nlohmann::json(segment->EngineAlive()) : nullptr;
    out["problems"] = problems;
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    if (segment) {
      std::printf("segment %s: engine %s; %llu live game(s) rewritten from it\n",
                  globals.shm_name.c_str(), segment->EngineAlive() ? "alive" : "not running",
                  static_cast<unsigned long long>(counts->live_games));
    } else {
      std::printf(
          "%s: no live games rewritten, only postgresql's games (the marker left to the "
          "sidecar)\n",
          no_segment.c_str());
    }
    std::printf("postgresql: %llu ended game(s) rewritten, %llu leaderboard entr%s\n",
                static_cast<unsigned long long>(counts->ended_games),
                static_cast<unsigned long long>(counts->players),
                counts->players == 1 ? "y" : "ies");
  }
  for (const std::string& p : problems) Fail(kExitProblems, p);
  return problems.empty() ? kExitOk : kExitProblems;
}

}  // namespace hokm::ctl
