// archive_file.cc: archive_file.h.
#include "ctl/archive_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace hokm::ctl::archive {

std::optional<std::chrono::seconds> ParseDuration(const std::string& text) {
  if (text.size() < 2 || text.size() > 12) return std::nullopt;
  std::int64_t n = 0;
  for (std::size_t k = 0; k + 1 < text.size(); ++k) {
    if (text[k] < '0' || text[k] > '9') return std::nullopt;
    n = n * 10 + (text[k] - '0');
  }
  std::int64_t unit = 0;
  switch (text.back()) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 86400;
      break;
    default:
      return std::nullopt;
  }
  // 11 digits of days stay far below 2^63 seconds.
  return std::chrono::seconds(n * unit);
}

// ---- Sha256 -----------------------------------------------------------------

Sha256::Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
  EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
}

void Sha256::Update(std::string_view bytes) {
  if (!bytes.empty()) EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size());
}

std::string Sha256::HexDigest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_.get(), md, &len);
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned int k = 0; k < len; ++k) {
    out += kDigits[md[k] >> 4];
    out += kDigits[md[k] & 15];
  }
  return out;
}

// ---- ZstdWriter -------------------------------------------------------------

Result<std::unique_ptr<ZstdWriter>> ZstdWriter::Create(const std::string& path, int level) {
  std::unique_ptr<ZstdWriter> w(new ZstdWriter());
  w->path_ = path;
  w->file_ = std::fopen(path.c_str(), "wbx");  // never over an existing file
  if (w->file_ == nullptr)
    return Status::IoError("cannot create " + path + ": " + std::strerror(errno));
  w->cctx_ = ZSTD_createCCtx();
  if (w->cctx_ == nullptr) return Status::Internal("ZSTD_createCCtx failed");
  ZSTD_CCtx_setParameter(w->cctx_, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(w->cctx_, ZSTD_c_checksumFlag, 1);  // zstd checks its frame on read
  w->out_.resize(ZSTD_CStreamOutSize());
  return w;
}

ZstdWriter::~ZstdWriter() {
  if (cctx_ != nullptr) ZSTD_freeCCtx(cctx_);
  if (file_ != nullptr) std::fclose(file_);
}

Status ZstdWriter::Drain(ZSTD_EndDirective mode, ZSTD_inBuffer& in) {
  for (;;) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    const std::size_t left = ZSTD_compressStream2(cctx_, &out, &in, mode);
    if (ZSTD_isError(left))
      return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(left));
    if (out.pos > 0 && std::fwrite(out_.data(), 1, out.pos, file_) != out.pos)
      return Status::IoError("writing " + path_ + ": " + std::strerror(errno));
    compressed_bytes_ += out.pos;
    const bool done = mode == ZSTD_e_continue ? in.pos == in.size : left == 0;
    if (done) return Status::Ok();
  }
}

Status ZstdWriter::Write(std::string_view bytes) {
  if (bytes.empty()) return Status::Ok();
  raw_bytes_ += bytes.size();
  ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
  return Drain(ZSTD_e_continue, in);
}

Status ZstdWriter::Finish() {
  ZSTD_inBuffer in{nullptr, 0, 0};
  Status s = Drain(ZSTD_e_end, in);
  if (!s.ok()) return s;
  // The bytes must be on disk before the partition they hold is dropped.
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    return Status::IoError("flushing " + path_ + ": " + std::strerror(errno));
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) return Status::IoError("closing " + path_ + ": " + std::strerror(errno));
  return Status::Ok();
}

// ---- ZstdLineReader ---------------------------------------------------------

Result<std::unique_ptr<ZstdLineReader>> ZstdLineReader::Open(const std::string& path) {
  std::unique_ptr<ZstdLineReader> r(new ZstdLineReader());
  r->path_ = path;
  r->file_ = std::fopen(path.c_str(), "rb");
  if (r->file_ == nullptr)
    return Status::IoError("cannot open " + path + ": " + std::strerror(errno));
  r->dctx_ = ZSTD_createDCtx();
  if (r->dctx_ == nullptr) return Status::Internal("ZSTD_createDCtx failed");
  r->in_.resize(ZSTD_DStreamInSize());
  return r;
}

