// main.cc: hokmctl (ctl.h): parses the command line and runs the one
// subcommand chosen.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>

#include "ctl/ctl.h"
#include "shm/segment.h"

namespace {
std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}
}  // namespace

int main(int argc, char** argv) {
  using namespace hokm::ctl;
  ::signal(SIGPIPE, SIG_IGN);  // hiredis writes with write(2)
  CLI::App app{
      "hokmctl: the operator's tool for a hokm system: the segment's counters, one game, a\n"
      "replay through the rules, the consistency check of the stores, dead letters, a Redis\n"
      "rebuild, the PostgreSQL schema, and archiving finished games. Exit 0 ok, 1 problems found, "
      "2 usage error."};
  app.require_subcommand(1);
  app.fallthrough();  // the global options may follow the subcommand too
  Globals globals;
  globals.redis_url = Env("HOKM_REDIS_URL");
  globals.pg_url = Env("HOKM_PG_URL");
  std::string shm_name;
  app.add_option("--shm-name", shm_name, "segment name (default: $HOKM_SHM_NAME, else hokm)");
  app.add_option("--redis-url", globals.redis_url,
                 "redis://[:password@]host:port[/db] (default: $HOKM_REDIS_URL)");
  app.add_option("--pg-url", globals.pg_url,
                 "postgresql://user[:password]@host:port/db (default: $HOKM_PG_URL)");
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  globals.shm_name = hokm::shm::SegmentNameFrom(shm_name);
  if (!run) return Fail(kExitUsage, "no subcommand chosen (see --help)");
  return run();
}
