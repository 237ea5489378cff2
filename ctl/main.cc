// main.cc: hokmctl (ctl.h): parses the command line and runs the one
// subcommand chosen. Every subcommand's options and help are here, so that
// this is the one file that compiles CLI11; the subcommands' files do the
// work.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>

#include "ctl/ctl.h"
#include "service/cli.h"
#include "shm/segment.h"
#include "sidecar/url.h"

namespace hokm::ctl {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// What main runs after parsing: the chosen subcommand's work, returning
// its exit code.
using Run = std::function<int()>;

// Each adds its subcommand to `root`; when it is chosen, its parse
// callback sets `run`. `globals` outlives the call to run.

void AddStatus(CLI::App& root, const Globals& globals, Run& run) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* sub = root.add_subcommand(
      "status",
      "the system's state from the shared-memory segment alone (no HTTP, no store): engine "
      "and sidecar liveness and heartbeat, per shard live games, counters, ring fill and the "
      "sidecar's lag, clients, spill backlogs. Exit 1 when the engine or the sidecar is not "
      "alive.");
  sub->add_flag("--json", o->json, "one JSON object (with --watch: one per line)");
  sub->add_flag("--watch", o->watch, "refresh every second");
  sub->add_option("--count", o->count, "with --watch: stop after this many refreshes (0: never)")
      ->default_val(0);
  sub->callback([&globals, &run, o] { run = [&globals, o] { return RunStatus(globals, *o); }; });
}

void AddGame(CLI::App& root, const Globals& globals, Run& run) {
  auto options = std::make_shared<GameOptions>();
  CLI::App* sub = root.add_subcommand(
      "game",
      "One game's public state: from the segment when it is live there, else from Redis, else\n"
      "from PostgreSQL (its records replayed through the rules). Exit 1 when no store has it.\n"
      "PostgreSQL is read from --pg-read-url when given (a replica: a game that just ended may\n"
      "be behind there), else --pg-url.");
  sub->add_option("id", options->id, "the game id")->required();
  sub->add_flag("--records", options->records, "also list its records from PostgreSQL");
  sub->add_flag("--json", options->json, "print one JSON object");
  sub->callback([&globals, &run, options] {
    run = [&globals, options] { return RunGame(globals, *options); };
  });
}

void AddReplay(CLI::App& root, const Globals& globals, Run& run) {
  auto options = std::make_shared<ReplayCliOptions>();
  CLI::App* sub = root.add_subcommand(
      "replay",
      "Rebuild a game from its PostgreSQL records through the rules and compare every\n"
      "regenerated record with the stored one, then the final state (a live game: with the\n"
      "segment; an ended one: with game_sessions). Exit 0 identical, 1 any difference.\n"
      "Reads --pg-read-url when given, else --pg-url; a live game's records are read again\n"
      "until they reach the segment's seq (sidecar or replica behind), for up to 10 s.");
  sub->add_option("id", options->id, "the game id")->required();
  sub->add_flag("--json", options->json, "print one JSON object");
  sub->callback([&globals, &run, options] {
    run = [&globals, options] { return RunReplay(globals, *options); };
  });
}

