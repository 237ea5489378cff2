// pg_sql.cc: the placeholders of the PostgreSQL sink's SQL (see pg_sql.h).
#include "sidecar/pg/pg_sql.h"

#include "core/records/record_types.h"
#include "sidecar/rating.h"

namespace hokm::sidecar {

std::string ReplaceAll(std::string s, std::string_view from, std::string_view to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

namespace {

// sql with every {type:Name} replaced by the tag of record type Name.
std::string WithTypeTags(std::string sql) {
  for (const core::RecordTypeInfo& t : core::kRecordTypes) {
    sql = ReplaceAll(std::move(sql), "{type:" + std::string(t.name) + "}",
                     std::to_string(core::RecordTag(t.type)));
  }
  return sql;
}

}  // namespace

DeriveSql DeriveSql::Make() {
  DeriveSql d;
  d.created = WithTypeTags(kDeriveGameCreated);
  d.seats = WithTypeTags(kDeriveSeats);
  d.connections = WithTypeTags(kDeriveConnections);
  d.first_hakem = WithTypeTags(kDeriveFirstHakem);
  d.hands = WithTypeTags(kDeriveHandScored);
  d.finished = WithTypeTags(
      ReplaceAll(ReplaceAll(kDeriveGameFinished, "{base}", std::to_string(kRatingBase)), "{step}",
                 std::to_string(kRatingStep)));
  d.abandoned = WithTypeTags(kDeriveGameAbandoned);
  return d;
}

}  // namespace hokm::sidecar
