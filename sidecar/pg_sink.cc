// pg_sink.cc: the PostgreSQL sink: schema migrations, the COPY-staged batch
// transaction, the derived rows, bisection of poison batches, checkpoints.
#include "sidecar/pg_sink.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <limits>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

#include "sidecar/rating.h"
#include "sidecar/record_json.h"

namespace hokm::sidecar {
namespace {

namespace fb = hokm::fb;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kMaxBigint = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
// pg_advisory_xact_lock key serializing schema migrations ("hokm" in ASCII).
constexpr std::int64_t kMigrationLockKey = 0x686f6b6d;

constexpr const char* kCreateTempTables = R"sql(
CREATE TEMP TABLE IF NOT EXISTS hokm_staging (
  game_id bigint, seq bigint, type smallint, ts_us bigint, body jsonb) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS hokm_new_events (
  game_id bigint, seq bigint, type smallint, ts timestamptz, body jsonb) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS hokm_batch_count (n bigint, replay boolean) ON COMMIT DELETE ROWS;
)sql";

// Inserts hokm_staging into game_moves. First the fast path, for a batch
// none of whose records is stored yet (every batch but replays): a plain
// INSERT, one index descent per row. A duplicate makes it raise
// unique_violation, which rolls the block's work back (PL/pgSQL runs it as a
// subtransaction) and takes the replay path: ON CONFLICT DO NOTHING
// RETURNING, so that only rows really inserted go on. Either way
// hokm_new_events gets the inserted records but card plays and deals
// (nothing derives from those) and hokm_batch_count how many were inserted
// and whether it was a replay. One round trip, no client-side error.
constexpr const char* kInsertMoves = R"sql(
DO $hokm$
DECLARE
  n bigint;
BEGIN
  INSERT INTO game_moves (game_id, seq, type, ts, body)
  SELECT game_id, seq, type, timestamptz 'epoch' + interval '1 microsecond' * ts_us, body FROM hokm_staging;
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO hokm_new_events
  SELECT game_id, seq, type, timestamptz 'epoch' + interval '1 microsecond' * ts_us, body
    FROM hokm_staging WHERE type NOT IN (6, 7);
  INSERT INTO hokm_batch_count VALUES (n, false);
EXCEPTION WHEN unique_violation THEN
  WITH ins AS (
    INSERT INTO game_moves (game_id, seq, type, ts, body)
    SELECT game_id, seq, type, timestamptz 'epoch' + interval '1 microsecond' * ts_us, body FROM hokm_staging
    ON CONFLICT DO NOTHING
    RETURNING game_id, seq, type, ts, CASE WHEN type IN (6, 7) THEN NULL ELSE body END AS body),
  counted AS (INSERT INTO hokm_batch_count SELECT count(*), true FROM ins)
  INSERT INTO hokm_new_events SELECT * FROM ins WHERE type NOT IN (6, 7);
END
$hokm$;
)sql";

// Per record type, what it derives; run in this order (sessions before the
// rows that update them, participants before the results that rate them).
constexpr const char* kDeriveGameCreated = R"sql(
INSERT INTO game_sessions (game_id, room, seed, config, status, created_at)
SELECT game_id, body->>'room', (body->>'seed')::numeric, body - 'room' - 'seed', 'waiting', ts
  FROM hokm_new_events WHERE type = 1
ON CONFLICT (game_id) DO NOTHING;
)sql";

// The latest join or leave per seat in the batch wins; a leave keeps the
// seat's row with left_at set.
constexpr const char* kDerivePlayers = R"sql(
INSERT INTO players (player_id)
SELECT DISTINCT (body->>'player_id')::bigint FROM hokm_new_events WHERE type = 2
ON CONFLICT (player_id) DO NOTHING;
INSERT INTO game_participants AS gp (game_id, seat, player_id, team, joined_at, left_at)
SELECT DISTINCT ON (game_id, seat) game_id, seat, player_id, seat % 2, ts, CASE WHEN type = 3 THEN ts END
  FROM (SELECT game_id, seq, type, ts, (body->>'seat')::smallint AS seat, (body->>'player_id')::bigint AS player_id
          FROM hokm_new_events WHERE type IN (2, 3)) e
 ORDER BY game_id, seat, seq DESC