ZstdLineReader::~ZstdLineReader() {
  if (dctx_ != nullptr) ZSTD_freeDCtx(dctx_);
  if (file_ != nullptr) std::fclose(file_);
}

// Decompresses more into pending_; false at the end or on an error.
bool ZstdLineReader::Fill() {
  std::vector<char> out(ZSTD_DStreamOutSize());
  for (;;) {
    if (in_buf_.pos == in_buf_.size) {
      if (eof_) {
        if (!frame_done_)
          status_ = Status::Corruption(path_ + ": the zstd stream ends early (truncated file?)");
        return false;
      }
      const std::size_t n = std::fread(in_.data(), 1, in_.size(), file_);
      if (n == 0) {
        if (std::ferror(file_)) {
          status_ = Status::IoError("reading " + path_ + ": " + std::strerror(errno));
          return false;
        }
        eof_ = true;
        continue;
      }
      in_buf_ = ZSTD_inBuffer{in_.data(), n, 0};
    }
    ZSTD_outBuffer o{out.data(), out.size(), 0};
    const std::size_t r = ZSTD_decompressStream(dctx_, &o, &in_buf_);
    if (ZSTD_isError(r)) {
      status_ =
          Status::Corruption(path_ + ": not a valid zstd stream (" + ZSTD_getErrorName(r) + ")");
      return false;
    }
    frame_done_ = r == 0;
    if (o.pos > 0) {
      pending_.erase(0, pending_pos_);
      pending_pos_ = 0;
      pending_.append(out.data(), o.pos);
      return true;
    }
  }
}

bool ZstdLineReader::Next(std::string& line) {
  for (;;) {
    const std::size_t nl = pending_.find('\n', pending_pos_);
    if (nl != std::string::npos) {
      line.assign(pending_, pending_pos_, nl - pending_pos_);
      pending_pos_ = nl + 1;
      return true;
    }
    if (!Fill()) {
      if (status_.ok() && pending_pos_ < pending_.size())
        status_ = Status::Corruption(path_ + ": the content ends inside a line");
      return false;
    }
  }
}

// ---- manifest ---------------------------------------------------------------

nlohmann::json ArchiveManifest::ToJson() const {
  return {
      {"format", kFormat},
      {"version", kFormatVersion},
      {"file", file},
      {"created_at", created_at},
      {"created_unix", created_unix},
      {"span_bits", span_bits},
      {"block", block},
      {"range",
       {{"from", range_from}, {"to", range_to == 0 ? nlohmann::json() : nlohmann::json(range_to)}}},
      {"partitions", partitions},
      {"games", games},
      {"first_game_id", first_game_id},
      {"last_game_id", last_game_id},
      {"last_finished_at", last_finished_at},
      {"rows", rows},
      {"columns", columns},
      {"raw_bytes", raw_bytes},
      {"compressed_bytes", compressed_bytes},
      {"sha256", sha256}};
}

Result<ArchiveManifest> ArchiveManifest::FromJson(const nlohmann::json& j) {
  try {
    if (j.value("format", "") != kFormat)
      return Status::InvalidArgument("not a hokm archive manifest");
    if (j.at("version").get<int>() != kFormatVersion)
      return Status::VersionMismatch("manifest version " + j.at("version").dump() +
                                     ", this hokmctl reads " + std::to_string(kFormatVersion));
    ArchiveManifest m;
    m.file = j.at("file").get<std::string>();
    m.created_at = j.at("created_at").get<std::string>();
    m.created_unix = j.at("created_unix").get<std::int64_t>();
    m.span_bits = j.at("span_bits").get<int>();
    m.block = j.at("block").get<std::int64_t>();
    m.range_from = j.at("range").at("from").get<std::int64_t>();
    const auto& to = j.at("range").at("to");
    m.range_to = to.is_null() ? 0 : to.get<std::int64_t>();
    m.partitions = j.at("partitions").get<std::vector<std::string>>();
    m.games = j.at("games").get<std::int64_t>();
    m.first_game_id = j.at("first_game_id").get<std::int64_t>();
    m.last_game_id = j.at("last_game_id").get<std::int64_t>();
    m.last_finished_at = j.at("last_finished_at").get<std::string>();
    m.rows = j.at("rows").get<std::map<std::string, std::int64_t>>();
    m.columns = j.at("columns").get<std::map<std::string, std::string>>();
    m.raw_bytes = j.at("raw_bytes").get<std::uint64_t>();
    m.compressed_bytes = j.at("compressed_bytes").get<std::uint64_t>();
    m.sha256 = j.at("sha256").get<std::string>();
    return m;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("malformed manifest: ") + e.what());
  }
}

