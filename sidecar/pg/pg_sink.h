// pg_sink.h: idempotent, batched persistence of change records to
// PostgreSQL (schemas/postgres/, docs/DESIGN.md §5).
//
// One WriteBatch is one transaction (when no record is poison):
//
//   BEGIN
//   SET LOCAL statement_timeout, jit = off, ...  (per transaction: works
//                                        behind pgBouncer in transaction mode)
//   COPY game_commands FROM STDIN        one row per command (the records that left
//                                        the engine as one ring record): game_id, first
//                                        seq, ts_ns, and seat, card (its card play) and
//                                        records (jsonb, the rest; null for most card plays)
//   derived rows                         game_sessions, game_participants, players,
//                                        hands: VALUES lists of the batch's records of
//                                        the types that derive anything (not card plays)
//   dead letters, upsert sidecar_checkpoint (never moves backwards)
//   COMMIT
//
// That is 6 round trips (BEGIN, SET LOCAL, COPY start, COPY end, the
// statements, COMMIT) and about one game_commands row per card play, with nothing
// staged (the view game_moves still yields one row per record). A command
// is stored whole or not at all; its row's key is (game_id, first seq).
// When a command of the batch is stored already (a replay after a
// restart), the COPY fails with unique_violation and the batch is redone
// on the replay path: COPY into a TEMP table hokm_commands_staging that
// the transaction creates and drops (ON COMMIT DROP), INSERT INTO game_commands ... ON CONFLICT DO
// NOTHING RETURNING the keys inserted, and derived rows from those
// commands' records only (7 more round trips). Derived
// rows thus come only from records inserted in the same transaction, so a
// record delivered twice changes nothing the second time (no
// double-counted wins, no rating drift).
//
// Poison: records failing VerifyRecord/CheckRecord go straight to
// dead_letters inside the batch's transaction. When PostgreSQL itself
// refuses a batch for its data (SQLSTATE class 22 or 23, a replay's
// duplicate key aside), the batch is split in halves at command
// boundaries, each committed on its own with the checkpoint at its last
// record, down to the single command, whose records are dead-lettered
// with the server's message; everything else commits. Other errors are returned as
// they are, nothing committed: Unavailable for connection loss and server
// states a retry can outlast, Internal for the rest.
//
// A dead letter whose cause is gone (a constraint dropped, a schema fixed)
// goes back in with ReplayDeadLetters (hokmctl dlq replay), its rows'
// deletion in the transaction that stores it.
//
// Thread safety: none; one thread uses a PgSink. stats() may be called from
// any thread.
//
// REQUIRES: SIGPIPE is ignored in the process (libpq may write to a closed
// socket).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shm/status.h"
#include "sidecar/record_batch.h"
#include "sidecar/sink_stats.h"
#include "sidecar/url.h"

