// migrate.cc: hokmctl migrate [status|up]: the PostgreSQL schema files of a
// directory, each applied or pending (schema_migrations), and applying the
// pending ones. The listing and the applying are PgSink::Migrate, the code
// hokm-sidecar runs at start-up (same files, same advisory lock), and the
// default directory is the sidecar's (sidecar/pg/pg_schema.h).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "ctl/ctl.h"
#include "ctl/stores.h"
#include "sidecar/pg/pg_schema.h"
#include "sidecar/pg/pg_sink.h"

namespace hokm::ctl {
namespace {}  // namespace

int RunMigrate(const Globals& globals, const MigrateArgs& args) {
  const std::optional<sidecar::PgUrl> url = PgUrlOf(globals);
  if (!url) return kExitUsage;
  const std::filesystem::path dir = args.schema_dir.empty()
                                        ? sidecar::DefaultSchemaDir()
                                        : std::filesystem::path(args.schema_dir);
  if (!std::filesystem::is_directory(dir)) {
    return Fail(kExitUsage,
                "no schema directory " +
                    (dir.empty() ? std::string("(/proc/self/exe unreadable)") : dir.string()) +
                    ": give --schema-dir <hokm source>/schemas/postgres");
  }
  sidecar::PgSinkOptions options;
  options.application_name = "hokmctl";
  auto sink = sidecar::PgSink::Connect(*url, options);
  if (!sink.ok()) return Fail(kExitProblems, sink.status().message());
  const bool up = args.action == "up";
  std::vector<sidecar::SchemaMigration> before;
  if (up) {
    auto b = sink->Migrate(dir, false);
    if (!b.ok()) return Fail(kExitProblems, b.status().message());
    before = std::move(b).value();
  }
  auto listed = sink->Migrate(dir, up, OsUser());
  if (!listed.ok()) return Fail(kExitProblems, listed.status().message());

  // `up`: what it applied is what was pending before.
  const auto was_pending = [&](int version) {
    for (const sidecar::SchemaMigration& b : before)
      if (b.version == version) return !b.applied;
    return false;
  };
  int pending = 0;
  int applied_now = 0;
  nlohmann::json rows = nlohmann::json::array();
  for (const sidecar::SchemaMigration& m : *listed) {
    const bool now = m.applied && was_pending(m.version);
    pending += m.applied ? 0 : 1;
    applied_now += now ? 1 : 0;
    rows.push_back({{"version", m.version},
                    {"name", m.name},
                    {"applied", m.applied},
                    {"applied_at", m.applied ? nlohmann::json(m.applied_at) : nlohmann::json()},
                    {"has_file", m.has_file},
                    {"applied_now", now}});
  }
  if (args.json) {
    nlohmann::json out = {{"schema_dir", dir.string()},
                          {"migrations", rows},
                          {"pending", pending},
                          {"applied_now", applied_now}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%-8s %-32s %-8s %s\n", "VERSION", "FILE", "STATE", "APPLIED AT");
    for (const sidecar::SchemaMigration& m : *listed) {
      const char* note = !m.has_file                           ? "  (no such file in the directory)"
                         : m.applied && was_pending(m.version) ? "  (applied now)"
                                                               : "";
      std::printf("%-8d %-32s %-8s %s%s\n", m.version, m.name.c_str(),
                  m.applied ? "applied" : "pending", m.applied_at.c_str(), note);
    }
    std::printf("schema %s: %d pending", dir.c_str(), pending);
    if (up) std::printf(", %d applied now", applied_now);
    std::printf("\n");
  }
  if (pending > 0 && !up)
    std::fprintf(stderr, "hokmctl: %d migration(s) pending: `hokmctl migrate up` applies them\n",
                 pending);
  return pending > 0 ? kExitProblems : kExitOk;
}

}  // namespace hokm::ctl
