// url.h: the two store URLs the sidecar takes (HOKM_REDIS_URL, HOKM_PG_URL),
// parsed into structs. Passwords never appear in Redacted() or in any error
// message, so both are safe to log.
//
//   redis://[[user]:password@]host[:port][/db]            port 6379, db 0
//   postgresql://user[:password]@host[:port]/dbname[?k=v&...]   port 5432
//                (postgres:// is accepted too; k=v pairs go to libpq)
//
// user, password and dbname may be percent-encoded (%40 for '@'); an IPv6
// host is written in brackets ([::1]).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "shm/status.h"

namespace hokm::sidecar {

// Why a URL was refused; the Status message says which part and why.
enum class UrlError : std::uint8_t {
  kNone = 0,
  kEmpty,
  kBadScheme,           // not redis:// (or postgresql:// / postgres://)
  kBadPercentEncoding,  // '%' not followed by two hex digits
  kMissingHost,
  kBadHost,          // unclosed '[' or characters a host cannot hold
  kBadPort,          // not a number in 1..65535
  kBadDatabase,      // redis: not a number in 0..2^31-1
  kMissingUser,      // postgresql: user is required
  kMissingDatabase,  // postgresql: /dbname is required
  kBadQuery,         // postgresql: a ?k=v pair without '=', or a key not a plain word
  kNulByte,          // a NUL byte, raw or as %00: C clients would cut the value there
};

const char* UrlErrorName(UrlError e);

struct RedisUrl {
  std::string host;
  std::uint16_t port = 6379;
  std::string username;  // empty: AUTH with the password only
  std::string password;  // empty: no AUTH
  int db = 0;

  // "redis://:***@127.0.0.1:6390/0" (the password, when set, is "***").
  std::string Redacted() const;
  // "127.0.0.1:6390" ("[::1]:6390" for IPv6).
  std::string HostPort() const;
};

struct PgUrl {
  std::string host;
  std::uint16_t port = 5432;
  std::string user;
  std::string password;
  std::string dbname;
  std::map<std::string, std::string> params;  // from ?k=v, passed to libpq as is

  // "postgresql://hokm:***@127.0.0.1:5440/hokm".
  std::string Redacted() const;
  std::string HostPort() const;
  // libpq "keyword=value" connection string with every value quoted;
  // holds the password, so never log it.
  std::string ConnInfo() const;
};

// On failure: Status::InvalidArgument naming the part at fault, and *error
// (when given) set to the reason. *error is kNone on success.
Result<RedisUrl> ParseRedisUrl(std::string_view url, UrlError* error = nullptr);
Result<PgUrl> ParsePgUrl(std::string_view url, UrlError* error = nullptr);

}  // namespace hokm::sidecar