std::string ManifestPathFor(const std::string& archive_path) {
  std::string base = archive_path;
  if (base.size() > 4 && base.compare(base.size() - 4, 4, ".zst") == 0)
    base.resize(base.size() - 4);
  return base + ".json";
}

Result<ArchiveManifest> ReadManifest(const std::string& manifest_path) {
  std::ifstream in(manifest_path);
  if (!in) return Status::NotFound("no manifest " + manifest_path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return Status::InvalidArgument(manifest_path + ": not JSON");
  auto m = ArchiveManifest::FromJson(j);
  if (!m.ok()) return Status::InvalidArgument(manifest_path + ": " + m.status().message());
  return m;
}

Status WriteManifest(const std::string& manifest_path, const ArchiveManifest& m) {
  const std::string tmp = manifest_path + ".partial";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << m.ToJson().dump(2) << "\n";
    out.flush();
    if (!out) return Status::IoError("writing " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), manifest_path.c_str()) != 0)
    return Status::IoError("renaming " + tmp + ": " + std::strerror(errno));
  return Status::Ok();
}

// ---- reading an archive -----------------------------------------------------

Result<ArchiveContent> ReadArchive(
    const std::string& path,
    const std::function<Status(const std::string& table, const std::string& line)>& on_row) {
  auto reader = ZstdLineReader::Open(path);
  if (!reader.ok()) return reader.status();
  ArchiveContent content;
  Sha256 sha;
  std::string line, table;
  bool first = true, ended = false;
  while ((*reader)->Next(line)) {
    sha.Update(line);
    sha.Update("\n");
    if (ended) return Status::Corruption(path + ": content after " + kEndLine);
    if (first) {
      if (line != kFirstLine) return Status::Corruption(path + ": not a hokm archive (first line)");
      first = false;
      continue;
    }
    if (line.rfind("#table ", 0) == 0) {
      const std::size_t sp = line.find(' ', 7);
      if (sp == std::string::npos) return Status::Corruption(path + ": bad table line: " + line);
      table = line.substr(7, sp - 7);
      if (content.columns.count(table) != 0)
        return Status::Corruption(path + ": table " + table + " twice");
      content.columns[table] = line.substr(sp + 1);
      content.rows[table] = 0;
      continue;
    }
    if (line == kEndLine) {
      ended = true;
      continue;
    }
    if (table.empty() || line.empty() || line[0] == '#')
      return Status::Corruption(path + ": unexpected line: " + line.substr(0, 80));
    ++content.rows[table];
    if (on_row) {
      Status s = on_row(table, line);
      if (!s.ok()) return s;
    }
  }
  if (!(*reader)->status().ok()) return (*reader)->status();
  if (first) return Status::Corruption(path + ": empty");
  if (!ended) return Status::Corruption(path + ": no " + kEndLine + " line (truncated?)");
  content.sha256 = sha.HexDigest();
  return content;
}

