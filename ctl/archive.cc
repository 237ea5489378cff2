// archive.cc: hokmctl archive: moves the event log of finished games out of
// PostgreSQL into compressed files, lists those files, and deletes them
// past retention.
//
//   archive --older-than DURATION --to DIR   archive every game-id range whose
//                                            games all ended before now - DURATION
//   archive --list [--to DIR] [--json]       the manifests in DIR
//   archive --keep DURATION --to DIR         delete archives created before now - DURATION
//
// What is archived. The event log (game_commands, and game_moves_v1 for rows
// written before 004_game_commands.sql) is partitioned by game-id range:
// game_commands_<bits>_<block> holds ids [block << bits, (block+1) << bits),
// made by hokm_ensure_commands_partition (schemas/postgres/004) which the
// sidecar's sink calls for each new range before it writes there. A range
// is archived when every game in its partitions has a game_sessions row
// that is finished or abandoned with finished_at before the cutoff. The
// archive also carries the range's game_sessions, game_participants and
// hands rows, so that it is complete on its own, but those summary rows
// (small, and what analytics.* and the players' statistics read) stay in
// PostgreSQL: only the partitions are dropped.
//
// The default partition. Rows land in game_commands_default only when no
// range partition existed (a sink run with partition_span_bits 0, or rows
// restored by hand). Before looking for ranges, archive gives each range
// found in the default partition its own partition
// (hokm_ensure_commands_partition, which moves the rows out of the default
// inside one transaction); a range whose rows then sit in a default
// partition all the same (game_moves_v1's, which has no such function any
// more) is left alone with a message. pg_partman was evaluated and not
// used (README, "Archival and retention").
//
// Per range, in this order, so that a failure never loses data:
//   1. detach its partitions (one transaction, which checks the games again
//      once the partitions are detached: nothing can be added to them after)
//   2. write NAME.zst (zstd, fsynced) and then NAME.json, the manifest
//   3. read NAME.zst back and compare it with the manifest (rows per table,
//      columns, SHA-256 of the content) and the rows with the detached tables
//   4. drop the partitions, with the audit_log row, in one transaction.
// A failure in 2-4 re-attaches the partitions (moving back any row the
// sink put into the default partition meanwhile), removes the files
// written, records an `archive_failed` audit row and exits 1; later ranges
// are not tried.
//
// Thread safety: one run, one thread.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "ctl/archive_file.h"
#include "ctl/ctl.h"
#include "ctl/stores.h"

namespace hokm::ctl {
namespace {

namespace fs = std::filesystem;
using archive::ArchiveManifest;
using nlohmann::json;

// One partition of a range: its table, the partitioned table it belongs to
// and the name the archive gives its rows.
struct Part {
  std::string name, parent, table;
};

// A game-id range and its partitions.
struct Range {
  int bits = 0;
  std::int64_t block = 0;
  std::int64_t lo = 0;
  std::optional<std::int64_t> hi;  // nullopt: to the top of bigint
  std::vector<Part> parts;