ON CONFLICT (game_id, seat) DO UPDATE
   SET player_id = EXCLUDED.player_id,
       joined_at = CASE WHEN EXCLUDED.left_at IS NULL OR gp.player_id <> EXCLUDED.player_id
                        THEN EXCLUDED.joined_at ELSE gp.joined_at END,
       left_at = EXCLUDED.left_at;
)sql";

constexpr const char* kDeriveHakemChosen = R"sql(
UPDATE game_sessions s SET status = 'playing'
  FROM (SELECT DISTINCT game_id FROM hokm_new_events WHERE type = 4) e
 WHERE s.game_id = e.game_id AND s.status = 'waiting';
)sql";

// A hand's trick counts are those of its last TrickWon: the row just
// before the HandScored in game_moves (a primary-key probe).
constexpr const char* kDeriveHandScored = R"sql(
INSERT INTO hands (game_id, hand_no, hakem, trump, winner_team, points_awarded, kot, tricks_a, tricks_b, scored_at)
SELECT e.game_id, (e.body->>'hand_no')::integer, (e.body->>'hakem')::smallint, (e.body->>'trump')::smallint,
       (e.body->>'winner_team')::smallint, (e.body->>'points_awarded')::smallint, (e.body->>'kot')::boolean,
       coalesce((t.body->'tricks'->>'a')::smallint, 0), coalesce((t.body->'tricks'->>'b')::smallint, 0), e.ts
  FROM hokm_new_events e
  LEFT JOIN LATERAL (SELECT m.body FROM game_moves m
                      WHERE m.game_id = e.game_id AND m.seq < e.seq AND m.type = 8
                      ORDER BY m.seq DESC LIMIT 1) t ON true
 WHERE e.type = 9
ON CONFLICT (game_id, hand_no) DO NOTHING;
UPDATE game_sessions s
   SET hands = greatest(s.hands, h.hand_no), points_a = h.points_a, points_b = h.points_b
  FROM (SELECT DISTINCT ON (game_id) game_id, (body->>'hand_no')::integer AS hand_no,
               (body->'points'->>'a')::smallint AS points_a, (body->'points'->>'b')::smallint AS points_b
          FROM hokm_new_events WHERE type = 9 ORDER BY game_id, seq DESC) h
 WHERE s.game_id = h.game_id;
)sql";

// Ratings move by fixed steps (sidecar/rating.h), summed per player over
// the batch's finished games; {base} and {step} are filled in at start-up.
constexpr const char* kDeriveGameFinished = R"sql(
UPDATE game_sessions s
   SET status = 'finished', finished_at = e.ts, winner_team = (e.body->>'winner_team')::smallint,
       points_a = (e.body->'points'->>'a')::smallint, points_b = (e.body->'points'->>'b')::smallint
  FROM hokm_new_events e
 WHERE e.type = 10 AND s.game_id = e.game_id;
INSERT INTO players AS p (player_id, games, wins, losses, rating, updated_at)
SELECT gp.player_id, count(*), count(*) FILTER (WHERE gp.team = w.winner),
       count(*) FILTER (WHERE gp.team <> w.winner),
       {base} + {step} * (count(*) FILTER (WHERE gp.team = w.winner) - count(*) FILTER (WHERE gp.team <> w.winner)),
       now()
  FROM (SELECT game_id, (body->>'winner_team')::smallint AS winner FROM hokm_new_events WHERE type = 10) w
  JOIN game_participants gp ON gp.game_id = w.game_id AND gp.left_at IS NULL
 GROUP BY gp.player_id
ON CONFLICT (player_id) DO UPDATE
   SET games = p.games + EXCLUDED.games, wins = p.wins + EXCLUDED.wins, losses = p.losses + EXCLUDED.losses,
       rating = p.rating + (EXCLUDED.rating - {base}), updated_at = now();
)sql";