void AddCheck(CLI::App& root, const Globals& globals, Run& run) {
  auto o = std::make_shared<CheckOptions>();
  CLI::App* sub = root.add_subcommand(
      "check",
      "The consistency check: each live game in the segment against its Redis stream's state\n"
      "(field by field) and PostgreSQL's last seq; finished games in Redis against PostgreSQL\n"
      "(last seq, game_sessions); PostgreSQL's seq continuity (no gap, no duplicate) of every\n"
      "game checked. Sync lag is not a difference: after reading a game from the segment,\n"
      "check waits (up to --settle-ms) for the sidecar to commit the change rings up to that\n"
      "point, so both stores hold at least that seq; then Redis's entry at that seq is\n"
      "compared field by field, and PostgreSQL's last seq must lie between the segment's seq\n"
      "before and after the read. If the wait times out the game counts as unsettled, not\n"
      "as a difference. Store reads are paced by --rate. Always reads the primary (--pg-url,\n"
      "never --pg-read-url): a replica's lag would count as differences.\n"
      "Exit 0 no difference, 1 differences (or a store down), 2 usage.");
  auto* sample = sub->add_option("--sample", o->sample,
                                 "check N live games chosen at random, and up to N finished games "
                                 "in Redis (default 1000: a fault in 1 game in 300 is found 19 "
                                 "times in 20, in about 140 s at the default --rate: a game costs "
                                 "17-18 reads, 16 of them its PostgreSQL continuity)");
  sub->add_flag("--all", o->all, "check every live game and every game stream in Redis")
      ->excludes(sample);
  sub->add_flag("--json", o->json, "print the counts and differences as one JSON object");
  sub->add_option("--rate", o->rate,
                  "budget of store reads, in games per second (0: no limit); the default keeps "
                  "the pipeline's throughput loss under 5% at full load (scripts/check_cost.sh); "
                  "raise it when the pipeline is not under load")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  sub->add_option("--batch", o->batch, "games per pipelined Redis read and PostgreSQL query")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  sub->add_option("--settle-ms", o->settle_ms,
                  "how long a game whose stores are behind the segment is read again")
      ->capture_default_str();
  sub->add_option("--show", o->show, "differences listed (the counts have them all)")
      ->capture_default_str();
  sub->callback([&globals, &run, o] { run = [&globals, o] { return RunCheck(globals, *o); }; });
}

void AddDlq(CLI::App& root, const Globals& globals, Run& run) {
  CLI::App* dlq =
      root.add_subcommand("dlq",
                          "dead letters: the records PostgreSQL could not store, with why (list "
                          "and show read --pg-read-url when given; replay and purge the primary)");
  dlq->require_subcommand(1);
  dlq->fallthrough();

  struct Args {
    bool json = false;
    std::int64_t limit = 100;
    std::int64_t id = 0;
    DlqTarget target;
    bool yes = false;
  };
  auto args = std::make_shared<Args>();
  const auto positive_id = CLI::Range(std::int64_t{1}, std::int64_t{INT64_MAX});

  CLI::App* list =
      dlq->add_subcommand("list", "every dead letter: id, game, seq, type, size, reason");
  list->add_flag("--json", args->json, "print JSON");
  list->add_option("--limit", args->limit, "show at most this many (0: all)")
      ->default_val(100)
      ->check(CLI::NonNegativeNumber);
  list->fallthrough();
  list->callback([&globals, &run, args] {
    run = [&globals, args] { return DlqList(globals, args->json, args->limit); };
  });

  CLI::App* show =
      dlq->add_subcommand("show", "one dead letter: its record as JSON when it decodes, else hex");
  show->add_option("ID", args->id, "the dead letter's id")->required()->check(positive_id);
  show->add_flag("--json", args->json, "print JSON");
  show->fallthrough();
  show->callback([&globals, &run, args] {
    run = [&globals, args] { return DlqShow(globals, args->id, args->json); };
  });

  CLI::App* replay = dlq->add_subcommand(
      "replay",
      "feed dead letters back through the sinks, once their cause is fixed, exactly once "
      "(with the other dead letters of their command); exit 1 if one is refused again");
  replay->add_option("ID", args->target.id, "the dead letter's id")->check(positive_id);
  replay->add_flag("--all", args->target.all, "every dead letter");
  replay->fallthrough();
  replay->callback([&globals, &run, args] {
    run = [&globals, args] { return DlqReplay(globals, args->target); };
  });

  CLI::App* purge =
      dlq->add_subcommand("purge", "delete dead letters for good (asks first unless --yes)");
  purge->add_option("ID", args->target.id, "the dead letter's id")->check(positive_id);
  purge->add_flag("--all", args->target.all, "every dead letter");
  purge->add_flag("--yes", args->yes, "do not ask (needed when stdin is not a terminal)");
  purge->fallthrough();
  purge->callback([&globals, &run, args] {
    run = [&globals, args] { return DlqPurge(globals, args->target, args->yes); };
  });
}