  std::string Where() const {
    return "game_id >= " + std::to_string(lo) +
           (hi ? " AND game_id < " + std::to_string(*hi) : std::string());
  }
  std::string Name() const { return std::to_string(bits) + "_" + std::to_string(block); }
  std::string Bounds() const {
    return "FROM (" + std::to_string(lo) + ") TO (" + (hi ? std::to_string(*hi) : "MAXVALUE") + ")";
  }
};

// The summary tables an archive carries (rows by game-id range).
constexpr const char* kSummaryTables[] = {"game_sessions", "game_participants", "hands"};

std::string UtcNow(const char* format) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// `table`'s columns in order, comma-separated.
std::string ColumnsOf(pqxx::transaction_base& tx, const std::string& table) {
  return tx
      .exec_params(
          "SELECT string_agg(quote_ident(attname), ',' ORDER BY attnum) FROM pg_attribute "
          "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''",
          table)[0][0]
      .as<std::string>();
}

// "<prefix><bits>_<block>" (two digits, up to 19 digits) into bits and
// block; false for any other name. (Not std::regex: GCC 12 warns inside
// its <regex> at -O1.)
bool ParsePartName(const std::string& name, const std::string& prefix, int& bits,
                   std::int64_t& block) {
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string rest = name.substr(prefix.size());
  const std::size_t sep = rest.find('_');
  if (sep != 2 || rest.size() < 4 || rest.size() > 3 + 19) return false;
  for (std::size_t k = 0; k < rest.size(); ++k)
    if (k != sep && (rest[k] < '0' || rest[k] > '9')) return false;
  bits = std::stoi(rest.substr(0, 2));
  const unsigned long long b = std::stoull(rest.substr(3));
  if (b > static_cast<unsigned long long>(INT64_MAX)) return false;
  block = static_cast<std::int64_t>(b);
  return true;
}

// Every range partition of game_commands and game_moves_v1 named as
// hokm_ensure_*_partition names them, by range.
std::vector<Range> FindRanges(pqxx::transaction_base& tx) {
  std::map<std::pair<int, std::int64_t>, Range> by_key;
  const pqxx::result rows = tx.exec(
      "SELECT c.relname, p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
      "JOIN pg_class p ON p.oid = i.inhparent "
      "WHERE p.relname IN ('game_commands', 'game_moves_v1') "
      "AND p.relnamespace = 'public'::regnamespace ORDER BY 1");
  for (const pqxx::row& r : rows) {
    const std::string name = r[0].as<std::string>(), parent = r[1].as<std::string>();
    const bool commands = parent == "game_commands";
    int bits = 0;
    std::int64_t block = 0;
    if (!ParsePartName(name, commands ? "game_commands_" : "game_moves_", bits, block))
      continue;  // the default, or not ours
    if (bits < 20 || bits > 62 || block >= (std::int64_t{1} << (63 - bits))) continue;
    Range& range = by_key[{bits, block}];
    range.bits = bits;
    range.block = block;
    range.lo = block << bits;
    if (block + 1 < (std::int64_t{1} << (63 - bits))) range.hi = (block + 1) << bits;
    range.parts.push_back({name, parent, commands ? "game_commands" : "game_moves_v1"});
  }
  std::vector<Range> out;
  for (auto& [key, range] : by_key) {
    std::sort(range.parts.begin(), range.parts.end(),
              [](const Part& a, const Part& b) { return a.table < b.table; });
    out.push_back(std::move(range));
  }
  return out;
}

// parent -> its default partition.
std::map<std::string, std::string> DefaultPartitions(pqxx::transaction_base& tx) {
  std::map<std::string, std::string> out;
  for (const pqxx::row& r :
       tx.exec("SELECT p.relname, d.relname FROM pg_partitioned_table pt "
               "JOIN pg_class p ON p.oid = pt.partrelid JOIN pg_class d ON d.oid = pt.partdefid "
               "WHERE p.relname IN ('game_commands', 'game_moves_v1') "
               "AND p.relnamespace = 'public'::regnamespace"))
    out[r[0].as<std::string>()] = r[1].as<std::string>();
  return out;
}

// The games in a range's (attached or detached) partitions and how many of
// them ended before the cutoff.
struct GamesSummary {
  std::int64_t games = 0, ended = 0, first = 0, last = 0;
  std::string last_finished_at;
};
GamesSummary SummarizeGames(pqxx::transaction_base& tx, const Range& range,
                            std::chrono::seconds older_than) {
  std::string games;
  for (const Part& p : range.parts)
    games += (games.empty() ? "" : " UNION ") + std::string("SELECT game_id FROM ") + p.name;
  const pqxx::row r = tx.exec_params(
      "WITH g AS (SELECT DISTINCT game_id FROM (" + games + ") a" +
          ") SELECT count(*), count(*) FILTER (WHERE s.status IN ('finished', 'abandoned') "
          "AND s.finished_at < now() - make_interval(secs => $1)), coalesce(min(g.game_id), 0), "
          "coalesce(max(g.game_id), 0), coalesce(max(s.finished_at)::text, '') "
          "FROM g LEFT JOIN game_sessions s USING (game_id)",
      static_cast<double>(older_than.count()))[0];
  return {r[0].as<std::int64_t>(), r[1].as<std::int64_t>(), r[2].as<std::int64_t>(),
          r[3].as<std::int64_t>(), r[4].as<std::string>()};
}

// The failure of one range's archiving: what failed, with the partitions
// put back.
class RangeArchiver {
 public:
  RangeArchiver(const sidecar::PgUrl& url, pqxx::connection& conn, const ArchiveArgs& args,
                std::chrono::seconds older_than)
      : url_(url), conn_(conn), args_(args), older_than_(older_than) {}

