// dlq.cc: hokmctl dlq list | show ID | replay (ID | --all) | purge (ID | --all):
// the dead letters (dead_letters, schemas/postgres/001_core.sql), the records
// the PostgreSQL sink could not store (sidecar/pg/pg_sink.h, "Poison").
//
// replay feeds dead letters back through both sinks, once their cause is
// fixed (a schema problem, a constraint): the sink code the sidecar runs
// (RedisSink::Write, PgSink::ReplayDeadLetters), one command at a time. A
// dead letter is one record; a command's records (one ring position, one
// game, one ts_ns) are stored whole or not at all, so replaying one
// replays the dead letters of its whole command.
//
// Exactly once. Per command, first Redis, then one PostgreSQL transaction
// that inserts the records' rows and deletes their dead_letters rows
// (PgSink::ReplayDeadLetters). Both stores refuse a record a second time
// by the game's seq: PostgreSQL's game_commands key (game_id, seq) sends a
// command stored already down the sink's replay path, which inserts
// nothing and derives nothing from it; the Redis sink skips records at or
// below the game's stream top (and XADD refuses an entry ID at or below
// it). So:
//  - hokmctl dies before the PostgreSQL commit (after Redis, or in it): the
//    dead_letters rows are still there; the next replay sends the command
//    again, Redis skips what it has, PostgreSQL stores it and deletes the
//    rows.
//  - it dies after the commit: nothing is left to do; the rows are gone
//    with the records in.
//  - two replays at once: the second's insert waits on the first's rows'
//    keys, then finds them stored (nothing inserted, nothing derived).
// Had Redis come after the commit, a death between the two would leave the
// records in PostgreSQL, the dead letter gone and Redis without them, with
// nothing left to replay; Redis first costs nothing, since a dead letter
// PostgreSQL refused reached Redis when the sidecar first wrote it (Redis
// applies what passes CheckRecord), and the replay skips it there. (A game
// whose stream Redis no longer has gets one from the replayed records, as
// the sidecar's sink would write it: restored from the segment first when
// the game is live there, else starting at those records.)
//
// purge deletes dead letters for good, after a confirmation on the
// terminal unless --yes. Every replay and purge writes an audit_log row
// (the purge in the same transaction as its delete).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "core/records/record_types.h"
#include "ctl/ctl.h"
#include "ctl/stores.h"
#include "shm/segment.h"
#include "sidecar/pg/pg_sink.h"
#include "sidecar/rebuild_source.h"
#include "sidecar/record_batch.h"
#include "sidecar/record_json.h"
#include "sidecar/redis/redis_sink.h"

