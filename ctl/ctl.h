// ctl.h: hokmctl, the operator's tool: what every subcommand shares (the
// global options, the exit codes) and each subcommand's options and entry
// point. main.cc parses the command line (the only file that includes
// CLI11, whose header costs ~20 s of compile time per file), then runs the
// subcommand chosen; each subcommand lives in its own file (status.cc,
// game.cc, ...).
//
// Exit codes (a contract: scripts and the tests read them):
//   0  done, nothing wrong found
//   1  problems found (a check's differences, a dead engine for `status`,
//      a replay that differs) or an operation that failed (a store down)
//   2  usage error (CLI11's parse errors, a missing URL, a bad id)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hokm::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitProblems = 1;
inline constexpr int kExitUsage = 2;

// The options every subcommand may use, with the same conventions as the
// other binaries: --shm-name (else $HOKM_SHM_NAME, else hokm), --redis-url
// (else $HOKM_REDIS_URL), --pg-url (else $HOKM_PG_URL), --pg-read-url
// (else $HOKM_PG_READ_URL). Filled by the time a subcommand runs.
//
// pg_url is the primary: every write, and every read that must see the
// latest commit (check, rebuild-redis, migrate, archive, dlq replay and
// purge, restore). pg_read_url, when given, is a read replica (README, "A
// read replica"), which lags the primary by its replication lag: the reads
// that tolerate that (game, replay, dlq list and show, analytics) use it
// (PgReadUrl), else the primary.
struct Globals {
  std::string shm_name;
  std::string redis_url;
  bool redis_cluster = false;  // --redis-cluster (else $HOKM_REDIS_CLUSTER): a cluster's URL
  std::string pg_url;
  std::string pg_read_url;
};

// Each subcommand: its options (filled by main.cc's parser, defaults
// here) and the function that runs it, returning the exit code. `globals`
// has its final values by then.

struct StatusOptions {  // status.cc
  bool json = false;
  bool watch = false;
  unsigned count = 0;  // --watch refreshes; 0: until interrupted
};
int RunStatus(const Globals& globals, const StatusOptions& options);

struct GameOptions {  // game.cc
  std::string id;
  bool records = false;
  bool json = false;
};
int RunGame(const Globals& globals, const GameOptions& options);

struct ReplayCliOptions {  // replay.cc
  std::string id;
  bool json = false;
};
int RunReplay(const Globals& globals, const ReplayCliOptions& options);

struct CheckOptions {  // check.cc
  std::uint64_t sample = 1000;
  bool all = false;
  bool json = false;
  double rate = 250;  // game reads per second; 0: no limit (default: scripts/check_cost.sh)
  std::uint32_t batch = 50;
  std::uint32_t settle_ms = 3000;
  std::uint32_t show = 20;  // differences listed
};
int RunCheck(const Globals& globals, const CheckOptions& options);

// dlq.cc: the id to act on, or every dead letter: exactly one of the two.
struct DlqTarget {
  std::int64_t id = 0;
  bool all = false;
};
int DlqList(const Globals& globals, bool as_json, std::int64_t limit);
int DlqShow(const Globals& globals, std::int64_t id, bool as_json);
int DlqReplay(const Globals& globals, const DlqTarget& target);
int DlqPurge(const Globals& globals, const DlqTarget& target, bool yes);

struct RebuildArgs {       // rebuild_redis.cc
  std::uint64_t game = 0;  // 0: every game
  bool json = false;
};
int RunRebuild(const Globals& globals, const RebuildArgs& args);

struct MigrateArgs {  // migrate.cc
  std::string action = "status";
  std::string schema_dir;
  bool json = false;
};
int RunMigrate(const Globals& globals, const MigrateArgs& args);

struct ArchiveArgs {  // archive.cc
  std::string older_than;
  std::string keep;
  std::string to;
  bool list = false;
  bool json = false;
  int span_bits = 52;
  int level = 9;
};
int RunArchive(const Globals& globals, const ArchiveArgs& args);

struct AnalyticsArgs {      // analytics.cc
  std::string view;         // empty: every view
  std::int64_t limit = 20;  // rows per view; 0: all
  bool json = false;
};
int RunAnalytics(const Globals& globals, const AnalyticsArgs& args);
// The views `analytics` reads (analytics.cc), for its CLI's check.
std::vector<std::string> AnalyticsViews();

struct RestoreArgs {  // restore.cc
  std::string archive;
  std::string game;
  bool json = false;
};
int RunRestore(const Globals& globals, const RestoreArgs& args);

// Prints "hokmctl: <message>" on stderr and returns `code`.
int Fail(int code, const std::string& message);

// The URL or, when it is empty, a usage error naming the flag and the
// variable: returns false after printing.
bool NeedRedis(const Globals& globals);
bool NeedPg(const Globals& globals);

// The URL the reads that may lag use: pg_read_url when given (saying so on
// stderr, once: "reading PostgreSQL from the read replica at host:port/db"),
// else pg_url. NeedPgRead: either is given, else a usage error as NeedPg.
const std::string& PgReadUrl(const Globals& globals);
bool NeedPgRead(const Globals& globals);

}  // namespace hokm::ctl
