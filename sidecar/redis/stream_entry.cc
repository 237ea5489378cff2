// stream_entry.cc: the stream entry parser (see stream_entry.h).
#include "sidecar/redis/stream_entry.h"

#include <charconv>
#include <system_error>

#include "sidecar/redis/connection.h"

namespace hokm::sidecar {

std::string_view StreamEntry::Field(std::string_view name) const {
  for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
    if (ReplyString(fields->element[f]) == name) return ReplyString(fields->element[f + 1]);
  }
  return {};
}

std::optional<StreamEntry> ParseStreamEntry(const redisReply* entry) {
  if (entry == nullptr || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
      entry->element[0]->type != REDIS_REPLY_STRING || entry->element[1]->type != REDIS_REPLY_ARRAY)
    return std::nullopt;
  StreamEntry e;
  const char* id = entry->element[0]->str;
  const auto [end, err] = std::from_chars(id, id + entry->element[0]->len, e.seq);
  if (err != std::errc() || end == id + entry->element[0]->len || *end != '-') return std::nullopt;
  e.fields = entry->element[1];
  return e;
}

}  // namespace hokm::sidecar
