// stores.h: how hokmctl's subcommands reach the stores and record what they did: the URLs from the
// globals, PostgreSQL connections with timeouts (a server that does not answer costs seconds, never
// a hang), the OS user, and audit_log rows.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "ctl/ctl.h"
#include "shm/status.h"
#include "sidecar/redis/client.h"
#include "sidecar/url.h"

namespace hokm::ctl {

// globals.pg_url / redis_url parsed (redis_cluster sets RedisUrl::cluster);
// nullopt after printing why (missing or malformed: a usage error, exit 2).
std::optional<sidecar::PgUrl> PgUrlOf(const Globals& globals);
// As PgUrlOf for the reads that may lag: PgReadUrl(globals) parsed.
std::optional<sidecar::PgUrl> PgReadUrlOf(const Globals& globals);
std::optional<sidecar::RedisUrl> RedisUrlOf(const Globals& globals);

// url with connect_timeout (5 s) and a statement_timeout (30 s) unless its
// ?k=v pairs set connect_timeout or options: for every libpq connection
// hokmctl opens itself or hands on (StoreRebuildSource).
sidecar::PgUrl WithTimeouts(sidecar::PgUrl url);

// A connection to WithTimeouts(url); Unavailable naming the server (never
// the password) when it cannot be had.
Result<std::unique_ptr<pqxx::connection>> ConnectPg(const sidecar::PgUrl& url);

// A Redis client for hokmctl's reads (one server or a cluster,
// sidecar/redis/client.h): 2 s to connect, 5 s per reply, CLIENT SETNAME
// `client_name` on each node's connection.
Result<sidecar::RedisClient> ConnectRedis(const sidecar::RedisUrl& url,
                                          const std::string& client_name);

// The OS user running hokmctl (getpwuid(geteuid())), else "uid N": the
// audit_log actor.
std::string OsUser();

// Appends an audit_log row (actor OsUser(), at now()) in tx.
void WriteAudit(pqxx::transaction_base& tx, const std::string& action,
                std::optional<std::uint64_t> game_id, const nlohmann::json& details);

// As above, in a transaction of its own on a fresh connection.
Status WriteAudit(const sidecar::PgUrl& url, const std::string& action,
                  std::optional<std::uint64_t> game_id, const nlohmann::json& details);

}  // namespace hokm::ctl