void AddRebuildRedis(CLI::App& root, const Globals& globals, Run& run) {
  auto args = std::make_shared<RebuildArgs>();
  CLI::App* sub = root.add_subcommand(
      "rebuild-redis",
      "rewrite Redis's hot state: live games from the segment, games that ended within their "
      "TTL from PostgreSQL, the leaderboard (what the sidecar does when Redis lost its data); "
      "streams already up to date keep what they have");
  sub->add_option("--game", args->game, "this game only (live, else ended within its TTL)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{INT64_MAX}));
  sub->add_flag("--json", args->json, "print JSON");
  sub->callback(
      [&globals, &run, args] { run = [&globals, args] { return RunRebuild(globals, *args); }; });
}

void AddMigrate(CLI::App& root, const Globals& globals, Run& run) {
  auto args = std::make_shared<MigrateArgs>();
  CLI::App* sub = root.add_subcommand(
      "migrate",
      "the PostgreSQL schema files, applied or pending (status, the default; exit 1 when one is "
      "pending), and applying the pending ones (up), as hokm-sidecar does at start-up");
  sub->add_option("action", args->action, "status or up")
      ->check(CLI::IsMember({"status", "up"}))
      ->default_val("status");
  sub->add_option("--schema-dir", args->schema_dir,
                  "the NNN_name.sql files (default: ../share/hokm/postgres from this binary's "
                  "directory, as hokm-sidecar)");
  sub->add_flag("--json", args->json, "print JSON");
  sub->callback(
      [&globals, &run, args] { run = [&globals, args] { return RunMigrate(globals, *args); }; });
}

void AddArchive(CLI::App& root, const Globals& globals, Run& run) {
  auto args = std::make_shared<ArchiveArgs>();
  args->to = Env("HOKM_ARCHIVE_DIR");
  CLI::App* sub = root.add_subcommand(
      "archive",
      "moves the event log of game-id ranges whose games all ended before a cutoff into zstd "
      "files with a manifest, and drops their partitions (--older-than); lists the archives "
      "(--list); deletes archives past retention (--keep)");
  sub->add_option(
      "--older-than", args->older_than,
      "archive ranges whose games all ended more than DURATION ago (30d, 12h, 90m, 45s)");
  sub->add_option("--keep", args->keep, "delete archives created more than DURATION ago");
  sub->add_option("--to", args->to, "the archive directory (default: $HOKM_ARCHIVE_DIR)");
  sub->add_flag("--list", args->list, "list the archives in the directory");
  sub->add_flag("--json", args->json, "print the list as JSON");
  sub->add_option("--span-bits", args->span_bits,
                  "the range size of the partitions made for the default partition's rows "
                  "(as the sink's partition_span_bits)")
      ->check(CLI::Range(20, 62))
      ->default_val(52);
  sub->add_option("--zstd-level", args->level, "zstd compression level")
      ->check(CLI::Range(1, 19))
      ->default_val(9);
  sub->callback(
      [&globals, &run, args] { run = [&globals, args] { return RunArchive(globals, *args); }; });
}

void AddAnalytics(CLI::App& root, const Globals& globals, Run& run) {
  auto args = std::make_shared<AnalyticsArgs>();
  CLI::App* sub = root.add_subcommand(
      "analytics",
      "the analytics views (game_statistics_summary, leaderboard, player_performance,\n"
      "active_sessions, node_summary) from --pg-read-url when given (a read replica: says its "
      "replay lag),\n"
      "else --pg-url. Exit 1 when the server is down or the views are missing.");
  sub->add_option("view", args->view, "one view only (default: every view)")
      ->check(CLI::IsMember(AnalyticsViews()));
  sub->add_option("--limit", args->limit, "rows per view at most (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_flag("--json", args->json, "print one JSON object");
  sub->callback(
      [&globals, &run, args] { run = [&globals, args] { return RunAnalytics(globals, *args); }; });
}

void AddRestore(CLI::App& root, const Globals& globals, Run& run) {
  auto args = std::make_shared<RestoreArgs>();
  CLI::App* sub = root.add_subcommand(
      "restore",
      "brings the games of an archive written by `hokmctl archive` (or one game) back into "
      "PostgreSQL; idempotent; a file that does not match its manifest writes nothing");
  sub->add_option("--archive", args->archive, "the archive's .zst file (its .json next to it)")
      ->required();
  sub->add_option("--game", args->game, "restore only this game");
  sub->add_flag("--json", args->json, "print what was inserted as JSON");
  sub->callback(
      [&globals, &run, args] { run = [&globals, args] { return RunRestore(globals, *args); }; });
}

}  // namespace
}  // namespace hokm::ctl

