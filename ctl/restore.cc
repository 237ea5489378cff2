// restore.cc: hokmctl restore --archive FILE [--game ID]: brings the games
// of an archive (archive.cc, archive_file.h), or one of them, back into
// PostgreSQL.
//
// One transaction. The file's rows (with --game, that game's) go first into temporary tables (COPY)
// while its content is hashed; only when the whole content matches its
// manifest (rows per table, columns, SHA-256; zstd checks its own frame
// too) are they inserted into the real tables, so a corrupt or truncated
// file writes nothing. Rows go in with ON CONFLICT DO NOTHING on each
// table's primary key, so restoring twice (or a game whose summary rows
// never left) adds nothing the second time. Event-log rows go to their
// range's partition, made again with hokm_ensure_commands_partition (a
// later `archive` run archives it again); rows of game_moves_v1 go to its
// default partition. An audit_log row records what was inserted.
//
// Thread safety: one run, one thread.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "ctl/archive_file.h"
#include "ctl/ctl.h"
#include "ctl/game_stores.h"
#include "ctl/stores.h"

namespace hokm::ctl {
namespace {

// The order rows go in: summaries first, so a reader never sees records
// of a game without its session.
constexpr const char* kOrder[] = {"game_sessions", "game_participants", "hands", "game_commands",
                                  "game_moves_v1"};

std::string TempOf(const std::string& table) { return "hokm_restore_" + table; }

}  // namespace

int RunRestore(const Globals& globals, const RestoreArgs& args) {
  std::uint64_t game = 0;
  if (!args.game.empty() && !ParseGameId(args.game, game))
    return Fail(kExitUsage, "restore: \"" + args.game + "\" is not a game id (1 .. 2^63-1)");
  const std::optional<sidecar::PgUrl> url = PgUrlOf(globals);
  if (!url) return kExitUsage;
  const std::string manifest_path = archive::ManifestPathFor(args.archive);
  auto manifest = archive::ReadManifest(manifest_path);
  if (!manifest.ok())
    return Fail(kExitProblems, "restore: " + manifest.status().message() + " (the manifest of " +
                                   args.archive + "); nothing restored");
  const archive::ArchiveManifest& m = *manifest;
  for (const auto& [table, cols] : m.columns) {
    bool known = false;
    for (const char* t : kOrder) known = known || table == t;
    if (!known)
      return Fail(kExitProblems, "restore: " + args.archive + " holds table \"" + table +
                                     "\", which this hokmctl does not restore; nothing restored");
  }

  auto conn = archive::PgCopyConn::Connect(WithTimeouts(*url).ConnInfo(), url->HostPort());
  if (!conn.ok()) return Fail(kExitProblems, conn.status().message());
  archive::PgCopyConn& c = **conn;
  const auto fail = [&](const std::string& why) {
    // Closing the connection (conn's destructor) rolls the transaction back.
    return Fail(kExitProblems, "restore: " + why + "; nothing restored");
  };
  if (auto s = c.Exec("BEGIN"); !s.ok()) return fail(s.status().message());
  for (const auto& [table, cols] : m.columns) {
    auto s = c.Exec("CREATE TEMP TABLE " + TempOf(table) + " (LIKE " + table +
                    " INCLUDING DEFAULTS) ON COMMIT DROP");
    if (!s.ok()) return fail(s.status().message());
  }

  // The rows into the temporary tables, the content checked.
  std::string copying;  // the table being copied into
  // One game: only its rows go to the server (each row starts with
  // "<game_id>\t"); every row is still read, counted and hashed.
  const std::string prefix = game != 0 ? std::to_string(game) + "\t" : "";
  const auto on_row = [&](const std::string& table, const std::string& line) -> Status {
    if (!prefix.empty() && line.compare(0, prefix.size(), prefix) != 0) return Status::Ok();
    if (table != copying) {
      if (!copying.empty()) {
        Status s = c.EndCopyIn();
        if (!s.ok()) return s;
      }
      const auto cols = m.columns.find(table);
      if (cols == m.columns.end())
        return Status::Corruption("table " + table + " is not in the manifest");
      copying.clear();
      Status s = c.BeginCopyIn("COPY " + TempOf(table) + " (" + cols->second + ") FROM STDIN");
      if (!s.ok()) return s;
      copying = table;
    }
    return c.PutLine(line);
  };
  auto content = archive::ReadArchive(args.archive, on_row);
  if (!content.ok()) return fail(content.status().message());
  if (!copying.empty()) {
    if (Status s = c.EndCopyIn(); !s.ok()) return fail(s.message());
  }
  if (Status s = archive::CheckAgainst(*content, m); !s.ok())
    return fail(args.archive + " does not match its manifest: " + s.message());

  const std::string only = game != 0 ? " WHERE game_id = " + std::to_string(game) : "";
  if (game != 0) {
    std::int64_t found = 0;
    for (const auto& [table, cols] : m.columns) {
      auto n = c.Exec("SELECT count(*) FROM " + TempOf(table) + only);
      if (!n.ok()) return fail(n.status().message());
      found += std::stoll(n->at(0));
    }
    if (found == 0)
      return fail("game " + std::to_string(game) + " is not in " + args.archive + " (game ids " +
                  std::to_string(m.first_game_id) + ".." + std::to_string(m.last_game_id) + ")");
  }

  if (m.rows.count("game_commands") != 0 && m.rows.at("game_commands") > 0 && m.span_bits > 0) {
    auto s = c.Exec("SELECT hokm_ensure_commands_partition(" +
                    std::to_string(game != 0 ? static_cast<std::int64_t>(game) : m.first_game_id) +
                    ", " + std::to_string(m.span_bits) + ")");
    if (!s.ok()) return fail(s.status().message());
  }
  nlohmann::json inserted = nlohmann::json::object();
  std::int64_t total = 0;
  for (const char* table : kOrder) {
    const auto cols = m.columns.find(table);
    if (cols == m.columns.end()) continue;
    auto n = c.Exec("WITH ins AS (INSERT INTO " + std::string(table) + " (" + cols->second +
                    ") SELECT " + cols->second + " FROM " + TempOf(table) + only +
                    " ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*) FROM ins");
    if (!n.ok()) return fail(n.status().message());
    inserted[table] = std::stoll(n->at(0));
    total += std::stoll(n->at(0));
  }
  if (auto s = c.Exec("COMMIT"); !s.ok()) return fail(s.status().message());

  nlohmann::json details = {{"file", args.archive},
                            {"sha256", m.sha256},
                            {"game", game != 0 ? nlohmann::json(game) : nlohmann::json()},
                            {"inserted", inserted}};
  const Status audit = WriteAudit(
      *url, "restore", game != 0 ? std::optional<std::uint64_t>(game) : std::nullopt, details);
  if (args.json) {
    std::printf("%s\n", details.dump(2).c_str());
  } else {
    std::printf("restored %s from %s: %lld row(s) inserted (",
                game != 0 ? ("game " + std::to_string(game)).c_str()
                          : (std::to_string(m.games) + " game(s)").c_str(),
                args.archive.c_str(), static_cast<long long>(total));
    bool first = true;
    for (const auto& [t, n] : inserted.items()) {
      std::printf("%s%s %lld", first ? "" : ", ", t.c_str(),
                  static_cast<long long>(n.get<std::int64_t>()));
      first = false;
    }
    std::printf(")%s\n", total == 0 ? "; everything was there already" : "");
  }
  if (!audit.ok()) return Fail(kExitProblems, "restore done, but " + audit.message());
  return kExitOk;
}

}  // namespace hokm::ctl