Status CheckAgainst(const ArchiveContent& content, const ArchiveManifest& m) {
  if (content.columns != m.columns)
    return Status::Corruption("its tables or columns are not the manifest's");
  for (const auto& [table, n] : m.rows) {
    const auto it = content.rows.find(table);
    const std::int64_t got = it == content.rows.end() ? -1 : it->second;
    if (got != n)
      return Status::Corruption(table + ": " + std::to_string(got) + " rows, the manifest says " +
                                std::to_string(n));
  }
  if (content.sha256 != m.sha256)
    return Status::Corruption("content sha256 " + content.sha256 + ", the manifest says " +
                              m.sha256);
  return Status::Ok();
}

// ---- PgCopyConn -------------------------------------------------------------

Result<std::unique_ptr<PgCopyConn>> PgCopyConn::Connect(const std::string& conninfo,
                                                        const std::string& where) {
  std::unique_ptr<PgCopyConn> c(new PgCopyConn());
  c->where_ = where;
  c->conn_ = PQconnectdb(conninfo.c_str());
  if (c->conn_ == nullptr || PQstatus(c->conn_) != CONNECTION_OK) {
    std::string e = c->conn_ ? PQerrorMessage(c->conn_) : "out of memory";
    if (const auto nl = e.find('\n'); nl != std::string::npos) e.resize(nl);
    return Status::Unavailable("postgresql at " + where + " not answering: " + e);
  }
  auto set = c->Exec("SET statement_timeout = 0");
  if (!set.ok()) return set.status();
  return c;
}

PgCopyConn::~PgCopyConn() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Status PgCopyConn::Error(const std::string& what) const {
  std::string e = PQerrorMessage(conn_);
  while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
  return Status::Unavailable(what + " (postgresql at " + where_ + "): " + e);
}

Result<std::vector<std::string>> PgCopyConn::Exec(const std::string& sql) {
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(conn_, sql.c_str()), PQclear);
  const ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return Error(sql.substr(0, 60));
  std::vector<std::string> out;
  if (st == PGRES_TUPLES_OK && PQnfields(r.get()) > 0) {
    for (int k = 0; k < PQntuples(r.get()); ++k)
      out.emplace_back(PQgetisnull(r.get(), k, 0) ? "" : PQgetvalue(r.get(), k, 0));
  }
  return out;
}

Status PgCopyConn::CopyOut(const std::string& sql,
                           const std::function<Status(std::string_view line)>& on_line) {
  {
    std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(conn_, sql.c_str()), PQclear);
    if (!r || PQresultStatus(r.get()) != PGRES_COPY_OUT) return Error(sql.substr(0, 60));
  }
  Status failed;
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(conn_, &buf, 0);
    if (n == -1) break;  // done
    if (n == -2) return Error("COPY out");
    std::string_view line(buf, static_cast<std::size_t>(n));
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (failed.ok()) failed = on_line(line);  // keep draining: the connection stays usable
    PQfreemem(buf);
  }
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQgetResult(conn_), PQclear);
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) return Error("COPY out");
  while (PGresult* more = PQgetResult(conn_)) PQclear(more);
  return failed;
}

Status PgCopyConn::BeginCopyIn(const std::string& sql) {
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQexec(conn_, sql.c_str()), PQclear);
  if (!r || PQresultStatus(r.get()) != PGRES_COPY_IN) return Error(sql.substr(0, 60));
  return Status::Ok();
}

Status PgCopyConn::PutLine(std::string_view line) {
  line_.assign(line);
  line_ += '\n';
  if (PQputCopyData(conn_, line_.data(), static_cast<int>(line_.size())) != 1)
    return Error("COPY in");
  return Status::Ok();
}

Status PgCopyConn::EndCopyIn() {
  if (PQputCopyEnd(conn_, nullptr) != 1) return Error("COPY in");
  std::unique_ptr<PGresult, void (*)(PGresult*)> r(PQgetResult(conn_), PQclear);
  const bool ok = r && PQresultStatus(r.get()) == PGRES_COMMAND_OK;
  Status s = ok ? Status::Ok() : Error("COPY in");
  while (PGresult* more = PQgetResult(conn_)) PQclear(more);
  return s;
}

}  // namespace hokm::ctl::archive