int main(int argc, char** argv) {
  using namespace hokm::ctl;
  ::signal(SIGPIPE, SIG_IGN);  // hiredis writes with write(2)
  CLI::App app{
      "hokmctl: the operator's tool for a hokm system: the segment's counters, one game, a\n"
      "replay through the rules, the consistency check of the stores, dead letters, a Redis\n"
      "rebuild, the PostgreSQL schema, archiving finished games and the analytics views.\n"
      "Exit 0 ok, 1 problems found, 2 usage error.\n"
      "PostgreSQL: writes, and the reads that must see the latest commit (check, rebuild-redis,\n"
      "migrate, archive, restore, dlq replay/purge), use --pg-url (the primary); the reads\n"
      "that tolerate a replica's lag (game, replay, dlq list/show, analytics) use --pg-read-url\n"
      "when given (saying so on stderr), else --pg-url."};
  app.require_subcommand(1);
  app.fallthrough();  // the global options may follow the subcommand too
  Globals globals;
  globals.redis_url = hokm::sidecar::RedisUrlFromEnv();
  globals.pg_url = hokm::sidecar::PgUrlFromEnv();
  globals.pg_read_url = Env("HOKM_PG_READ_URL");
  std::string shm_name;
  app.add_option("--shm-name", shm_name, "segment name (default: $HOKM_SHM_NAME, else hokm)");
  app.add_option("--redis-url", globals.redis_url,
                 "redis://[:password@]host:port[/db], or a Redis Cluster's seeds "
                 "redis://[:password@]h1:p1,h2:p2 (default: $HOKM_REDIS_URL, else $REDIS_URL)");
  app.add_flag("--redis-cluster", globals.redis_cluster,
               "--redis-url names a Redis Cluster, even with one seed; refuse a single server "
               "(a seed list already means a cluster)")
      ->envname("HOKM_REDIS_CLUSTER");
  app.add_option("--pg-url", globals.pg_url,
                 "postgresql://user[:password]@host:port/db or a libpq key=value string "
                 "(default: $HOKM_PG_URL, else $DATABASE_URL)");
  app.add_option("--pg-read-url", globals.pg_read_url,
                 "a read replica of --pg-url (scripts/services.sh start-pg-replica prints one) for "
                 "the reads that tolerate its lag: game, replay, dlq list/show, analytics "
                 "(default: $HOKM_PG_READ_URL; unset: those read --pg-url)");
  Run run;
  AddStatus(app, globals, run);
  AddGame(app, globals, run);
  AddReplay(app, globals, run);
  AddCheck(app, globals, run);
  AddDlq(app, globals, run);
  AddRebuildRedis(app, globals, run);
  AddMigrate(app, globals, run);
  AddArchive(app, globals, run);
  AddRestore(app, globals, run);
  AddAnalytics(app, globals, run);
  hokm::service::CommonFlags common;
  hokm::service::AddCommonFlags(app, "hokmctl", &common);
  static_assert(kExitUsage == hokm::service::kExitUsage);
  if (auto exit_code = hokm::service::ParseCommandLine(app, argc, argv, common)) return *exit_code;
  globals.shm_name = hokm::shm::SegmentNameFrom(shm_name);
  if (!run) return Fail(kExitUsage, "no subcommand chosen (see --help)");
  return run();
}
