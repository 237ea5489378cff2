// pg_sink.cc: the PostgreSQL sink's I/O: schema migrations, the COPY batch
// transaction (the derived rows of pg_derived.h, the SQL of pg_sql.h),
// bisection of poison batches, checkpoints.
#include "sidecar/pg/pg_sink.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <pqxx/pqxx>
#include <pqxx/tablewriter>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "sidecar/pg/pg_derived.h"
#include "sidecar/pg/pg_schema.h"
#include "sidecar/pg/pg_sql.h"
#include "sidecar/pg/pg_text.h"
#include "sidecar/record_json.h"

namespace hokm::sidecar {
namespace {

namespace fb = hokm::fb;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kMaxBigint =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
// pg_advisory_xact_lock key serializing schema migrations ("hokm" in ASCII).
constexpr std::int64_t kMigrationLockKey = 0x686f6b6d;

// The first line of a server message (the rest is libpqxx's query echo).
std::string FirstLine(std::string_view what) {
  const std::size_t nl = what.find('\n');
  return std::string(what.substr(0, nl));
}

bool IsRecordFault(const std::string& sqlstate) {
  return sqlstate.size() == 5 &&
         (sqlstate.compare(0, 2, "22") == 0 || sqlstate.compare(0, 2, "23") == 0);
}

// SQLSTATE classes a retry can outlast: connection (08), resources (53),
// operator intervention (57), system (58), rollback (40), lock not
// available (55P03).
bool IsTransient(const std::string& sqlstate) {
  if (sqlstate.size() != 5) return false;
  const std::string cls = sqlstate.substr(0, 2);
  return cls == "08" || cls == "53" || cls == "57" || cls == "58" || cls == "40" ||
         sqlstate == "55P03";
}

std::uint64_t Micros(Clock::duration d) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

std::string SqlInt(std::uint64_t v) {
  return v > kMaxBigint ? std::string("NULL") : std::to_string(v);
}

// Whether b belongs to a's command: both came out of one ring record (one
// position), of one game, with one timestamp. Records that failed
// verification are commands of their own.
bool SameCommand(const RecordRef& a, const RecordRef& b) {
  return a.position == b.position && a.record != nullptr && b.record != nullptr &&
         a.record->game_id() == b.record->game_id() && a.record->ts_ns() == b.record->ts_ns();
}

// The index just past the command that starts at records[begin].
std::size_t CommandEnd(std::span<const RecordRef> records, std::size_t begin) {
  std::size_t end = begin + 1;
  while (end < records.size() && SameCommand(records[begin], records[end])) ++end;
  return end;
}

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
  DeriveSql derive = DeriveSql::Make();

  // Scratch reused by every batch.
  std::string body;
  std::string records_json;
  std::string rows;  // CopyRecords' COPY data
  // The batch's commands: good[command_begin[i], command_begin[i + 1]) are
  // the indices of command i's records that passed CheckRecord.
  std::vector<std::uint32_t> good;
  std::vector<std::uint32_t> command_begin;
  std::vector<std::uint32_t> copy_order;  // commands by (game_id, seq), for COPY
  std::string sql;
  std::string sql_dead;
  std::vector<const char*> reasons;  // CheckRecord per record of the batch
  DerivedRows derived;
  std::set<std::pair<std::int64_t, std::int64_t>>
      inserted_keys;  // replay path: (game_id, seq) of the command rows inserted

  // Set during ReplayDeadLetters: the dead_letters rows the transaction
  // deletes (AppendDerived) and, when PostgreSQL refuses the records again,
  // the rows whose reason DeadLetter updates instead of inserting rows.
  std::span<const std::int64_t> replay_ids;
  bool replay_refused = false;
  std::string replay_reason;

  StatsCell<PgSinkStats> stats;
  PgSinkStats& counters = stats.live;

  // The settings the sink wants, made at the start of every transaction
  // (SetLocal) rather than as startup `options` or a session SET: behind a
  // pooler in transaction mode (pgBouncer) each transaction may run on
  // another server connection, startup options are refused, and a session
  // SET would stay on the server connection for other clients. SET LOCAL
  // ends with its transaction.
  std::string set_local;

