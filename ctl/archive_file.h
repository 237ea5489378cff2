// archive_file.h: what `hokmctl archive` and `hokmctl restore` share: the
// archive file format, zstd streams in and out of it, its SHA-256, the
// COPY connection that moves rows between it and PostgreSQL, and the
// durations of the command line.
//
// An archive is two files in one directory:
//   NAME.zst   one zstd stream (libzstd, with zstd's own frame checksum) of
//              text lines:
//                #hokm-archive 1
//                #table <table> <col>,<col>,...
//                <rows of that table, PostgreSQL COPY text format>
//                #table ...
//                #end
//              Every row starts with its game_id (a number), so a line that
//              starts with '#' is never a row.
//   NAME.json  the manifest (ArchiveManifest below, as JSON): games, first
//              and last game id, rows per table, raw and compressed bytes,
//              and the SHA-256 of the uncompressed content; what --list
//              reads and what restore checks the content against.
//
// Thread safety: plain values and single-owner handles; nothing shared.
#pragma once

#include <libpq-fe.h>
#include <openssl/evp.h>
#include <zstd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shm/status.h"

namespace hokm::ctl::archive {

inline constexpr const char* kFormat = "hokm-archive";
inline constexpr int kFormatVersion = 1;
inline constexpr const char* kFirstLine = "#hokm-archive 1";
inline constexpr const char* kEndLine = "#end";

// "30d", "12h", "90m", "45s" (a positive count and one unit); nullopt
// when `text` is not one.
std::optional<std::chrono::seconds> ParseDuration(const std::string& text);

// SHA-256 over everything Update()d, as 64 lower-case hex digits.
class Sha256 {
 public:
  Sha256();
  void Update(std::string_view bytes);
  std::string HexDigest();  // once

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

// Writes a zstd stream to a file: Write() the content, then Finish().
class ZstdWriter {
 public:
  static Result<std::unique_ptr<ZstdWriter>> Create(const std::string& path, int level);
  ~ZstdWriter();
  Status Write(std::string_view bytes);
  Status Finish();  // flushes, ends the frame, closes the file
  std::uint64_t raw_bytes() const { return raw_bytes_; }
  std::uint64_t compressed_bytes() const { return compressed_bytes_; }

 private:
  ZstdWriter() = default;
  Status Drain(ZSTD_EndDirective mode, ZSTD_inBuffer& in);
  std::FILE* file_ = nullptr;
  ZSTD_CCtx* cctx_ = nullptr;
  std::string path_;
  std::vector<char> out_;
  std::uint64_t raw_bytes_ = 0, compressed_bytes_ = 0;
};

// Reads a zstd stream from a file line by line (without the '\n').
class ZstdLineReader {
 public:
  static Result<std::unique_ptr<ZstdLineReader>> Open(const std::string& path);
  ~ZstdLineReader();
  // A line into `line`: true; false at the end of the content or on an
  // error (then status() says which; a last line without '\n' is an error).
  bool Next(std::string& line);
  const Status& status() const { return status_; }

 private:
  ZstdLineReader() = default;
  bool Fill();
  std::FILE* file_ = nullptr;
  ZSTD_DCtx* dctx_ = nullptr;
  std::string path_;
  std::vector<char> in_;
  ZSTD_inBuffer in_buf_{nullptr, 0, 0};
  std::string pending_;  // decompressed, not yet returned
  std::size_t pending_pos_ = 0;
  bool eof_ = false, frame_done_ = true;
  Status status_;
};

// The manifest (NAME.json).
struct ArchiveManifest {
  std::string file;        // NAME.zst, without the directory
  std::string created_at;  // UTC, ISO 8601
  std::int64_t created_unix = 0;
  int span_bits = 0;  // the range: game ids [block << span_bits, (block+1) << span_bits)
  std::int64_t block = 0;
  std::int64_t range_from = 0, range_to = 0;  // range_to 0: to the top of bigint
  std::vector<std::string> partitions;        // the partitions archived
  std::int64_t games = 0;
  std::int64_t first_game_id = 0, last_game_id = 0;
  std::string last_finished_at;
  std::map<std::string, std::int64_t> rows;    // table -> rows
  std::map<std::string, std::string> columns;  // table -> its columns, comma-separated
  std::uint64_t raw_bytes = 0, compressed_bytes = 0;
  std::string sha256;  // of the uncompressed content

  nlohmann::json ToJson() const;
  static Result<ArchiveManifest> FromJson(const nlohmann::json& j);
};

// NAME.json for NAME.zst (the manifest next to an archive file).
std::string ManifestPathFor(const std::string& archive_path);
Result<ArchiveManifest> ReadManifest(const std::string& manifest_path);
Status WriteManifest(const std::string& manifest_path, const ArchiveManifest& m);

// What reading an archive file back found: rows per table, columns per
// table, the SHA-256 of its content.
struct ArchiveContent {
  std::map<std::string, std::int64_t> rows;
  std::map<std::string, std::string> columns;
  std::string sha256;
};

// Reads NAME.zst through, calling on_row(table, line) for each row (may be
// empty); an error when the stream does not decode or is not an archive's
// shape. Does not compare with a manifest: CheckAgainst does.
Result<ArchiveContent> ReadArchive(
    const std::string& path,
    const std::function<Status(const std::string& table, const std::string& line)>& on_row);

// OK when `content` is what `m` says (rows per table, columns, checksum);
// Corruption naming the first difference otherwise.
Status CheckAgainst(const ArchiveContent& content, const ArchiveManifest& m);

// A libpq connection for COPY, which libpqxx 6 does not offer for queries
// and raw lines. Single owner.
class PgCopyConn {
 public:
  // conninfo: WithTimeouts(url).ConnInfo(). Sets statement_timeout 0: a
  // COPY of a whole partition may take longer than hokmctl's usual 30 s.
  static Result<std::unique_ptr<PgCopyConn>> Connect(const std::string& conninfo,
                                                     const std::string& where);
  ~PgCopyConn();
  // A statement without COPY; its result's first column of each row.
  Result<std::vector<std::string>> Exec(const std::string& sql);
  // COPY ... TO STDOUT: each line (without '\n') to on_line.
  Status CopyOut(const std::string& sql,
                 const std::function<Status(std::string_view line)>& on_line);
  // COPY ... FROM STDIN, then PutLine() for each row, then EndCopyIn().
  Status BeginCopyIn(const std::string& sql);
  Status PutLine(std::string_view line);
  Status EndCopyIn();

 private:
  PgCopyConn() = default;
  Status Error(const std::string& what) const;
  PGconn* conn_ = nullptr;
  std::string where_;
  std::string line_;  // PutLine's buffer
};

}  // namespace hokm::ctl::archive
