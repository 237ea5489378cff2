// sink_throughput.cc: hokm-sink-throughput, a bounded load loop that pushes
// records from real-rules games through each sink against the servers of
// `make services` and prints records/s, stream entries, commands, round trips and
// transactions per batch. Not a ctest: run it by hand.
//
//   hokm-sink-throughput [records=100000] [batch=1000] [concurrent_games=2000]
//                        [which=all|redis|pg]
//
// Records come from concurrent_games games at a time, interleaved as they
// would reach the change ring; each run uses fresh game ids and deletes
// them afterwards.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>

#include "tests/integration/stores.h"

namespace hokm::sidecar::integration {
namespace {

using Clock = std::chrono::steady_clock;

struct Workload {
  std::deque<ScriptedGame> games;  // a deque: records point into it while it grows
  std::vector<const OwnedRecord*> records;
};

// Waves of `concurrent` games, each wave's records interleaved round-robin.
Workload MakeWorkload(std::uint64_t counter, std::size_t want, std::size_t concurrent) {
  Workload w;
  std::uint64_t game = 1;
  while (w.records.size() < want && game < (1u << 20)) {
    const std::size_t base = w.games.size();
    for (std::size_t i = 0; i < concurrent && game < (1u << 20); ++i, ++game) {
      const std::uint64_t p = (counter << 16) | ((game * 4) & 0xFFFC);
      w.games.push_back(PlayRealGame((counter << 20) | game, {p, p + 1, p + 2, p + 3}, game,
                                     1'790'000'000'000'000'000ull));
    }
    std::vector<std::size_t> next(w.games.size() - base, 0);
    for (bool any = true; any && w.records.size() < want;) {
      any = false;
      for (std::size_t g = base; g < w.games.size() && w.records.size() < want; ++g) {
        if (next[g - base] < w.games[g].records.size()) {
          w.records.push_back(&w.games[g].records[next[g - base]++]);
          any = true;
        }
      }
    }
  }
  return w;
}

int Run(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  const std::size_t want =
      std::min<std::size_t>(argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000, 2'000'000);
  const std::size_t batch =
      std::max<std::size_t>(1, argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1000);
  const std::size_t concurrent =
      std::max<std::size_t>(1, argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 2000);
  const std::string which = argc > 4 ? argv[4] : "all";
  auto redis_url = ParseRedisUrl(RedisUrlString());
  auto pg_url = ParsePgUrl(PgUrlString());
  if (!redis_url.ok() || !pg_url.ok()) {
    std::fprintf(stderr, "bad URL: %s %s\n", redis_url.status().message().c_str(),
                 pg_url.status().message().c_str());
    return 2;
  }
  const std::uint64_t counter =
      ((static_cast<std::uint64_t>(std::time(nullptr)) & ((1ull << 28) - 1)) << 10) | 0x3FF;
  std::printf("building %zu records (%zu concurrent games)...\n", want, concurrent);
  const Workload w = MakeWorkload(counter, want, concurrent);
  const std::vector<RecordRef> refs = testing::Refs(w.records);
  std::printf("%zu records from %zu games, batches of %zu\n", refs.size(), w.games.size(), batch);

  const auto run = [&](const char* name, auto&& write) {
    const auto t0 = Clock::now();
    for (std::size_t at = 0; at < refs.size(); at += batch) {
      const std::span<const RecordRef> b(refs.data() + at, std::min(batch, refs.size() - at));
      if (Status s = write(b); !s.ok()) {
        std::fprintf(stderr, "%s: %s\n", name, s.message().c_str());
        return -1.0;
      }
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    return refs.size() / secs;
  };

  RedisProbe probe;
  const auto clean_redis = [&] {
    if (!probe.Connect(*redis_url)) return;
    std::vector<std::vector<std::string>> cmds;
    for (const auto& g : w.games) {
      AppendGameCleanup(g.game_id, cmds);
      for (std::uint64_t p : g.players) AppendPlayerCleanup(p, cmds);
    }
    for (std::size_t at = 0; at < cmds.size(); at += 10000) {
      probe.Pipeline(std::vector<std::vector<std::string>>(
          cmds.begin() + static_cast<std::ptrdiff_t>(at),
          cmds.begin() + static_cast<std::ptrdiff_t>(std::min(at + 10000, cmds.size()))));
    }
  };

  // Redis's own time in commands (INFO commandstats, every command), to
  // tell server from client.
  const auto server_usec = [&]() -> double {
    if (!probe.Connect(*redis_url)) return 0;
    RedisProbe::Reply r = probe.Command({"INFO", "commandstats"});
    if (!r || r->type != REDIS_REPLY_STRING) return 0;
    const std::string text(r->str, r->len);
    double total = 0;
    for (std::size_t at = text.find("cmdstat_"); at != std::string::npos;
         at = text.find("cmdstat_", at + 1)) {
      const std::size_t u = text.find("usec=", at);
      if (u != std::string::npos) total += std::strtod(text.c_str() + u + 5, nullptr);
    }
    return total;
  };

  if (which != "pg") {
    clean_redis();
    const double usec0 = server_usec();
    auto sink = RedisSink::Connect(*redis_url);
    if (!sink.ok()) {
      std::fprintf(stderr, "%s\n",
                   NotAnswering("redis", redis_url->HostPort(), sink.status()).c_str());
      return 1;
    }
    const double rate = run("redis", [&](std::span<const RecordRef> b) { return sink->Write(b); });
    const RedisSinkStats s = sink->stats();
    const double server_us_per_record = (server_usec() - usec0) / double(refs.size());
    std::printf(
        "redis             %9.0f records/s  %6.1f entries + %6.1f commands/batch  %5.1f round "
        "trips/batch  max batch %.1f ms  redis-server %.2f us/record\n",
        rate, double(s.entries) / double(s.batches), double(s.commands) / double(s.batches),
        double(s.round_trips) / double(s.batches), s.max_batch_us / 1000.0, server_us_per_record);
  }
  clean_redis();
  if (which != "all" && which != "pg") return 0;

  auto pg = PgSink::Connect(*pg_url);
  if (!pg.ok()) {
    std::fprintf(stderr, "%s\n",
                 NotAnswering("postgresql", pg_url->HostPort(), pg.status()).c_str());
    return 1;
  }
  if (Status s = pg->ApplySchema(SchemaDir()); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  const std::string checkpoint = "throughput-" + std::to_string(counter);
  const double rate = run("postgresql", [&](std::span<const RecordRef> b) {
    return pg->WriteBatch(b, checkpoint, b.back().position);
  });
  const PgSinkStats s = pg->stats();
  std::printf(
      "postgresql        %9.0f records/s  %6.1f transactions/batch  %5.1f round trips/batch  max "
      "batch %.1f ms\n"
      "                  per record: %.2f us COPY, %.2f us statements, %.2f us COMMIT\n",
      rate, double(s.transactions) / double(s.batches), double(s.round_trips) / double(s.batches),
      s.max_batch_us / 1000.0, double(s.copy_us) / refs.size(),
      double(s.statements_us) / refs.size(), double(s.commit_us) / refs.size());
  const double replay = run("postgresql replay", [&](std::span<const RecordRef> b) {
    return pg->WriteBatch(b, checkpoint, b.back().position);
  });
  std::printf("postgresql replay %9.0f records/s  (all duplicates)\n", replay);

  pqxx::connection c(pg_url->ConnInfo());
  pqxx::work tx(c);
  const std::string range = " BETWEEN " + std::to_string(counter << 20) + " AND " +
                            std::to_string((counter << 20) | 0xFFFFF);
  const std::string players = " BETWEEN " + std::to_string(counter << 16) + " AND " +
                              std::to_string((counter << 16) | 0xFFFF);
  tx.exec("DELETE FROM game_commands WHERE game_id" + range +
          "; DELETE FROM game_sessions WHERE game_id" + range +
          "; DELETE FROM game_participants WHERE game_id" + range +
          "; DELETE FROM hands WHERE game_id" + range + "; DELETE FROM players WHERE player_id" +
          players + "; DELETE FROM sidecar_checkpoint WHERE name = " + tx.quote(checkpoint));
  tx.commit();
  return 0;
}

}  // namespace
}  // namespace hokm::sidecar::integration

int main(int argc, char** argv) { return hokm::sidecar::integration::Run(argc, argv); }