constexpr const char* kDeriveGameAbandoned = R"sql(
UPDATE game_sessions s
   SET status = 'abandoned', finished_at = e.ts,
       points_a = (e.body->'points'->>'a')::smallint, points_b = (e.body->'points'->>'b')::smallint
  FROM hokm_new_events e
 WHERE e.type = 11 AND s.game_id = e.game_id;
)sql";

std::string ReplaceAll(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

std::uint32_t TypeBit(fb::Body t) { return 1u << static_cast<unsigned>(t); }

// The first line of a server message (the rest is libpqxx's query echo).
std::string FirstLine(std::string_view what) {
  const std::size_t nl = what.find('\n');
  return std::string(what.substr(0, nl));
}

bool IsRecordFault(const std::string& sqlstate) {
  return sqlstate.size() == 5 && (sqlstate.compare(0, 2, "22") == 0 || sqlstate.compare(0, 2, "23") == 0);
}

// SQLSTATE classes a retry can outlast: connection (08), resources (53),
// operator intervention (57), system (58), rollback (40), lock not
// available (55P03).
bool IsTransient(const std::string& sqlstate) {
  if (sqlstate.size() != 5) return false;
  const std::string cls = sqlstate.substr(0, 2);
  return cls == "08" || cls == "53" || cls == "57" || cls == "58" || cls == "40" || sqlstate == "55P03";
}

void AppendHexBytea(const std::uint8_t* bytes, std::uint32_t size, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.append("'\\x");
  for (std::uint32_t k = 0; k < size; ++k) {
    out.push_back(kHex[bytes[k] >> 4]);
    out.push_back(kHex[bytes[k] & 15]);
  }
  out.append("'::bytea");
}

std::string SqlInt(std::uint64_t v) { return v > kMaxBigint ? std::string("NULL") : std::to_string(v); }

struct Attempt {
  Status status;
  bool record_fault = false;  // the server refused the data: split the batch
};

}  // namespace

struct PgSink::Impl {
  PgUrl url;
  Options options;
  std::unique_ptr<pqxx::connection> conn;
  std::set<std::int64_t> known_blocks;  // game_id >> span_bits with a partition
  std::string derive_finished;           // kDeriveGameFinished with the rating constants

  // Scratch reused by every batch.
  std::string body;
  std::string sql;
  std::string sql_dead;
  std::vector<const char*> reasons;  // CheckRecord per record of the batch

  struct Counters {
    std::atomic<std::uint64_t> batches{0}, failed_batches{0}, inserted{0}, duplicate{0}, dead_lettered{0},
        transactions{0}, rollbacks{0}, bisections{0}, round_trips{0}, reconnects{0}, partitions{0}, replay_paths{0},
        last_us{0}, max_us{0}, total_us{0};
  } counters;