  // kExitOk archived, or skipped with a message (skipped set); kExitProblems
  // after a failure, everything put back.
  int Archive(const Range& range, const std::map<std::string, std::string>& defaults,
              bool& archived) {
    archived = false;
    const std::string label = "range " + range.Name() + " (game ids " + range.Bounds() + ")";
    GamesSummary games;
    try {
      pqxx::read_transaction tx(conn_);
      for (const Part& p : range.parts) {
        const auto d = defaults.find(p.parent);
        if (d != defaults.end() && tx.exec("SELECT EXISTS (SELECT 1 FROM " + d->second + " WHERE " +
                                           range.Where() + ")")[0][0]
                                       .as<bool>()) {
          std::printf("%s: kept, %s holds rows of it too\n", label.c_str(), d->second.c_str());
          return kExitOk;
        }
      }
      games = SummarizeGames(tx, range, older_than_);
    } catch (const std::exception& e) {
      return Fail(kExitProblems, label + ": reading its games: " + e.what());
    }
    if (games.games == 0) return kExitOk;  // an empty range: nothing to archive
    if (games.ended != games.games) {
      std::printf("%s: kept, %lld of its %lld game(s) not ended before the cutoff\n", label.c_str(),
                  static_cast<long long>(games.games - games.ended),
                  static_cast<long long>(games.games));
      return kExitOk;
    }

    // 1. Detach, and check again: the detached tables take no more rows.
    try {
      pqxx::work tx(conn_);
      for (const Part& p : range.parts)
        tx.exec("ALTER TABLE " + p.parent + " DETACH PARTITION " + p.name);
      games = SummarizeGames(tx, range, older_than_);
      if (games.ended != games.games) {
        tx.abort();
        std::printf("%s: kept, a game of it is no longer ended before the cutoff\n", label.c_str());
        return kExitOk;
      }
      tx.commit();
    } catch (const std::exception& e) {
      return Fail(kExitProblems,
                  label + ": detaching its partitions: " + e.what() + " (nothing changed)");
    }

    // 2-4; any failure puts the partitions back.
    std::string step;
    const Status s = WriteVerifyDrop(range, games, step);
    if (s.ok()) {
      archived = true;
      return kExitOk;
    }
    RemoveFiles();
    const std::string reattached = Reattach(range);
    nlohmann::json details = {{"range", range.Name()}, {"step", step}, {"error", s.message()}};
    details["reattached"] = reattached.empty();
    (void)WriteAudit(url_, "archive_failed", std::nullopt, details);
    return Fail(kExitProblems,
                label + ": " + step + " failed: " + s.message() +
                    (reattached.empty()
                         ? "; its partitions are attached again, nothing dropped"
                         : "; RE-ATTACHING FAILED (" + reattached + "): the detached tables " +
                               PartNames(range) + " still hold the rows; attach them by hand"));
  }

  const ArchiveManifest& manifest() const { return manifest_; }
  const std::string& path() const { return path_; }

 private:
  static std::string PartNames(const Range& range) {
    std::string s;
    for (const Part& p : range.parts) s += (s.empty() ? "" : ", ") + p.name;
    return s;
  }

