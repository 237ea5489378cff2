// pg_schema.h: the PostgreSQL schema files (schemas/postgres/NNN_name.sql)
// and where a binary finds them: what PgSink::Migrate (pg_sink.h) lists and
// applies, for hokm-sidecar at start-up and `hokmctl migrate` alike.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "shm/status.h"

namespace hokm::sidecar {

struct SchemaFile {
  int version = 0;             // NNN
  std::string name;            // the file name, "001_core.sql"
  std::filesystem::path path;  // dir / name
};

// dir's NNN_name.sql files in version order. InvalidArgument for a .sql
// file not named so or two files of one version, IoError when dir cannot be
// listed, NotFound when it holds none.
Result<std::vector<SchemaFile>> ListSchemaFiles(const std::filesystem::path& dir);

// The schema directory relative to a binary's directory as installed
// (../share/hokm/postgres; sidecar/CMakeLists.txt computes it). The build
// tree has the same layout: build/share/hokm/postgres links to
// schemas/postgres.
const char* SchemaDirFromBin();

// The default --schema-dir of hokm-sidecar and hokmctl: SchemaDirFromBin()
// from the directory of the running binary (/proc/self/exe); empty when
// that cannot be read.
std::filesystem::path DefaultSchemaDir();

}  // namespace hokm::sidecar