namespace hokm::ctl {
namespace {

namespace fb = hokm::fb;
using nlohmann::json;

// One dead_letters row.
struct DeadLetter {
  std::int64_t id = 0;
  std::string received_at;
  std::optional<std::int64_t> game_id;
  std::optional<std::int64_t> seq;
  std::optional<int> record_type;
  std::optional<std::int64_t> ring_position;
  std::int64_t bytes = 0;
  std::string reason;
  std::vector<std::uint8_t> payload;  // only when loaded with it
};

constexpr const char* kColumns =
    "id, date_trunc('second', received_at)::text, game_id, seq, record_type, ring_position, "
    "octet_length(payload), reason";

template <typename T>
std::optional<T> Opt(const pqxx::field& f) {
  return f.is_null() ? std::nullopt : std::optional<T>(f.as<T>());
}

// Rows of `SELECT kColumns [, payload] FROM dead_letters <where>`.
std::vector<DeadLetter> Load(pqxx::transaction_base& tx, const std::string& where,
                             bool with_payload) {
  std::vector<DeadLetter> out;
  const pqxx::result rows =
      tx.exec(std::string("SELECT ") + kColumns + (with_payload ? ", payload" : "") +
              " FROM dead_letters " + where);
  for (const pqxx::row& r : rows) {
    DeadLetter& d = out.emplace_back();
    d.id = r[0].as<std::int64_t>();
    d.received_at = r[1].as<std::string>();
    d.game_id = Opt<std::int64_t>(r[2]);
    d.seq = Opt<std::int64_t>(r[3]);
    d.record_type = Opt<int>(r[4]);
    d.ring_position = Opt<std::int64_t>(r[5]);
    d.bytes = r[6].as<std::int64_t>();
    d.reason = r[7].as<std::string>();
    if (with_payload) {
      const pqxx::binarystring b(r[8]);
      d.payload.assign(b.data(), b.data() + b.size());
    }
  }
  return out;
}

std::string TypeName(std::optional<int> type) {
  if (!type) return "-";
  const core::RecordTypeInfo* t = core::FindRecordType(static_cast<fb::Body>(*type));
  return t ? t->name : "type " + std::to_string(*type);
}

template <typename T>
json OrNull(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json RowJson(const DeadLetter& d) {
  return {{"id", d.id},
          {"received_at", d.received_at},
          {"game_id", OrNull(d.game_id)},
          {"seq", OrNull(d.seq)},
          {"record_type", OrNull(d.record_type)},
          {"type", d.record_type ? json(TypeName(d.record_type)) : json(nullptr)},
          {"ring_position", OrNull(d.ring_position)},
          {"bytes", d.bytes},
          {"reason", d.reason}};
}

template <typename T>
std::string OrDash(const std::optional<T>& v) {
  return v ? std::to_string(*v) : "-";
}

// A dead letter's bytes as a record: the RecordRef the sinks take (record
// null when they do not verify) and why the sinks refuse it (null: they
// do not).
struct Decoded {
  sidecar::RecordRef ref;
  const char* refused;
};
Decoded Decode(const DeadLetter& d) {
  const sidecar::RecordRef ref =
      sidecar::VerifyRecord(d.payload.data(), static_cast<std::uint32_t>(d.payload.size()),
                            static_cast<std::uint64_t>(d.ring_position.value_or(0)));
  return {ref, sidecar::CheckRecord(ref)};
}

// {"game_id":..,"ts_ns":..,"seq":..,"type":"..",<fields>} of a record that
// passes CheckRecord, fields in schemas/hokm.fbs order (sidecar/record_json.h).
std::string RecordText(const fb::ChangeRecord& r) {
  std::string text = "{\"game_id\":" + std::to_string(r.game_id()) +
                     ",\"ts_ns\":" + std::to_string(r.ts_ns()) + ",";
  std::string event;
  sidecar::AppendEventJson(r, event);  // {"seq":..,...}
  text.append(event, 1, std::string::npos);
  return text;
}

// Lower-case hex, 16 bytes a line with offsets and the printable bytes.
std::string HexDump(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  char buf[8];
  for (std::size_t line = 0; line < bytes.size(); line += 16) {
    std::snprintf(buf, sizeof buf, "%04zx ", line);
    out += buf;
    std::string text;
    for (std::size_t k = line; k < line + 16; ++k) {
      if (k < bytes.size()) {
        std::snprintf(buf, sizeof buf, " %02x", bytes[k]);
        out += buf;
        text += bytes[k] >= 0x20 && bytes[k] < 0x7f ? static_cast<char>(bytes[k]) : '.';
      } else {
        out += "   ";
      }
    }
    out += "  |" + text + "|\n";
  }
  return out;
}

std::string Hex(const std::vector<std::uint8_t>& bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

bool CheckTarget(const DlqTarget& t, const char* verb) {
  if (t.all == (t.id != 0)) {
    Fail(kExitUsage, std::string("dlq ") + verb + ": give a dead letter's ID or --all");
    return false;
  }
  return true;
}

std::string IdsText(const std::vector<std::int64_t>& ids, std::size_t max = 20) {
  std::string s;
  for (std::size_t k = 0; k < ids.size() && k < max; ++k)
    s += (k ? ", " : "") + std::to_string(ids[k]);
  if (ids.size() > max) s += ", ... (" + std::to_string(ids.size()) + " in all)";
  return s;
}

}  // namespace

// ---- list, show -------------------------------------------------------------

int DlqList(const Globals& globals, bool as_json, std::int64_t limit) {
  const std::optional<sidecar::PgUrl> url = PgReadUrlOf(globals);
  if (!url) return kExitUsage;
  auto conn = ConnectPg(*url);
  if (!conn.ok()) return Fail(kExitProblems, conn.status().message());
  std::vector<DeadLetter> rows;
  std::int64_t total = 0;
  try {
    pqxx::read_transaction tx(**conn);
    total = tx.exec("SELECT count(*) FROM dead_letters")[0][0].as<std::int64_t>();
    rows = Load(tx, "ORDER BY id" + (limit > 0 ? " LIMIT " + std::to_string(limit) : ""), false);
  } catch (const std::exception& e) {
    return Fail(kExitProblems, std::string("reading dead_letters: ") + e.what());
  }
  if (as_json) {
    json list = json::array();
    for (const DeadLetter& d : rows) list.push_back(RowJson(d));
    std::printf("%s\n", json{{"count", total}, {"dead_letters", list}}.dump(2).c_str());
    return kExitOk;
  }
  if (total == 0) {
    std::printf("no dead letters\n");
    return kExitOk;
  }
  std::printf("%-8s %-22s %-20s %-6s %-16s %-6s %s\n", "ID", "RECEIVED", "GAME", "SEQ", "TYPE",
              "BYTES", "REASON");
  for (const DeadLetter& d : rows) {
    std::printf("%-8lld %-22s %-20s %-6s %-16s %-6lld %s\n", static_cast<long long>(d.id),
                d.received_at.c_str(), OrDash(d.game_id).c_str(), OrDash(d.seq).c_str(),
                TypeName(d.record_type).c_str(), static_cast<long long>(d.bytes), d.reason.c_str());
  }
  std::printf("%lld dead letter(s)", static_cast<long long>(total));
  if (static_cast<std::int64_t>(rows.size()) < total)
    std::printf(", the first %zu shown (--limit 0 shows all)", rows.size());
  std::printf("\n");
  return kExitOk;
}

int DlqShow(const Globals& globals, std::int64_t id, bool as_json) {
  const std::optional<sidecar::PgUrl> url = PgReadUrlOf(globals);
  if (!url) return kExitUsage;
  auto conn = ConnectPg(*url);
  if (!conn.ok()) return Fail(kExitProblems, conn.status().message());
  std::vector<DeadLetter> rows;
  try {
    pqxx::read_transaction tx(**conn);
    rows = Load(tx, "WHERE id = " + std::to_string(id), true);
  } catch (const std::exception& e) {
    return Fail(kExitProblems, std::string("reading dead_letters: ") + e.what());
  }
  if (rows.empty()) return Fail(kExitProblems, "no dead letter " + std::to_string(id));
  const DeadLetter& d = rows[0];
  const Decoded dec = Decode(d);
  json out = RowJson(d);
  const std::string record = dec.refused == nullptr ? RecordText(*dec.ref.record) : "";
  if (dec.refused == nullptr) {
    out["record"] = json::parse(record);
  } else {
    out["decode_error"] = dec.refused;
    out["hex"] = Hex(d.payload);
  }
  if (as_json) {
    std::printf("%s\n", out.dump(2).c_str());
    return kExitOk;
  }
  std::printf("dead letter %lld\n", static_cast<long long>(d.id));
  std::printf("  received_at    %s\n", d.received_at.c_str());
  std::printf("  game_id        %s\n", OrDash(d.game_id).c_str());
  std::printf("  seq            %s\n", OrDash(d.seq).c_str());
  std::printf("  record_type    %s (%s)\n", OrDash(d.record_type).c_str(),
              TypeName(d.record_type).c_str());
  std::printf("  ring_position  %s\n", OrDash(d.ring_position).c_str());
  std::printf("  bytes          %lld\n", static_cast<long long>(d.bytes));
  std::printf("  reason         %s\n", d.reason.c_str());
  if (dec.refused == nullptr) {
    std::printf("  record         %s\n", record.c_str());
  } else {
    std::printf("  does not decode: %s\n%s", dec.refused, HexDump(d.payload).c_str());
  }
  return kExitOk;
}

// ---- replay -----------------------------------------------------------------

namespace {

// The dead letters of one command, in seq order, with their records.
struct Command {
  std::vector<const DeadLetter*> letters;
  std::vector<sidecar::RecordRef> refs;
  std::vector<std::int64_t> ids;
  std::uint64_t game_id() const { return refs.front().record->game_id(); }
  std::uint64_t first_seq() const { return refs.front().record->game_seq(); }
  std::uint64_t last_seq() const { return refs.back().record->game_seq(); }
};

}  // namespace

int DlqReplay(const Globals& globals, const DlqTarget& target) {
  if (!CheckTarget(target, "replay")) return kExitUsage;
  const std::optional<sidecar::PgUrl> pg_url = PgUrlOf(globals);
  if (!pg_url) return kExitUsage;
  const std::optional<sidecar::RedisUrl> redis_url = RedisUrlOf(globals);
  if (!redis_url) return kExitUsage;
  auto conn = ConnectPg(*pg_url);
  if (!conn.ok()) return Fail(kExitProblems, conn.status().message());

  // The dead letters: every one, or the one asked for with the others of
  // its command (same game, same ring position; Decode sorts out ts_ns).
  std::vector<DeadLetter> rows;
  try {
    pqxx::read_transaction tx(**conn);
    if (target.all) {
      rows = Load(tx, "ORDER BY game_id, seq, id", true);
    } else {
      rows = Load(tx, "WHERE id = " + std::to_string(target.id), true);
      if (!rows.empty() && rows[0].game_id && rows[0].ring_position) {
        rows = Load(tx,
                    "WHERE game_id = " + std::to_string(*rows[0].game_id) +
                        " AND ring_position = " + std::to_string(*rows[0].ring_position) +
                        " ORDER BY seq, id",
                    true);
      }
    }
  } catch (const std::exception& e) {
    return Fail(kExitProblems, std::string("reading dead_letters: ") + e.what());
  }
  conn->reset();
  if (rows.empty()) {
    std::printf("%s: nothing to do\n", target.all ? "no dead letters"
                                                  : ("no dead letter " + std::to_string(target.id) +
                                                     " (replayed or purged already?)")
                                                        .c_str());
    return kExitOk;
  }

  // Into commands (SameCommand's key: game, ring position, ts_ns); bytes
  // the sinks refuse whatever the schema cannot be replayed.
  std::map<std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>, Command> by_key;
  std::vector<std::pair<const DeadLetter*, const char*>> unreplayable;
  for (const DeadLetter& d : rows) {
    const Decoded dec = Decode(d);
    if (dec.refused != nullptr) {
      unreplayable.emplace_back(&d, dec.refused);
      continue;
    }
    const fb::ChangeRecord& r = *dec.ref.record;
    Command& c = by_key[{r.game_id(), dec.ref.position, r.ts_ns()}];
    c.letters.push_back(&d);
    c.refs.push_back(dec.ref);
    c.ids.push_back(d.id);
  }
  std::vector<Command> commands;
  for (auto& [key, c] : by_key) {
    if (!target.all &&
        std::find(c.ids.begin(), c.ids.end(), target.id) == c.ids.end())  // a namesake's
      continue;
    std::vector<std::size_t> order(c.refs.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return c.refs[a].record->game_seq() < c.refs[b].record->game_seq();
    });
    Command sorted;
    for (std::size_t k : order) {
      sorted.letters.push_back(c.letters[k]);
      sorted.refs.push_back(c.refs[k]);
      sorted.ids.push_back(c.ids[k]);
    }
    commands.push_back(std::move(sorted));
  }
  if (!target.all) {
    std::erase_if(unreplayable, [&](const auto& u) { return u.first->id != target.id; });
  }
  // A game's commands in seq order: the Redis sink takes them so.
  std::sort(commands.begin(), commands.end(), [](const Command& a, const Command& b) {
    return std::pair(a.game_id(), a.first_seq()) < std::pair(b.game_id(), b.first_seq());
  });

  json replayed = json::array(), refused = json::array(), cannot = json::array();
  std::uint64_t records_inserted = 0, redis_applied = 0;
  std::string stopped;  // a store failed: the rest is not tried
  std::optional<shm::Segment> segment;
  if (!commands.empty()) {
    // The sidecar's sinks. Redis: a game whose stream is gone is restored
    // from the segment first when it is live (as the sidecar's sink does);
    // the marker (sidecar/redis/keys.h) is the sidecar's to check.
    if (auto s = shm::Segment::Attach(globals.shm_name); s.ok())
      segment.emplace(std::move(s).value());
    sidecar::RedisSinkOptions redis_options;
    redis_options.check_marker = false;
    redis_options.client_name = "hokmctl";
    if (segment)
      redis_options.rebuild_source =
          std::make_shared<sidecar::StoreRebuildSource>(segment->table(), WithTimeouts(*pg_url));
    auto redis = sidecar::RedisSink::Connect(*redis_url, redis_options);
    if (!redis.ok()) return Fail(kExitProblems, redis.status().message() + ": nothing replayed");
    sidecar::PgSinkOptions pg_options;
    pg_options.application_name = "hokmctl";
    auto pg = sidecar::PgSink::Connect(*pg_url, pg_options);
    if (!pg.ok()) return Fail(kExitProblems, pg.status().message() + ": nothing replayed");

    for (const Command& c : commands) {
      const std::string what = "dead letter" + std::string(c.ids.size() > 1 ? "s " : " ") +
                               IdsText(c.ids) + " (game " + std::to_string(c.game_id()) + ", seq " +
                               std::to_string(c.first_seq()) +
                               (c.refs.size() > 1 ? ".." + std::to_string(c.last_seq()) : "") + ")";
      const sidecar::RedisSinkStats r0 = redis->stats();
      if (Status s = redis->Write(c.refs); !s.ok()) {
        stopped = what + ": redis: " + s.message();
        break;
      }
      const sidecar::RedisSinkStats r1 = redis->stats();
      const std::uint64_t applied = r1.records_applied - r0.records_applied;
      redis_applied += applied;
      auto result = pg->ReplayDeadLetters(c.refs, c.ids);
      if (!result.ok()) {
        stopped = what + ": postgresql: " + result.status().message();
        break;
      }
      if (!result->stored) {
        refused.push_back({{"ids", c.ids}, {"reason", result->reason}});
        Fail(kExitProblems, what + ": refused again, still a dead letter: " + result->reason);
        continue;
      }
      records_inserted += result->inserted;
      replayed.push_back({{"ids", c.ids},
                          {"game_id", c.game_id()},
                          {"records", c.refs.size()},
                          {"inserted", result->inserted},
                          {"redis_applied", applied}});
      std::printf(
          "%s: replayed: postgresql %llu record(s) inserted, %llu stored already; redis "
          "%llu applied, %llu there already\n",
          what.c_str(), static_cast<unsigned long long>(result->inserted),
          static_cast<unsigned long long>(c.refs.size() - result->inserted),
          static_cast<unsigned long long>(applied),
          static_cast<unsigned long long>(c.refs.size() - applied));
    }
  }
  for (const auto& [d, why] : unreplayable) {
    cannot.push_back({{"id", d->id}, {"reason", why}});
    Fail(kExitProblems, "dead letter " + std::to_string(d->id) + " cannot be replayed: " + why +
                            " (the sinks refuse these bytes whatever the schema; `hokmctl dlq "
                            "purge " +
                            std::to_string(d->id) + "` removes it)");
  }
  if (!stopped.empty()) Fail(kExitProblems, stopped + " (stopped here; the rest is untouched)");

  // The audit row: what was asked and what came of it.
  std::optional<std::uint64_t> game;
  for (const DeadLetter& d : rows) {
    if (!d.game_id || (game && *game != static_cast<std::uint64_t>(*d.game_id))) {
      game.reset();
      break;
    }
    game = static_cast<std::uint64_t>(*d.game_id);
  }
  json details = {{"requested", target.all ? json("all") : json(target.id)},
                  {"replayed", replayed},
                  {"refused", refused},
                  {"unreplayable", cannot},
                  {"records_inserted", records_inserted},
                  {"redis_applied", redis_applied}};
  if (!stopped.empty()) details["stopped"] = stopped;
  const Status audit = WriteAudit(*pg_url, "dlq_replay", game, details);
  if (!audit.ok()) Fail(kExitProblems, "no audit_log row: " + audit.message());
  std::printf("%zu command(s) replayed, %zu refused again, %zu dead letter(s) cannot be replayed\n",
              replayed.size(), refused.size(), cannot.size());
  const bool clean = refused.empty() && cannot.empty() && stopped.empty() && audit.ok();
  return clean ? kExitOk : kExitProblems;
}

// ---- purge ------------------------------------------------------------------

namespace {

// Asks on the terminal; false unless the answer is y or yes.
bool Confirm(const std::string& question) {
  std::fprintf(stderr, "%s [y/N] ", question.c_str());
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace

int DlqPurge(const Globals& globals, const DlqTarget& target, bool yes) {
  if (!CheckTarget(target, "purge")) return kExitUsage;
  const std::optional<sidecar::PgUrl> url = PgUrlOf(globals);
  if (!url) return kExitUsage;
  if (!yes && !::isatty(STDIN_FILENO))
    return Fail(kExitUsage,
                "dlq purge asks for confirmation on a terminal, and stdin is not one: give --yes");
  auto conn = ConnectPg(*url);
  if (!conn.ok()) return Fail(kExitProblems, conn.status().message());
  try {
    std::vector<DeadLetter> rows;
    {
      pqxx::read_transaction tx(**conn);
      rows =
          Load(tx, target.all ? "ORDER BY id" : "WHERE id = " + std::to_string(target.id), false);
    }
    if (rows.empty()) {
      std::printf("%s: nothing to do\n", target.all
                                             ? "no dead letters"
                                             : ("no dead letter " + std::to_string(target.id) +
                                                " (replayed or purged already?)")
                                                   .c_str());
      return kExitOk;
    }
    std::vector<std::int64_t> ids;
    for (const DeadLetter& d : rows) ids.push_back(d.id);
    if (!yes && !Confirm("purge " + std::to_string(ids.size()) + " dead letter(s) (" +
                         IdsText(ids) + "), their bytes gone for good?")) {
      return Fail(kExitProblems, "not purged");
    }
    // Only what was listed (and confirmed): dead letters that arrive
    // meanwhile stay.
    std::string list = "{";
    for (std::size_t k = 0; k < ids.size(); ++k) list += (k ? "," : "") + std::to_string(ids[k]);
    list += "}";
    pqxx::work tx(**conn);
    const pqxx::result gone = tx.exec_params(
        "DELETE FROM dead_letters WHERE id = ANY($1::bigint[]) RETURNING id, game_id", list);
    std::vector<std::int64_t> purged;
    std::optional<std::uint64_t> game;
    bool one_game = true;
    for (const pqxx::row& r : gone) {
      purged.push_back(r[0].as<std::int64_t>());
      const std::optional<std::int64_t> g = Opt<std::int64_t>(r[1]);
      if (!g || (game && *game != static_cast<std::uint64_t>(*g))) one_game = false;
      if (g) game = static_cast<std::uint64_t>(*g);
    }
    std::sort(purged.begin(), purged.end());
    WriteAudit(tx, "dlq_purge", one_game ? game : std::nullopt,
               {{"requested", target.all ? json("all") : json(target.id)},
                {"ids", purged},
                {"count", purged.size()}});
    tx.commit();
    std::printf("purged %zu dead letter(s): %s\n", purged.size(), IdsText(purged).c_str());
  } catch (const std::exception& e) {
    return Fail(kExitProblems, std::string("purging dead letters: ") + e.what());
  }
  return kExitOk;
}

}  // namespace hokm::ctl