  Status WriteVerifyDrop(const Range& range, const GamesSummary& games, std::string& step) {
    step = "reading the partitions";
    std::map<std::string, std::string> columns;
    std::map<std::string, std::string> sources;  // table -> what COPY reads
    std::vector<std::string> order;
    try {
      pqxx::read_transaction tx(conn_);
      for (const Part& p : range.parts) {
        columns[p.table] = ColumnsOf(tx, p.parent);
        sources[p.table] = p.name;
        order.push_back(p.table);
      }
      for (const char* t : kSummaryTables) {
        columns[t] = ColumnsOf(tx, t);
        sources[t] = std::string("(SELECT ") + columns[t] + " FROM " + t + " WHERE " +
                     range.Where() + " ORDER BY 1, 2)";
        order.push_back(t);
      }
    } catch (const std::exception& e) {
      return Status::Unavailable(e.what());
    }

    step = "writing the archive";
    const std::string stamp = UtcNow("%Y%m%dT%H%M%SZ");
    const std::string base = "hokm-" + range.Name() + "-" + stamp;
    path_ = (fs::path(args_.to) / (base + ".zst")).string();
    manifest_path_ = archive::ManifestPathFor(path_);
    auto writer = archive::ZstdWriter::Create(path_, args_.level);
    if (!writer.ok()) return writer.status();
    wrote_ = true;
    auto copy = archive::PgCopyConn::Connect(WithTimeouts(url_).ConnInfo(), url_.HostPort());
    if (!copy.ok()) return copy.status();
    archive::Sha256 sha;
    const auto put = [&](std::string_view line) -> Status {
      sha.Update(line);
      sha.Update("\n");
      Status w = (*writer)->Write(line);
      return w.ok() ? (*writer)->Write("\n") : w;
    };
    ArchiveManifest& m = manifest_;
    m = ArchiveManifest{};
    Status st = put(archive::kFirstLine);
    for (const std::string& t : order) {
      if (!st.ok()) return st;
      st = put("#table " + t + " " + columns[t]);
      std::int64_t& n = m.rows[t];
      if (st.ok())
        st = (*copy)->CopyOut("COPY " + sources[t] +
                                  (sources[t][0] == '(' ? "" : " (" + columns[t] + ")") +
                                  " TO STDOUT",
                              [&](std::string_view line) {
                                ++n;
                                return put(line);
                              });
    }
    if (st.ok()) st = put(archive::kEndLine);
    if (st.ok()) st = (*writer)->Finish();
    if (!st.ok()) return st;
    m.file = base + ".zst";
    m.created_at = UtcNow("%Y-%m-%dT%H:%M:%SZ");
    m.created_unix = static_cast<std::int64_t>(std::time(nullptr));
    m.span_bits = range.bits;
    m.block = range.block;
    m.range_from = range.lo;
    m.range_to = range.hi.value_or(0);
    for (const Part& p : range.parts) m.partitions.push_back(p.name);
    m.games = games.games;
    m.first_game_id = games.first;
    m.last_game_id = games.last;
    m.last_finished_at = games.last_finished_at;
    m.columns = columns;
    m.raw_bytes = (*writer)->raw_bytes();
    m.compressed_bytes = (*writer)->compressed_bytes();
    m.sha256 = sha.HexDigest();
    st = archive::WriteManifest(manifest_path_, m);
    if (!st.ok()) return st;

    step = "verifying the archive";
    auto content = archive::ReadArchive(path_, nullptr);
    if (!content.ok()) return content.status();
    st = archive::CheckAgainst(*content, m);
    if (!st.ok()) return st;
    try {
      pqxx::read_transaction tx(conn_);
      for (const std::string& t : order) {
        const std::string from = sources[t][0] == '(' ? t + " WHERE " + range.Where() : sources[t];
        const auto n = tx.exec("SELECT count(*) FROM " + from)[0][0].as<std::int64_t>();
        if (n != m.rows[t])
          return Status::Corruption(t + ": " + std::to_string(n) + " rows in postgresql, " +
                                    std::to_string(m.rows[t]) + " in the archive");
      }
    } catch (const std::exception& e) {
      return Status::Unavailable(e.what());
    }

    step = "dropping the partitions";
    try {
      pqxx::work tx(conn_);
      for (const Part& p : range.parts) tx.exec("DROP TABLE " + p.name);
      WriteAudit(tx, "archive", std::nullopt,
                 {{"file", path_},
                  {"range", range.Name()},
                  {"partitions", m.partitions},
                  {"games", m.games},
                  {"first_game_id", m.first_game_id},
                  {"last_game_id", m.last_game_id},
                  {"rows", m.rows},
                  {"sha256", m.sha256}});
      tx.commit();
    } catch (const std::exception& e) {
      return Status::Unavailable(e.what());
    }
    return Status::Ok();
  }