  // One round trip; the first statement of every transaction of the sink.
  void SetLocal(pqxx::transaction_base& tx) const { tx.exec(set_local); }

  static void Add(std::uint64_t& c, std::uint64_t v) { c += v; }

  std::string Where() const { return "postgresql at " + url.HostPort() + "/" + url.dbname(); }

  // Turns an exception from libpqxx into a Status; drops the connection when
  // it cannot be trusted any more.
  Attempt Classify(const std::exception& e) {
    if (const auto* sql_err = dynamic_cast<const pqxx::sql_error*>(&e)) {
      const std::string& state = sql_err->sqlstate();
      const std::string msg =
          Where() + ": " + FirstLine(sql_err->what()) + " (SQLSTATE " + state + ")";
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
      return {
          Status::Unavailable(Where() + ": commit outcome unknown (connection lost during COMMIT); "
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
    add("connect_timeout",
        std::to_string(std::max<std::int64_t>(1, options.connect_timeout.count())));
    add("application_name", options.application_name);
    // jit off: the sink's statements are small, and JIT-compiling one whose
    // plan looks dear (a lookup through the game_moves view) took far longer
    // than running it (sidecar/README.md, Measurements).
    set_local =
        "SET LOCAL statement_timeout = " + std::to_string(options.statement_timeout.count()) +
        "; SET LOCAL client_min_messages = warning; SET LOCAL jit = off";
    add("keepalives", "1");
    add("keepalives_idle", "10");
    add("keepalives_interval", "5");
    add("keepalives_count", "3");
    try {
      conn = std::make_unique<pqxx::connection>(conninfo);
      // libpqxx 6 would silently reconnect a broken connection outside a
      // transaction; this sink reconnects itself instead, counting it
      // (libpqxx 7 drops reactivation altogether).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
      conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
    } catch (const pqxx::broken_connection& e) {
      conn.reset();
      const std::string what = FirstLine(e.what());
      // libpq reports a refused login through the same exception.
      if (what.find("authentication failed") != std::string::npos ||
          what.find("does not exist") != std::string::npos) {
        return Status::InvalidArgument(
            Where() + " refused the login as " +
            (url.user().empty() ? std::string("the default user") : url.user()) + ": " + what);
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
      if (known_blocks.count(block) == 0 &&
          std::find(fresh.begin(), fresh.end(), block) == fresh.end()) {
        fresh.push_back(block);
      }
    }
    for (std::int64_t block : fresh) {
      try {
        pqxx::work tx(*conn);
        SetLocal(tx);
        tx.exec_params("SELECT hokm_ensure_commands_partition($1, $2)", block << bits, bits);
        tx.commit();
        Add(counters.round_trips, 4);
        Add(counters.partitions_ensured, 1);
        known_blocks.insert(block);
      } catch (const std::exception& e) {
        return Classify(e).status;
      }
    }
    return Status::Ok();
  }

  void AppendCheckpoint(std::string_view name, std::uint64_t position) {
    if (name.empty()) return;
    sql += "INSERT INTO sidecar_checkpoint (name, position, updated_at) VALUES (";
    AppendPgQuoted(name, sql);
    sql += ", " + std::to_string(static_cast<std::int64_t>(position));
    sql +=
        ", now()) ON CONFLICT (name) DO UPDATE SET position = "
        "greatest(sidecar_checkpoint.position, "
        "EXCLUDED.position), updated_at = now();\n";
  }

  // Appends a row of an INSERT INTO dead_letters to out (the INSERT itself
  // when first).
  static void AppendDeadLetter(const RecordRef& r, std::string_view reason, bool first,
                               std::string& out) {
    out += first ? "INSERT INTO dead_letters (game_id, seq, record_type, ring_position, reason, "
                   "payload) VALUES\n"
                 : ",\n";
    out += "(";
    if (r.record) {
      out += SqlInt(r.record->game_id()) + ", " + std::to_string(r.record->game_seq()) + ", " +
             std::to_string(static_cast<unsigned>(r.record->body_type()));
    } else {
      out += "NULL, NULL, NULL";
    }
    out += ", " + SqlInt(r.position) + ", ";
    // Reasons from the server may hold any text; keep them valid and short.
    AppendPgQuoted(reason.substr(0, 1000), out);
    out += ", ";
    AppendPgBytea(r.bytes, r.size, out);
    out += ")";
  }

  // The statements after the insert: what derived.* holds, the dead
  // letters in sql_dead, the checkpoint.
  void AppendDerived(std::string_view name, std::uint64_t position) {
    const auto add = [&](const std::string& tmpl, const std::string& values) {
      if (!values.empty()) sql += ReplaceAll(tmpl, "{rows}", values);
    };
    add(derive.created, derived.created);
    add(derive.seats, derived.seats);
    add(derive.connections, derived.connections);
    add(derive.first_hakem, derived.first_hakem);
    add(derive.hands, derived.hands);
    add(derive.finished, derived.finished);
    add(derive.abandoned, derived.abandoned);
    sql += sql_dead;
    if (!replay_ids.empty()) {
      sql += "DELETE FROM dead_letters WHERE id IN (" + IdList(replay_ids) + ");\n";
    }
    AppendCheckpoint(name, position);
  }

  static std::string IdList(std::span<const std::int64_t> ids) {
    std::string list;
    for (const std::int64_t id : ids) {
      if (!list.empty()) list += ',';
      list += std::to_string(id);
    }
    return list;
  }

  // Groups the records that passed CheckRecord (reasons) into commands:
  // fills good and command_begin.
  void SplitCommands(std::span<const RecordRef> records) {
    good.clear();
    command_begin.clear();
    for (std::uint32_t k = 0; k < records.size(); ++k) {
      if (reasons[k] != nullptr) continue;
      if (good.empty() || !SameCommand(records[good.back()], records[k])) {
        command_begin.push_back(static_cast<std::uint32_t>(good.size()));
      }
      good.push_back(k);
    }
    command_begin.push_back(static_cast<std::uint32_t>(good.size()));
  }
  std::size_t commands() const { return command_begin.size() - 1; }

  // Appends {"seq":..,"type":..,<fields>} of a record to records_json.
  void AppendRecordJson(const fb::ChangeRecord& rec) {
    records_json += "{\"seq\":";
    AppendPgInt(rec.game_seq(), records_json);
    records_json += ",\"type\":";
    AppendPgInt(static_cast<unsigned>(rec.body_type()), records_json);
    body.clear();
    AppendBodyJson(rec, body);  // {...}
    if (body.size() > 2) {
      records_json += ',';
      records_json.append(body, 1, std::string::npos);
    } else {
      records_json += '}';
    }
  }

  // Streams the batch's commands (SplitCommands) into table with COPY, one
  // row each: game_id, seq, ts_ns, seat, card, records
  // (schemas/postgres/004_game_commands.sql). A command whose first record
  // is a card play fills seat and card, and records with the rest (null
  // when none: most card plays); a card play on timeout is in records. The rows are formatted here,
  // in COPY's text format, and go to the server as one piece of COPY data: COPY does not need its
  // data split at rows, and pqxx's per-field conversion and escaping plus a PQputCopyData per row
  // were a large share of the sidecar's CPU (sidecar/README.md, Measurements).
  void CopyCommands(pqxx::transaction_base& tx, const char* table,
                    std::span<const RecordRef> records) {
    static const std::vector<std::string> kColumns{"game_id", "seq",  "ts_ns",
                                                   "seat",    "card", "records"};
    // pqxx 6.4's stream_to keeps its raw-line writer private; tablewriter's
    // is public. Its deprecation is about its own escaping, which is not
    // used here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    pqxx::tablewriter copy(tx, table, kColumns.begin(), kColumns.end());
#pragma GCC diagnostic pop
    // Rows in key order: the primary key's B-tree then takes them leaf
    // after leaf, for less COPY time than ring order (bench/README.md).
    copy_order.resize(commands());
    for (std::uint32_t c = 0; c < copy_order.size(); ++c) copy_order[c] = c;
    const auto first_of = [&](std::uint32_t c) -> const fb::ChangeRecord& {
      return *records[good[command_begin[c]]].record;
    };
    std::sort(copy_order.begin(), copy_order.end(), [&](std::uint32_t x, std::uint32_t y) {
      const fb::ChangeRecord& a = first_of(x);
      const fb::ChangeRecord& b = first_of(y);
      return a.game_id() != b.game_id() ? a.game_id() < b.game_id() : a.game_seq() < b.game_seq();
    });
    rows.clear();
    for (const std::uint32_t c : copy_order) {
      std::uint32_t k = command_begin[c];
      const std::uint32_t end = command_begin[c + 1];
      const fb::ChangeRecord& first = *records[good[k]].record;
      if (!rows.empty()) rows += '\n';
      AppendPgInt(first.game_id(), rows);  // CheckRecord: < 2^63
      rows += '\t';
      AppendPgInt(first.game_seq(), rows);
      rows += '\t';
      AppendPgInt(first.ts_ns(), rows);
      rows += '\t';
      // A card play the engine made on a turn timeout keeps its flag: it
      // goes into records with the rest, seat and card stay null.
      if (const auto* play = first.body_as_CardPlayed(); play != nullptr && !play->on_timeout()) {
        AppendPgInt(play->seat(), rows);
        rows += '\t';
        AppendPgInt(play->card(), rows);
        rows += '\t';
        ++k;
      } else {
        rows += "\\N\t\\N\t";
      }
      if (k == end) {
        rows += "\\N";
        continue;
      }
      records_json.assign("[");
      for (; k < end; ++k) {
        if (records_json.size() > 1) records_json += ',';
        AppendRecordJson(*records[good[k]].record);
      }
      records_json += ']';
      AppendCopyText(records_json, rows);
    }
    if (!rows.empty()) copy.write_raw_line(rows);  // adds the last row's newline
    copy.complete();
  }

  // One transaction for records: inserted, derived, dead-lettered (those
  // failing CheckRecord), checkpointed, committed.
  //
  // Fast path (every batch but replays): COPY straight into game_commands,
  // then the derived statements for all of the batch's records. A command
  // already stored makes the COPY fail with unique_violation; the
  // transaction is then redone on the replay path: COPY into a TEMP
  // staging table that the transaction creates and drops (ON COMMIT DROP:
  // nothing outlives the transaction, so it works behind pgBouncer in
  // transaction mode), INSERT ... ON CONFLICT DO NOTHING RETURNING the keys
  // inserted, derived statements for those records only.
  Attempt TryTransaction(std::span<const RecordRef> records, std::string_view name,
                         std::uint64_t position, std::uint64_t* inserted_out,
                         std::uint64_t* rejected_out) {
    std::uint64_t checked = 0;  // records that passed CheckRecord
    std::uint64_t rt = 0;
    sql_dead.clear();
    reasons.clear();
    for (const RecordRef& r : records) {
      const char* why = CheckRecord(r);
      reasons.push_back(why);
      if (why != nullptr) {
        AppendDeadLetter(r, why, sql_dead.empty(), sql_dead);
      } else {
        ++checked;
      }
    }
    if (!sql_dead.empty()) sql_dead += "\nON CONFLICT (payload_md5) DO NOTHING;\n";
    *rejected_out = records.size() - checked;
    SplitCommands(records);
    *inserted_out = 0;
    const auto finish = [&](Attempt a) {
      Add(counters.round_trips, rt);
      Add(a.status.ok() ? counters.transactions : counters.rollbacks, 1);
      return a;
    };

    const auto t_begin = Clock::now();
    try {
      pqxx::work tx(*conn);
      SetLocal(tx);
      rt += 2;
      if (checked > 0) {
        CopyCommands(tx, "game_commands", records);
        rt += 2;
      }
      const auto t_copied = Clock::now();
      sql.clear();
      derived.Clear();
      for (std::size_t k = 0; k < records.size(); ++k) {
        if (reasons[k] == nullptr) derived.Add(*records[k].record);
      }
      AppendDerived(name, position);
      if (!sql.empty()) {
        tx.exec(sql);
        ++rt;
      }
      const auto t_derived = Clock::now();
      tx.commit();
      ++rt;
      Add(counters.copy_us, Micros(t_copied - t_begin));
      Add(counters.statements_us, Micros(t_derived - t_copied));
      Add(counters.commit_us, Micros(Clock::now() - t_derived));
      *inserted_out = checked;
      Add(counters.rows_inserted, commands());
      return finish({Status::Ok(), false});
    } catch (const pqxx::sql_error& e) {
      // unique_violation: a record of the batch is stored already.
      if (e.sqlstate() != "23505") return finish(Classify(e));
    } catch (const std::exception& e) {
      return finish(Classify(e));
    }
    Add(counters.rollbacks, 1);
    Add(counters.replay_paths, 1);

    try {
      pqxx::work tx(*conn);
      tx.exec(set_local + ";\n" + kCreateStaging);
      rt += 2;
      CopyCommands(tx, "hokm_commands_staging", records);
      rt += 2;
      const pqxx::result keys = tx.exec(kInsertStaged);
      ++rt;
      inserted_keys.clear();
      for (const auto& row : keys)
        inserted_keys.emplace(row[0].as<std::int64_t>(), row[1].as<std::int64_t>());
      sql.clear();
      derived.Clear();
      std::uint64_t inserted = 0;
      for (std::size_t c = 0; c < commands(); ++c) {
        const fb::ChangeRecord& first = *records[good[command_begin[c]]].record;
        if (inserted_keys.count({static_cast<std::int64_t>(first.game_id()), first.game_seq()}) ==
            0)
          continue;
        for (std::uint32_t k = command_begin[c]; k < command_begin[c + 1]; ++k) {
          derived.Add(*records[good[k]].record);
          ++inserted;
        }
      }
      AppendDerived(name, position);
      tx.exec(sql);
      ++rt;
      tx.commit();
      ++rt;
      *inserted_out = inserted;
      Add(counters.rows_inserted, inserted_keys.size());
      return finish({Status::Ok(), false});
    } catch (const std::exception& e) {
      return finish(Classify(e));
    }
  }

  // Commits records (bisecting around poison); the checkpoint of every
  // committed part is its last record's position, the whole's is position.
  Status WriteRange(std::span<const RecordRef> records, std::string_view name,
                    std::uint64_t position) {
    std::uint64_t inserted = 0;
    std::uint64_t rejected = 0;
    Attempt a = TryTransaction(records, name, position, &inserted, &rejected);
    if (a.status.ok()) {
      Add(counters.moves_inserted, inserted);
      Add(counters.moves_duplicate, records.size() - rejected - inserted);
      Add(counters.dead_letters, rejected);
      return a.status;
    }
    if (!a.record_fault) return a.status;
    // Halves end at a command's end: a command is stored whole or not.
    std::size_t half = 0;
    for (std::size_t end = 0; end < records.size(); end = CommandEnd(records, end)) {
      if (end != 0 && (half == 0 || end <= records.size() / 2)) half = end;
    }
    if (half == 0) return DeadLetter(records, a.status.message(), name, position);
    Add(counters.bisections, 1);
    const auto left = records.first(half);
    if (Status s = WriteRange(left, name, left.back().position); !s.ok()) return s;
    return WriteRange(records.subspan(half), name, position);
  }

  // Dead-letters a command the server refused: every record of it, with
  // the server's message.
  Status DeadLetter(std::span<const RecordRef> command, const std::string& reason,
                    std::string_view name, std::uint64_t position) {
    std::uint64_t rt = 0;
    try {
      pqxx::work tx(*conn);
      SetLocal(tx);
      rt += 2;
      sql.clear();
      if (!replay_ids.empty()) {
        // A replayed dead letter refused again: its rows stay, with the
        // server's message of now.
        sql += "UPDATE dead_letters SET reason = ";
        AppendPgQuoted(std::string_view(reason).substr(0, 1000), sql);
        sql += " WHERE id IN (" + IdList(replay_ids) + ");\n";
        replay_refused = true;
        replay_reason = reason;
      } else {
        for (const RecordRef& r : command) AppendDeadLetter(r, reason, sql.empty(), sql);
        sql += "\nON CONFLICT (payload_md5) DO NOTHING;\n";
      }
      AppendCheckpoint(name, position);
      tx.exec(sql);
      ++rt;
      tx.commit();
      ++rt;
    } catch (const std::exception& e) {
      replay_refused = false;
      Add(counters.round_trips, rt);
      Add(counters.rollbacks, 1);
      Attempt a = Classify(e);
      if (a.record_fault)
        return Status::Internal(Where() +
                                ": could not dead-letter a record: " + a.status.message());
      return a.status;
    }
    Add(counters.round_trips, rt);
    Add(counters.transactions, 1);
    if (replay_ids.empty()) Add(counters.dead_letters, command.size());
    return Status::Ok();
  }

  Status WriteBatch(std::span<const RecordRef> records, std::string_view name,
                    std::uint64_t position) {
    const auto t0 = Clock::now();
    Status s = EnsureOpen();
    if (s.ok()) s = EnsurePartitions(records);
    if (s.ok() && (!records.empty() || !name.empty())) s = WriteRange(records, name, position);
    EndBatch(counters, Clock::now() - t0, s.ok());
    return s;
  }

  // Whether schema_migrations lists every file's version (read only).
  bool AllApplied(const std::vector<SchemaFile>& files) {
    pqxx::work tx(*conn);
    SetLocal(tx);
    if (!tx.exec("SELECT to_regclass('public.schema_migrations') IS NOT NULL")[0][0].as<bool>()) {
      return false;
    }
    std::set<int> versions;
    for (const pqxx::row& row : tx.exec("SELECT version FROM schema_migrations")) {
      versions.insert(row[0].as<int>());
    }
    tx.commit();
    return std::all_of(files.begin(), files.end(),
                       [&](const SchemaFile& f) { return versions.count(f.version) != 0; });
  }

  // Every schema file of dir and every version in schema_migrations, after
  // applying the pending files when apply (*applied: how many). The listing
  // takes the migration lock too, so it never sees a migration half done.
  Result<std::vector<SchemaMigration>> Migrate(const std::filesystem::path& dir, bool apply,
                                               const std::string& actor, int* applied) {
    if (Status s = EnsureOpen(); !s.ok()) return s;
    Result<std::vector<SchemaFile>> files = ListSchemaFiles(dir);
    if (!files.ok()) return files.status();
    *applied = 0;
    std::vector<SchemaMigration> out;
    try {
      // Every file applied already: no DDL at all, so that a role without
      // CREATE (hokm_writer, schemas/postgres/006_roles.sql) starts when the
      // schema is current; the owner migrates.
      if (apply && AllApplied(*files)) apply = false;
      if (apply) {
        {
          pqxx::work tx(*conn);
          SetLocal(tx);
          tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
          tx.exec(
              "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name "
              "text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
          tx.commit();
        }
        for (const SchemaFile& file : *files) {
          std::ifstream in(file.path, std::ios::binary);
          if (!in) return Status::IoError("cannot read schema file " + file.path.string());
          std::stringstream text;
          text << in.rdbuf();
          pqxx::work tx(*conn);
          SetLocal(tx);
          tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
          if (!tx.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", file.version)
                   .empty())
            continue;
          tx.exec(text.str());
          tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                         file.version, file.name);
          if (tx.exec("SELECT to_regclass('public.audit_log') IS NOT NULL")[0][0].as<bool>()) {
            tx.exec_params(
                "INSERT INTO audit_log (actor, action, details) VALUES (coalesce(nullif($3, ''), "
                "current_user), 'schema_migration', jsonb_build_object('version', $1::integer, "
                "'file', $2::text))",
                file.version, file.name, actor);
          }
          tx.commit();
          ++*applied;
        }
      }
      pqxx::work tx(*conn);
      SetLocal(tx);
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
      std::map<int, SchemaMigration> all;
      for (const SchemaFile& file : *files) all[file.version] = {file.version, file.name};
      if (tx.exec("SELECT to_regclass('public.schema_migrations') IS NOT NULL")[0][0].as<bool>()) {
        for (const pqxx::row& row :
             tx.exec("SELECT version, name, date_trunc('second', applied_at)::text FROM "
                     "schema_migrations")) {
          const int version = row[0].as<int>();
          const auto [it, fresh] = all.try_emplace(version);
          SchemaMigration& m = it->second;
          if (fresh) {
            m.version = version;
            m.name = row[1].as<std::string>();
            m.has_file = false;
          }
          m.applied = true;
          m.applied_at = row[2].as<std::string>();
        }
      }
      tx.commit();
      for (auto& [version, m] : all) out.push_back(std::move(m));
    } catch (const std::exception& e) {
      Attempt a = Classify(e);
      if (a.status.code() == Status::Code::kUnavailable) return a.status;
      return Status::Internal((apply ? "applying the schema: " : "reading schema_migrations: ") +
                              a.status.message());
    }
    return out;
  }

  Result<DeadLetterReplay> ReplayDeadLetters(std::span<const RecordRef> command,
                                             std::span<const std::int64_t> ids) {
    if (command.empty() || ids.empty()) return Status::InvalidArgument("no dead letter to replay");
    for (const RecordRef& r : command) {
      if (const char* why = CheckRecord(r))
        return Status::InvalidArgument(std::string("a dead letter to replay fails the checks: ") +
                                       why);
      if (!SameCommand(command.front(), r))
        return Status::InvalidArgument("the dead letters to replay are not one command");
    }
    // One command: WriteRange cannot split it, so the rows' deletion and the
    // records commit in one transaction, or DeadLetter updates the rows.
    const auto t0 = Clock::now();
    replay_ids = ids;
    replay_refused = false;
    replay_reason.clear();
    const std::uint64_t inserted_before = counters.moves_inserted;
    Status s = EnsureOpen();
    if (s.ok()) s = EnsurePartitions(command);
    if (s.ok()) s = WriteRange(command, "", 0);
    replay_ids = {};
    EndBatch(counters, Clock::now() - t0, s.ok());
    if (!s.ok()) return s;
    DeadLetterReplay out;
    out.stored = !replay_refused;
    out.inserted = counters.moves_inserted - inserted_before;
    out.reason = replay_reason;
    return out;
  }

  Result<std::optional<std::uint64_t>> ReadCheckpoint(std::string_view name) {
    if (Status s = EnsureOpen(); !s.ok()) return s;
    try {
      pqxx::nontransaction tx(*conn);
      const pqxx::result r = tx.exec_params(
          "SELECT position FROM sidecar_checkpoint WHERE name = $1", std::string(name));
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
  if (Status s = impl->Open(); !s.ok()) return s;
  impl->stats.Publish();
  return PgSink(std::move(impl));
}

Status PgSink::ApplySchema(const std::filesystem::path& dir, int* applied) {
  int count = 0;
  Result<std::vector<SchemaMigration>> r = impl_->Migrate(dir, true, "", &count);
  impl_->stats.Publish();
  if (!r.ok()) return r.status();
  if (applied) *applied = count;
  return Status::Ok();
}

Result<std::vector<SchemaMigration>> PgSink::Migrate(const std::filesystem::path& dir, bool apply,
                                                     const std::string& actor) {
  int count = 0;
  Result<std::vector<SchemaMigration>> r = impl_->Migrate(dir, apply, actor, &count);
  impl_->stats.Publish();
  return r;
}

Result<DeadLetterReplay> PgSink::ReplayDeadLetters(std::span<const RecordRef> command,
                                                   std::span<const std::int64_t> ids) {
  Result<DeadLetterReplay> r = impl_->ReplayDeadLetters(command, ids);
  impl_->stats.Publish();
  return r;
}

Status PgSink::WriteBatch(std::span<const RecordRef> records, std::string_view checkpoint_name,
                          std::uint64_t checkpoint_position) {
  Status s = impl_->WriteBatch(records, checkpoint_name, checkpoint_position);
  impl_->stats.Publish();
  return s;
}

Result<std::optional<std::uint64_t>> PgSink::ReadCheckpoint(std::string_view name) {
  Result<std::optional<std::uint64_t>> r = impl_->ReadCheckpoint(name);
  impl_->stats.Publish();
  return r;
}

bool PgSink::Ping() {
  const auto ping = [&] {
    if (!impl_->EnsureOpen().ok()) return false;
    try {
      pqxx::nontransaction tx(*impl_->conn);
      tx.exec("SELECT 1");
      return true;
    } catch (const std::exception& e) {
      (void)impl_->Classify(e);
      return false;
    }
  };
  const bool ok = ping();
  impl_->stats.Publish();
  return ok;
}

PgSinkStats PgSink::stats() const { return impl_->stats.Read(); }

const PgUrl& PgSink::url() const { return impl_->url; }

}  // namespace hokm::sidecar