  static void Add(std::atomic<std::uint64_t>& c, std::uint64_t v) {
    c.store(c.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
  }

  std::string Where() const { return "postgresql at " + url.HostPort() + "/" + url.dbname; }

  // Turns an exception from libpqxx into a Status; drops the connection when
  // it cannot be trusted any more.
  Attempt Classify(const std::exception& e) {
    if (const auto* sql_err = dynamic_cast<const pqxx::sql_error*>(&e)) {
      const std::string& state = sql_err->sqlstate();
      const std::string msg = Where() + ": " + FirstLine(sql_err->what()) + " (SQLSTATE " + state + ")";
      if (IsRecordFault(state)) return {Status::InvalidArgument(msg), true};
      if (IsTransient(state)) {
        if (state.compare(0, 2, "08") == 0 || state.compare(0, 2, "57") == 0) conn.reset();
        return {Status::Unavailable(msg), false};
      }
      return {Status::Internal(msg), false};
    }
    if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
      conn.reset();
      return {Status::Unavailable(Where() + ": connection lost: " + FirstLine(e.what()) +
                                  " (dropped; the next call reconnects)"),
              false};
    }
    if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
      conn.reset();
      return {Status::Unavailable(Where() + ": commit outcome unknown (connection lost during COMMIT); "
                                            "replaying the batch is safe"),
              false};
    }
    return {Status::Internal(Where() + ": " + FirstLine(e.what())), false};
  }

  Status Open() {
    std::string conninfo = url.ConnInfo();
    // Defaults for what the URL's ?k=v did not set (values quoted as libpq wants).
    const auto add = [&](const std::string& key, const std::string& value) {
      if (url.params.count(key) != 0) return;
      conninfo += " " + key + "='";
      for (char c : value) {
        if (c == '\'' || c == '\\') conninfo.push_back('\\');
        conninfo.push_back(c);
      }
      conninfo += "'";
    };
    add("connect_timeout", std::to_string(std::max<std::int64_t>(1, options.connect_timeout.count())));
    add("application_name", options.application_name);
    add("options", "-c statement_timeout=" + std::to_string(options.statement_timeout.count()) +
                       " -c client_min_messages=warning");
    add("keepalives", "1");
    add("keepalives_idle", "10");
    add("keepalives_interval", "5");
    add("keepalives_count", "3");
    try {
      conn = std::make_unique<pqxx::connection>(conninfo);
      // libpqxx 6 would silently reconnect a broken connection outside a
      // transaction, losing the TEMP staging tables; this sink reconnects
      // itself instead (libpqxx 7 drops reactivation altogether).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
      pqxx::nontransaction tx(*conn);
      tx.exec(kCreateTempTables);
      Add(counters.round_trips, 1);
    } catch (const pqxx::broken_connection& e) {
      conn.reset();
      const std::string what = FirstLine(e.what());
      // libpq reports a refused login through the same exception.
      if (what.find("authentication failed") != std::string::npos ||
          what.find("does not exist") != std::string::npos) {
        return Status::InvalidArgument(Where() + " refused the login as " + url.user + ": " + what);
      }
      return Status::Unavailable(Where() + " not answering: " + what);
    } catch (const std::exception& e) {
      conn.reset();
      return Classify(e).status;
    }
    return Status::Ok();
  }

  Status EnsureOpen() {
    if (conn && conn->is_open()) return Status::Ok();
    Add(counters.reconnects, 1);
    known_blocks.clear();
    return Open();
  }

  Status EnsurePartitions(std::span<const RecordRef> records) {
    const int bits = options.partition_span_bits;
    if (bits <= 0) return Status::Ok();
    std::vector<std::int64_t> fresh;
    for (const RecordRef& r : records) {
      if (CheckRecord(r) != nullptr) continue;
      const auto block = static_cast<std::int64_t>(r.record->game_id() >> bits);
      if (known_blocks.count(block) == 0 && std::find(fresh.begin(), fresh.end(), block) == fresh.end()) {
        fresh.push_back(block);
      }
    }
    for (std::int64_t block : fresh) {
      try {
        pqxx::work tx(*conn);
        tx.exec_params("SELECT hokm_ensure_moves_partition($1, $2)", block << bits, bits);
        tx.commit();
        Add(counters.round_trips, 3);
        Add(counters.partitions, 1);
        known_blocks.insert(block);
      } catch (const std::exception& e) {
        return Classify(e).status;
      }
    }
    return Status::Ok();
  }

  // A string literal (standard_conforming_strings is on since 9.1).
  void AppendQuoted(pqxx::transaction_base& tx, std::string_view s) {
    sql += '\'';
    sql += tx.esc(std::string(s));
    sql += '\'';
  }

  void AppendCheckpoint(pqxx::transaction_base& tx, std::string_view name, std::uint64_t position) {
    if (name.empty()) return;
    sql += "INSERT INTO sidecar_checkpoint (name, position, updated_at) VALUES (";
    AppendQuoted(tx, name);
    sql += ", " + std::to_string(static_cast<std::int64_t>(position));
    sql += ", now()) ON CONFLICT (name) DO UPDATE SET position = greatest(sidecar_checkpoint.position, "
           "EXCLUDED.position), updated_at = now();\n";
  }

  void AppendDeadLetter(pqxx::transaction_base& tx, const RecordRef& r, std::string_view reason, bool first) {
    if (first) {
      sql += "INSERT INTO dead_letters (game_id, seq, record_type, ring_position, reason, payload) VALUES\n";
    } else {
      sql += ",\n";
    }
    sql += "(";
    if (r.record) {
      sql += SqlInt(r.record->game_id()) + ", " + std::to_string(r.record->game_seq()) + ", " +
             std::to_string(static_cast<unsigned>(r.record->body_type()));
    } else {
      sql += "NULL, NULL, NULL";
    }
    sql += ", " + SqlInt(r.position) + ", ";
    AppendQuoted(tx, reason);
    sql += ", ";
    AppendHexBytea(r.bytes, r.size, sql);
    sql += ")";
  }

  // The statements after the insert: derived rows for the record types in
  // the batch (types: bit per Body), the dead letters already in sql_dead,
  // the checkpoint.
  void AppendDerived(pqxx::transaction_base& tx, std::uint32_t types, std::string_view name, std::uint64_t position) {
    if (types & TypeBit(fb::Body::GameCreated)) sql += kDeriveGameCreated;
    if (types & (TypeBit(fb::Body::PlayerJoined) | TypeBit(fb::Body::PlayerLeft))) sql += kDerivePlayers;
    if (types & TypeBit(fb::Body::HakemChosen)) sql += kDeriveHakemChosen;
    if (types & TypeBit(fb::Body::HandScored)) sql += kDeriveHandScored;
    if (types & TypeBit(fb::Body::GameFinished)) sql += derive_finished;
    if (types & TypeBit(fb::Body::GameAbandoned)) sql += kDeriveGameAbandoned;
    sql += sql_dead;
    AppendCheckpoint(tx, name, position);
  }

  // One transaction for records: staged, inserted, derived, dead-lettered
  // (those failing CheckRecord), checkpointed, committed.
  Attempt TryTransaction(std::span<const RecordRef> records, std::string_view name, std::uint64_t position,
                         std::uint64_t* inserted_out, std::uint64_t* rejected_out) {
    std::uint32_t types = 0;
    std::uint64_t good = 0;
    std::uint64_t rt = 0;
    try {
      pqxx::work tx(*conn);
      ++rt;
      sql.clear();
      sql_dead.clear();
      reasons.clear();
      for (const RecordRef& r : records) {
        const char* why = CheckRecord(r);
        reasons.push_back(why);
        if (why != nullptr) {
          std::swap(sql, sql_dead);
          AppendDeadLetter(tx, r, why, sql.empty());
          std::swap(sql, sql_dead);
        } else {
          ++good;
          types |= TypeBit(r.record->body_type());
        }
      }
      if (!sql_dead.empty()) sql_dead += "\nON CONFLICT (payload_md5) DO NOTHING;\n";
      *rejected_out = records.size() - good;
      *inserted_out = 0;
      if (good > 0) {
        pqxx::stream_to copy(tx, "hokm_staging", std::vector<std::string>{"game_id", "seq", "type", "ts_us", "body"});
        for (std::size_t k = 0; k < records.size(); ++k) {
          if (reasons[k] != nullptr) continue;
          const fb::ChangeRecord& rec = *records[k].record;
          body.clear();
          AppendBodyJson(rec, body);
          copy << std::make_tuple(static_cast<long long>(rec.game_id()), static_cast<long long>(rec.game_seq()),
                                  static_cast<int>(rec.body_type()), static_cast<long long>(rec.ts_ns() / 1000), body);
        }
        copy.complete();
        rt += 2;
        sql += kInsertMoves;
        AppendDerived(tx, types, name, position);
        sql += "SELECT n, replay FROM hokm_batch_count;";
        const pqxx::result res = tx.exec(sql);
        ++rt;
        if (!res.empty()) {
          *inserted_out = res[0][0].as<std::uint64_t>();
          if (res[0][1].as<bool>()) Add(counters.replay_paths, 1);
        }
      } else {
        AppendDerived(tx, 0, name, position);
        if (!sql.empty()) {
          tx.exec(sql);
          ++rt;
        }
      }
      tx.commit();
      ++rt;
    } catch (const std::exception& e) {
      Add(counters.round_trips, rt);
      Add(counters.rollbacks, 1);
      return Classify(e);
    }
    Add(counters.round_trips, rt);
    Add(counters.transactions, 1);
    return {Status::Ok(), false};
  }

  // Commits records (bisecting around poison); the checkpoint of every
  // committed part is its last record's position, the whole's is position.
  Status WriteRange(std::span<const RecordRef> records, std::string_view name, std::uint64_t position) {
    std::uint64_t inserted = 0;
    std::uint64_t rejected = 0;
    Attempt a = TryTransaction(records, name, position, &inserted, &rejected);
    if (a.status.ok()) {
      Add(counters.inserted, inserted);
      Add(counters.duplicate, records.size() - rejected - inserted);
      Add(counters.dead_lettered, rejected);
      return a.status;
    }
    if (!a.record_fault) return a.status;
    if (records.size() == 1) return DeadLetter(records.front(), a.status.message(), name, position);
    Add(counters.bisections, 1);
    const std::size_t half = records.size() / 2;
    const auto left = records.first(half);
    if (Status s = WriteRange(left, name, left.back().position); !s.ok()) return s;
    return WriteRange(records.subspan(half), name, position);
  }

  Status DeadLetter(const RecordRef& r, const std::string& reason, std::string_view name, std::uint64_t position) {
    std::uint64_t rt = 0;
    try {
      pqxx::work tx(*conn);
      ++rt;
      sql.clear();
      AppendDeadLetter(tx, r, reason, true);
      sql += "\nON CONFLICT (payload_md5) DO NOTHING;\n";
      AppendCheckpoint(tx, name, position);
      tx.exec(sql);
      ++rt;
      tx.commit();
      ++rt;
    } catch (const std::exception& e) {
      Add(counters.round_trips, rt);
      Add(counters.rollbacks, 1);
      Attempt a = Classify(e);
      if (a.record_fault) return Status::Internal(Where() + ": could not dead-letter a record: " + a.status.message());
      return a.status;
    }
    Add(counters.round_trips, rt);
    Add(counters.transactions, 1);
    Add(counters.dead_lettered, 1);
    return Status::Ok();
  }

  Status WriteBatch(std::span<const RecordRef> records, std::string_view name, std::uint64_t position) {
    const auto t0 = Clock::now();
    Status s = EnsureOpen();
    if (s.ok()) s = EnsurePartitions(records);
    if (s.ok() && (!records.empty() || !name.empty())) s = WriteRange(records, name, position);
    const auto us =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
    counters.last_us.store(us, std::memory_order_relaxed);
    if (us > counters.max_us.load(std::memory_order_relaxed)) counters.max_us.store(us, std::memory_order_relaxed);
    Add(counters.total_us, us);
    Add(s.ok() ? counters.batches : counters.failed_batches, 1);
    return s;
  }

  Result<int> ApplySchema(const std::filesystem::path& dir) {
    if (Status s = EnsureOpen(); !s.ok()) return s;
    std::map<int, std::filesystem::path> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      const std::string file = entry.path().filename().string();
      if (!entry.is_regular_file() || entry.path().extension() != ".sql") continue;
      int version = 0;
      const auto [end, err] = std::from_chars(file.data(), file.data() + file.size(), version);
      if (err != std::errc() || end == file.data() || *end != '_' || version <= 0) {
        return Status::InvalidArgument("schema file " + entry.path().string() + " is not named NNN_name.sql");
      }
      if (!files.emplace(version, entry.path()).second) {
        return Status::InvalidArgument("two schema files have version " + std::to_string(version) + " in " +
                                       dir.string());
      }
    }
    if (ec) return Status::IoError("cannot list schema directory " + dir.string() + ": " + ec.message());
    if (files.empty()) return Status::NotFound("no NNN_*.sql schema files in " + dir.string());
    int applied = 0;
    try {
      {
        pqxx::work tx(*conn);
        tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
        tx.exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())");
        tx.commit();
      }
      for (const auto& [version, path] : files) {
        std::ifstream in(path, std::ios::binary);
        if (!in) return Status::IoError("cannot read schema file " + path.string());
        std::stringstream text;
        text << in.rdbuf();
        pqxx::work tx(*conn);
        tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
        if (!tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", version).empty()) continue;
        tx.exec(text.str());
        const std::string name = path.filename().string();
        tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name);
        if (tx.exec("SELECT to_regclass('public.audit_log') IS NOT NULL")[0][0].as<bool>()) {
          tx.exec_params(
              "INSERT INTO audit_log (action, details) VALUES ('schema_migration', "
              "jsonb_build_object('version', $1::integer, 'file', $2::text))",
              version, name);
        }
        tx.commit();
        ++applied;
      }
    } catch (const std::exception& e) {
      Attempt a = Classify(e);
      if (a.status.code() == Status::Code::kUnavailable) return a.status;
      return Status::Internal("applying the schema: " + a.status.message());
    }
    return applied;
  }

  Result<std::optional<std::uint64_t>> ReadCheckpoint(std::string_view name) {
    if (Status s = EnsureOpen(); !s.ok()) return s;
    try {
      pqxx::nontransaction tx(*conn);
      const pqxx::result r =
          tx.exec_params("SELECT position FROM sidecar_checkpoint WHERE name = $1", std::string(name));
      Add(counters.round_trips, 1);
      if (r.empty()) return std::optional<std::uint64_t>();
      return std::optional<std::uint64_t>(static_cast<std::uint64_t>(r[0][0].as<std::int64_t>()));
    } catch (const std::exception& e) {
      return Classify(e).status;
    }
  }
};

