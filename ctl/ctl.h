// ctl.h: hokmctl, the operator's tool: what every subcommand shares (the
// global options, the exit codes) and the one function per subcommand that
// adds it to the command line. main.cc parses, then runs the subcommand
// chosen; each subcommand lives in its own file (status.cc, game.cc, ...).
//
// Exit codes (a contract: scripts and the tests read them):
//   0  done, nothing wrong found
//   1  problems found (a check's differences, a dead engine for `status`,
//      a replay that differs) or an operation that failed (a store down)
//   2  usage error (CLI11's parse errors, a missing URL, a bad id)
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace hokm::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitProblems = 1;
inline constexpr int kExitUsage = 2;

// The options every subcommand may use, with the same conventions as the
// other binaries: --shm-name (else $HOKM_SHM_NAME, else hokm), --redis-url
// (else $HOKM_REDIS_URL), --pg-url (else $HOKM_PG_URL). Filled by the
// time a subcommand runs.
struct Globals {
  std::string shm_name;
  std::string redis_url;
  std::string pg_url;
};

// What main runs after parsing: the chosen subcommand's work, returning
// its exit code.
using Run = std::function<int()>;

// Each adds its subcommand to `root`; when it is chosen, its parse
// callback sets `run`. `globals` outlives the call to run.
void AddStatus(CLI::App& root, const Globals& globals, Run& run);
void AddGame(CLI::App& root, const Globals& globals, Run& run);
void AddReplay(CLI::App& root, const Globals& globals, Run& run);
void AddCheck(CLI::App& root, const Globals& globals, Run& run);
void AddDlq(CLI::App& root, const Globals& globals, Run& run);
void AddRebuildRedis(CLI::App& root, const Globals& globals, Run& run);
void AddMigrate(CLI::App& root, const Globals& globals, Run& run);
void AddArchive(CLI::App& root, const Globals& globals, Run& run);
void AddRestore(CLI::App& root, const Globals& globals, Run& run);

// Prints "hokmctl: <message>" on stderr and returns `code`.
int Fail(int code, const std::string& message);

// The URL or, when it is empty, a usage error naming the flag and the
// variable: returns false after printing.
bool NeedRedis(const Globals& globals);
bool NeedPg(const Globals& globals);

}  // namespace hokm::ctl
