// url.h: the two store URLs the binaries take (HOKM_REDIS_URL, else
// REDIS_URL; HOKM_PG_URL, else DATABASE_URL). Passwords never appear in
// Redacted() or in any error message, so both are safe to log.
//
//   redis://[[user]:password@]host[:port][/db]            port 6379, db 0
//   redis://[[user]:password@]h1[:p1],h2[:p2],...         a Redis Cluster's seeds
//       parsed here: hiredis wants a host and a port. Several seeds make the
//       URL a cluster's (sidecar/redis/client.h); so does --redis-cluster
//       (RedisUrl::cluster). A cluster has only database 0.
//   PostgreSQL: anything libpq's PQconninfoParse accepts, checked by it and
//       handed to libpq as it read it: postgresql:// or postgres:// URLs
//       (several hosts, Unix-socket hosts as %2Fpath or ?host=/path, any
//       ?keyword=value libpq knows, user and database optional) and
//       "host=... dbname=..." keyword/value strings.
//
// Redis: user and password may be percent-encoded (%40 for '@'); an IPv6
// host is written in brackets ([::1]).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "shm/status.h"

namespace hokm::sidecar {

// Why a URL was refused; the Status message says which part and why.
enum class UrlError : std::uint8_t {
  kNone = 0,
  kEmpty,
  kBadScheme,           // not redis:// (or postgresql:// / postgres://)
  kBadPercentEncoding,  // '%' not followed by two hex digits
  kMissingHost,
  kBadHost,        // unclosed '[' or characters a host cannot hold
  kBadPort,        // not a number in 1..65535
  kBadDatabase,    // redis: not a number in 0..2^31-1
  kBadQuery,       // postgresql: a ?k=v pair without '=' or with two
  kNulByte,        // a NUL byte, raw or as %00: C clients would cut the value there
  kBadSyntax,      // postgresql: libpq cannot read it (an unclosed quote, a word without '=')
  kUnknownOption,  // postgresql: a keyword or ?parameter libpq does not know
};

const char* UrlErrorName(UrlError e);

struct RedisUrl {
  struct Seed {
    std::string host;
    std::uint16_t port = 6379;
  };
  std::string host;  // the first seed
  std::uint16_t port = 6379;
  std::vector<Seed> more_seeds;  // the seeds after the first (a cluster's)
  bool cluster = false;          // several seeds, or set by --redis-cluster
  std::string username;          // empty: AUTH with the password only
  std::string password;          // empty: no AUTH
  int db = 0;

  // "redis://:***@127.0.0.1:6390/0" (the password, when set, is "***").
  std::string Redacted() const;
  // "127.0.0.1:6390" ("[::1]:6390" for IPv6): the first seed.
  std::string HostPort() const;
  // Every seed: "127.0.0.1:7000,127.0.0.1:7001".
  std::string Seeds() const;
};

// A PostgreSQL connection as libpq read it: every keyword its parse of the
// string set (PQconninfoParse, which fills in no default), plus what a
// binary adds (params.try_emplace("connect_timeout", "5"): a default the
// string did not set). Empty host, user or dbname mean libpq's defaults
// (the local socket, the OS user, the user's name).
struct PgUrl {
  std::map<std::string, std::string> params;  // keyword -> value, as libpq read them

  // The value of keyword, "" when unset.
  const std::string& Get(const std::string& keyword) const;
  const std::string& host() const { return Get("host"); }
  const std::string& user() const { return Get("user"); }
  const std::string& dbname() const { return Get("dbname"); }
  const std::string& password() const { return Get("password"); }

  // A URL libpq reads back to the same params but the password, which is
  // "***": "postgresql://hokm:***@127.0.0.1:5440/hokm". Hosts that are not
  // a plain name or address (several, a socket directory) and ports that
  // are not one number go in ?host= / ?port=.
  std::string Redacted() const;
  // Where, for messages: "127.0.0.1:5440", "/run/postgresql:5432",
  // "a,b:5432,5433", "local socket:5432".
  std::string HostPort() const;
  // libpq "keyword=value" connection string with every value quoted;
  // holds the password, so never log it.
  std::string ConnInfo() const;
};

// On failure: Status::InvalidArgument naming the part at fault, and *error
// (when given) set to the reason. *error is kNone on success.
Result<RedisUrl> ParseRedisUrl(std::string_view url, UrlError* error = nullptr);
Result<PgUrl> ParsePgUrl(std::string_view url, UrlError* error = nullptr);

// The URL in the environment, for a binary's default: HOKM_REDIS_URL, else
// REDIS_URL (HOKM_PG_URL, else DATABASE_URL), the names most deployments
// already set; "" when neither is set or both are empty. The HOKM_ name
// wins so that a host-wide DATABASE_URL of another program does not.
std::string RedisUrlFromEnv();
std::string PgUrlFromEnv();

}  // namespace hokm::sidecar