  void RemoveFiles() {
    if (!wrote_) return;
    std::error_code ec;
    fs::remove(path_, ec);
    fs::remove(manifest_path_, ec);
    fs::remove(manifest_path_ + ".partial", ec);
  }

  // "" when every partition is attached again, else why not.
  std::string Reattach(const Range& range) {
    try {
      const std::map<std::string, std::string> defaults = [&] {
        pqxx::read_transaction tx(conn_);
        return DefaultPartitions(tx);
      }();
      pqxx::work tx(conn_);
      for (const Part& p : range.parts) {
        if (tx.exec("SELECT to_regclass('" + p.name + "') IS NULL")[0][0].as<bool>()) continue;
        if (tx.exec("SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = '" + p.name +
                    "'::regclass)")[0][0]
                .as<bool>())
          continue;  // attached already
        const auto d = defaults.find(p.parent);
        if (d != defaults.end()) {  // rows that reached the default while detached
          const std::string cols = ColumnsOf(tx, p.parent);
          tx.exec("WITH moved AS (DELETE FROM " + d->second + " WHERE " + range.Where() +
                  " RETURNING *) INSERT INTO " + p.name + " (" + cols + ") SELECT " + cols +
                  " FROM moved");
        }
        tx.exec("ALTER TABLE " + p.parent + " ATTACH PARTITION " + p.name + " FOR VALUES " +
                range.Bounds());
      }
      tx.commit();
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  }

  const sidecar::PgUrl& url_;
  pqxx::connection& conn_;
  const ArchiveArgs& args_;
  std::chrono::seconds older_than_;
  ArchiveManifest manifest_;
  std::string path_, manifest_path_;
  bool wrote_ = false;
};

int RunArchiveRanges(const Globals& globals, const ArchiveArgs& args) {
  const auto older_than = archive::ParseDuration(args.older_than);
  if (!older_than)
    return Fail(kExitUsage, "archive: --older-than \"" + args.older_than +
                                "\" is not a duration (30d, 12h, 90m, 45s)");
  const std::optional<sidecar::PgUrl> url = PgUrlOf(globals);
  if (!url) return kExitUsage;
  std::error_code ec;
  fs::create_directories(args.to, ec);
  if (ec || !fs::is_directory(args.to))
    return Fail(kExitProblems, "archive: cannot use directory " + args.to + ": " + ec.message());
  auto conn = ConnectPg(*url);
  if (!conn.ok()) return Fail(kExitProblems, conn.status().message());
  try {
    pqxx::nontransaction tx(**conn);
    tx.exec("SET statement_timeout = 0");  // partitions may be large
    // One archive run at a time (held until the connection closes): a
    // second would find the first's partitions detached under it.
    if (!tx.exec("SELECT pg_try_advisory_lock(hashtext('hokmctl archive'))")[0][0].as<bool>())
      return Fail(kExitProblems, "archive: another hokmctl archive is running on this database");
  } catch (const std::exception& e) {
    return Fail(kExitProblems, std::string("archive: ") + e.what());
  }

  // Ranges in the default partition get their own partition first.
  try {
    std::vector<std::int64_t> blocks;
    {
      pqxx::read_transaction tx(**conn);
      for (const pqxx::row& r :
           tx.exec("SELECT DISTINCT game_id >> " + std::to_string(args.span_bits) +
                   " FROM game_commands_default WHERE game_id >= 0 ORDER BY 1"))
        blocks.push_back(r[0].as<std::int64_t>());
    }
    for (std::int64_t block : blocks) {
      pqxx::work tx(**conn);
      const std::string part = tx.exec_params("SELECT hokm_ensure_commands_partition($1, $2)",
                                              block << args.span_bits, args.span_bits)[0][0]
                                   .as<std::string>();
      tx.commit();
      std::printf("moved the rows of range %d_%lld out of game_commands_default into %s\n",
                  args.span_bits, static_cast<long long>(block), part.c_str());
    }
  } catch (const std::exception& e) {
    return Fail(
        kExitProblems,
        std::string("archive: giving the default partition's ranges their own: ") + e.what());
  }

  std::vector<Range> ranges;
  std::map<std::string, std::string> defaults;
  try {
    pqxx::read_transaction tx(**conn);
    ranges = FindRanges(tx);
    defaults = DefaultPartitions(tx);
  } catch (const std::exception& e) {
    return Fail(kExitProblems, std::string("archive: listing the partitions: ") + e.what());
  }
  int archived = 0;
  for (const Range& range : ranges) {
    RangeArchiver archiver(*url, **conn, args, *older_than);
    bool done = false;
    const int code = archiver.Archive(range, defaults, done);
    if (code != kExitOk) return code;
    if (!done) continue;
    ++archived;
    const ArchiveManifest& m = archiver.manifest();
    std::int64_t rows = 0;
    for (const auto& [t, n] : m.rows) rows += n;
    std::printf(
        "archived range %s: %lld game(s) %lld..%lld, %lld rows, %llu -> %llu bytes (%.1fx) "
        "in %s; dropped %zu partition(s)\n",
        range.Name().c_str(), static_cast<long long>(m.games),
        static_cast<long long>(m.first_game_id), static_cast<long long>(m.last_game_id),
        static_cast<long long>(rows), static_cast<unsigned long long>(m.raw_bytes),
        static_cast<unsigned long long>(m.compressed_bytes),
        m.compressed_bytes ? static_cast<double>(m.raw_bytes) / m.compressed_bytes : 0.0,
        archiver.path().c_str(), m.partitions.size());
  }
  std::printf("%d range(s) archived to %s\n", archived, args.to.c_str());
  return kExitOk;
}

// The manifests in dir, by file name.
std::vector<std::pair<std::string, Result<ArchiveManifest>>> Manifests(const std::string& dir) {
  std::vector<std::pair<std::string, Result<ArchiveManifest>>> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("hokm-", 0) != 0 || e.path().extension() != ".json") continue;
    out.emplace_back(e.path().string(), archive::ReadManifest(e.path().string()));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

int RunList(const ArchiveArgs& args) {
  if (!fs::is_directory(args.to)) return Fail(kExitProblems, "archive: no directory " + args.to);
  json list = json::array();
  int bad = 0;
  for (auto& [manifest_path, m] : Manifests(args.to)) {
    if (!m.ok()) {
      ++bad;
      std::fprintf(stderr, "hokmctl: %s\n", m.status().message().c_str());
      continue;
    }
    json j = m->ToJson();
    const fs::path file = fs::path(args.to) / m->file;
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    j["path"] = file.string();
    j["manifest"] = manifest_path;
    j["present"] = !ec;
    j["bytes_on_disk"] = ec ? json() : json(size);
    list.push_back(j);
  }
  if (args.json) {
    std::printf("%s\n",
                json{{"dir", args.to}, {"count", list.size()}, {"archives", list}}.dump(2).c_str());
    return bad ? kExitProblems : kExitOk;
  }
  if (list.empty())
    std::printf("no archives in %s\n", args.to.c_str());
  else
    std::printf("%-42s %-20s %6s %-41s %9s %11s %10s %6s\n", "FILE", "CREATED", "GAMES", "GAME IDS",
                "ROWS", "RAW", "ZSTD", "RATIO");
  for (const json& j : list) {
    std::int64_t rows = 0;
    for (const auto& [t, n] : j["rows"].items()) rows += n.get<std::int64_t>();
    const auto raw = j["raw_bytes"].get<std::uint64_t>(),
               z = j["compressed_bytes"].get<std::uint64_t>();
    const std::string ids = std::to_string(j["first_game_id"].get<std::int64_t>()) + ".." +
                            std::to_string(j["last_game_id"].get<std::int64_t>());
    std::printf("%-42s %-20s %6lld %-41s %9lld %11llu %10llu %5.1fx%s\n",
                j["file"].get<std::string>().c_str(), j["created_at"].get<std::string>().c_str(),
                static_cast<long long>(j["games"].get<std::int64_t>()), ids.c_str(),
                static_cast<long long>(rows), static_cast<unsigned long long>(raw),
                static_cast<unsigned long long>(z), z ? static_cast<double>(raw) / z : 0.0,
                j["present"].get<bool>() ? "" : "  (FILE MISSING)");
  }
  return bad ? kExitProblems : kExitOk;
}

int RunKeep(const Globals& globals, const ArchiveArgs& args) {
  const auto keep = archive::ParseDuration(args.keep);
  if (!keep)
    return Fail(kExitUsage,
                "archive: --keep \"" + args.keep + "\" is not a duration (30d, 12h, 90m, 45s)");
  if (!fs::is_directory(args.to)) return Fail(kExitProblems, "archive: no directory " + args.to);
  const std::optional<sidecar::PgUrl> url = PgUrlOf(globals);
  if (!url) return kExitUsage;
  const std::int64_t cutoff = static_cast<std::int64_t>(std::time(nullptr)) - keep->count();
  int deleted = 0;
  for (auto& [manifest_path, m] : Manifests(args.to)) {
    if (!m.ok() || m->created_unix >= cutoff) continue;
    const fs::path file = fs::path(args.to) / m->file;
    std::error_code ec;
    fs::remove(file, ec);
    if (ec) return Fail(kExitProblems, "archive: deleting " + file.string() + ": " + ec.message());
    fs::remove(manifest_path, ec);
    if (ec) return Fail(kExitProblems, "archive: deleting " + manifest_path + ": " + ec.message());
    ++deleted;
    std::printf("deleted %s (created %s, games %lld..%lld): past the %s retention\n",
                file.string().c_str(), m->created_at.c_str(),
                static_cast<long long>(m->first_game_id), static_cast<long long>(m->last_game_id),
                args.keep.c_str());
    const Status s = WriteAudit(*url, "archive_deleted", std::nullopt,
                                {{"file", file.string()},
                                 {"created_at", m->created_at},
                                 {"games", m->games},
                                 {"first_game_id", m->first_game_id},
                                 {"last_game_id", m->last_game_id},
                                 {"keep", args.keep}});
    if (!s.ok()) return Fail(kExitProblems, s.message());
  }
  std::printf("%d archive(s) deleted from %s\n", deleted, args.to.c_str());
  return kExitOk;
}

}  // namespace

int RunArchive(const Globals& globals, const ArchiveArgs& args) {
  const int modes = (args.list ? 1 : 0) + (!args.older_than.empty() || !args.keep.empty() ? 1 : 0);
  if (modes != 1)
    return Fail(kExitUsage, "archive: give --older-than and/or --keep, or --list (see --help)");
  if (args.to.empty())
    return Fail(kExitUsage, "archive: no directory: give --to DIR or set $HOKM_ARCHIVE_DIR");
  if (args.list) return RunList(args);
  if (!args.older_than.empty()) {
    const int code = RunArchiveRanges(globals, args);
    if (code != kExitOk || args.keep.empty()) return code;
  }
  return RunKeep(globals, args);
}

}  // namespace hokm::ctl