namespace hokm::sidecar {

struct PgSinkOptions {
  std::chrono::seconds connect_timeout{5};
  std::chrono::milliseconds statement_timeout{30000};
  std::string application_name = "hokm-sidecar";
  // Before writing a batch, give each range of 2^partition_span_bits game
  // ids seen for the first time its own game_commands partition
  // (hokm_ensure_commands_partition); 0 leaves everything in the default
  // partition. 52 = 2^32 creation numbers of 100 us: ~5 days per partition.
  int partition_span_bits = 52;
};

// One schema file, or one version schema_migrations holds (PgSink::Migrate).
struct SchemaMigration {
  int version = 0;
  std::string name;        // the file name, "001_core.sql"
  bool applied = false;    // in schema_migrations
  std::string applied_at;  // its applied_at as PostgreSQL prints it; empty when pending
  bool has_file = true;    // false: applied, but no file of that version in the directory
};

// What ReplayDeadLetters did with one command.
struct DeadLetterReplay {
  // The records' rows committed and the dead_letters rows deleted, in one
  // transaction; false: PostgreSQL refused the records again for their
  // data and the rows stay, their reason set to the server's message.
  bool stored = false;
  std::uint64_t inserted = 0;  // records newly stored (0 with stored: all there already)
  std::string reason;          // !stored: the server's message
};

// Counters since Connect; a plain copy for /metrics. batches counts
// WriteBatch calls that committed, failed_batches those that returned an
// error.
struct PgSinkStats : SinkStats {
  std::uint64_t moves_inserted = 0;   // new records (in rows of game_commands)
  std::uint64_t moves_duplicate = 0;  // records already stored: skipped
  std::uint64_t rows_inserted = 0;    // new game_commands rows (one per command)
  std::uint64_t dead_letters = 0;     // records routed to dead_letters
  std::uint64_t transactions = 0;     // committed
  std::uint64_t rollbacks = 0;
  std::uint64_t bisections = 0;  // batches split to find a poison record
  std::uint64_t partitions_ensured = 0;
  std::uint64_t replay_paths = 0;  // batches that met rows already stored
  // Where committed transactions spent their time (sums, microseconds):
  std::uint64_t copy_us = 0;        // BEGIN + COPY into game_commands (fast path)
  std::uint64_t statements_us = 0;  // insert, derived rows, checkpoint
  std::uint64_t commit_us = 0;
};

class PgSink {
 public:
  using Options = PgSinkOptions;

  // Connects. Unavailable when the server cannot be reached,
  // InvalidArgument when it refuses the login.
  static Result<PgSink> Connect(const PgUrl& url, const Options& options = {});

  PgSink(PgSink&&) noexcept;
  PgSink& operator=(PgSink&&) noexcept;
  ~PgSink();

  // Applies dir/NNN_*.sql (pg_schema.h) in NNN order, each file in its own
  // transaction under an advisory lock, skipping versions already in
  // schema_migrations; *applied (when given) says how many it applied.
  // Each file applied is recorded in schema_migrations and audit_log
  // (action schema_migration).
  Status ApplySchema(const std::filesystem::path& dir, int* applied = nullptr);

  // The code ApplySchema runs (same listing, same lock): every schema file
  // of dir and every version schema_migrations holds, in version order,
  // applied or pending. With apply, the pending files are applied first
  // (audit_log's actor: `actor`, else the database user). hokmctl migrate.
  Result<std::vector<SchemaMigration>> Migrate(const std::filesystem::path& dir, bool apply,
                                               const std::string& actor = "");

  // Persists the records and sets checkpoint checkpoint_name to
  // checkpoint_position in the same transaction (an empty name writes no
  // checkpoint). Ok once committed. On error nothing of the failing part
  // committed (earlier halves of a split batch may have, with their own
  // checkpoint); the caller retries the whole batch, which is idempotent.
  // REQUIRES: the schema is applied; positions are ring positions (the
  // checkpoint of a split half is its last record's position).
  Status WriteBatch(std::span<const RecordRef> records, std::string_view checkpoint_name,
                    std::uint64_t checkpoint_position);

  // hokmctl dlq replay: stores one command's records, read back from the
  // dead_letters rows `ids`, as WriteBatch stores a batch (fast path, or the
  // replay path when some are stored already; derived rows only from
  // records newly inserted; no checkpoint), and deletes those rows in the
  // same transaction: once it committed, the rows are gone and the records
  // are in, both or neither. When PostgreSQL refuses the records for their
  // data again, the rows stay with the server's new message as their
  // reason. Errors (server down, ...): nothing changed.
  // REQUIRES: every record passes CheckRecord; they are one command (one
  // ring position, one game, one ts_ns), in game_seq order.
  Result<DeadLetterReplay> ReplayDeadLetters(std::span<const RecordRef> command,
                                             std::span<const std::int64_t> ids);

  // The committed position of checkpoint name; nullopt when none.
  Result<std::optional<std::uint64_t>> ReadCheckpoint(std::string_view name);

  // SELECT 1; reconnects first when the connection was dropped.
  bool Ping();

  PgSinkStats stats() const;
  const PgUrl& url() const;

 private:
  struct Impl;
  explicit PgSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hokm::sidecar
