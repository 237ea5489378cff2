// pg_text.h: values written as PostgreSQL text: SQL literals for the
// statements the PostgreSQL sink builds, and timestamps in the input format
// both COPY and literals accept. Appends to a string; no allocation beyond it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hokm::sidecar {

// 1790000000123456789 -> 2026-09-21 14:13:20.123456+00 (UTC, microseconds;
// the nanoseconds below are dropped, as timestamptz keeps microseconds).
void AppendPgTimestamp(std::uint64_t ts_ns, std::string& out);

// 'it''s': a string literal (standard_conforming_strings, on since 9.1).
// REQUIRES: s holds no NUL.
void AppendPgQuoted(std::string_view s, std::string& out);

// '\x00ff...'::bytea
void AppendPgBytea(const std::uint8_t* bytes, std::size_t size, std::string& out);

// Decimal digits of v.
void AppendPgInt(std::uint64_t v, std::string& out);

// s as a field of COPY's text format: backslash, tab, newline and carriage
// return escaped (\\ \t \n \r), everything else as is.
// REQUIRES: s holds no NUL.
void AppendCopyText(std::string_view s, std::string& out);

}  // namespace hokm::sidecar