PgSink::PgSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgSink::PgSink(PgSink&&) noexcept = default;
PgSink& PgSink::operator=(PgSink&&) noexcept = default;
PgSink::~PgSink() = default;

Result<PgSink> PgSink::Connect(const PgUrl& url, const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->url = url;
  impl->options = options;
  impl->derive_finished = ReplaceAll(ReplaceAll(kDeriveGameFinished, "{base}", std::to_string(kRatingBase)), "{step}",
                                     std::to_string(kRatingStep));
  if (Status s = impl->Open(); !s.ok()) return s;
  return PgSink(std::move(impl));
}

Status PgSink::ApplySchema(const std::filesystem::path& dir, int* applied) {
  Result<int> r = impl_->ApplySchema(dir);
  if (!r.ok()) return r.status();
  if (applied) *applied = *r;
  return Status::Ok();
}

Status PgSink::WriteBatch(std::span<const RecordRef> records, std::string_view checkpoint_name,
                          std::uint64_t checkpoint_position) {
  return impl_->WriteBatch(records, checkpoint_name, checkpoint_position);
}

Result<std::optional<std::uint64_t>> PgSink::ReadCheckpoint(std::string_view name) {
  return impl_->ReadCheckpoint(name);
}

bool PgSink::Ping() {
  if (!impl_->EnsureOpen().ok()) return false;
  try {
    pqxx::nontransaction tx(*impl_->conn);
    tx.exec("SELECT 1");
    return true;
  } catch (const std::exception& e) {
    (void)impl_->Classify(e);
    return false;
  }
}

PgSinkStats PgSink::stats() const {
  const auto& c = impl_->counters;
  const auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  PgSinkStats s;
  s.batches = get(c.batches);
  s.failed_batches = get(c.failed_batches);
  s.moves_inserted = get(c.inserted);
  s.moves_duplicate = get(c.duplicate);
  s.dead_letters = get(c.dead_lettered);
  s.transactions = get(c.transactions);
  s.rollbacks = get(c.rollbacks);
  s.bisections = get(c.bisections);
  s.round_trips = get(c.round_trips);
  s.reconnects = get(c.reconnects);
  s.partitions_ensured = get(c.partitions);
  s.replay_paths = get(c.replay_paths);
  s.last_batch_us = get(c.last_us);
  s.max_batch_us = get(c.max_us);
  s.total_batch_us = get(c.total_us);
  return s;
}

const PgUrl& PgSink::url() const { return impl_->url; }

}  // namespace hokm::sidecar
