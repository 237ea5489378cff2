// pg_schema.cc: listing the schema files and the default schema directory
// (see pg_schema.h).
#include "sidecar/pg/pg_schema.h"

#include <charconv>
#include <map>
#include <system_error>

#ifndef HOKM_SCHEMA_DIR_FROM_BIN
#error "HOKM_SCHEMA_DIR_FROM_BIN comes from sidecar/CMakeLists.txt"
#endif

namespace hokm::sidecar {

Result<std::vector<SchemaFile>> ListSchemaFiles(const std::filesystem::path& dir) {
  std::map<int, SchemaFile> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || entry.path().extension() != ".sql") continue;
    int version = 0;
    const auto [end, err] = std::from_chars(file.data(), file.data() + file.size(), version);
    if (err != std::errc() || end == file.data() || *end != '_' || version <= 0) {
      return Status::InvalidArgument("schema file " + entry.path().string() +
                                     " is not named NNN_name.sql");
    }
    if (!files.emplace(version, SchemaFile{version, file, entry.path()}).second) {
      return Status::InvalidArgument("two schema files have version " + std::to_string(version) +
                                     " in " + dir.string());
    }
  }
  if (ec)
    return Status::IoError("cannot list schema directory " + dir.string() + ": " + ec.message());
  if (files.empty()) return Status::NotFound("no NNN_*.sql schema files in " + dir.string());
  std::vector<SchemaFile> out;
  out.reserve(files.size());
  for (auto& [version, f] : files) out.push_back(std::move(f));
  return out;
}

const char* SchemaDirFromBin() { return HOKM_SCHEMA_DIR_FROM_BIN; }

std::filesystem::path DefaultSchemaDir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  return (exe.parent_path() / SchemaDirFromBin()).lexically_normal();
}

}  // namespace hokm::sidecar
