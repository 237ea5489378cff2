// stores.cc: hokmctl's store URLs, PostgreSQL connections and audit_log
// rows (see stores.h).
#include "ctl/stores.h"

#include <chrono>

#include <pwd.h>
#include <unistd.h>

namespace hokm::ctl {

std::optional<sidecar::PgUrl> PgUrlOf(const Globals& globals) {
  if (!NeedPg(globals)) return std::nullopt;
  auto url = sidecar::ParsePgUrl(globals.pg_url);
  if (!url.ok()) {
    Fail(kExitUsage, "--pg-url: " + url.status().message());
    return std::nullopt;
  }
  return *url;
}

std::optional<sidecar::PgUrl> PgReadUrlOf(const Globals& globals) {
  if (!NeedPgRead(globals)) return std::nullopt;
  const bool replica = !globals.pg_read_url.empty();
  auto url = sidecar::ParsePgUrl(PgReadUrl(globals));
  if (!url.ok()) {
    Fail(kExitUsage, (replica ? "--pg-read-url: " : "--pg-url: ") + url.status().message());
    return std::nullopt;
  }
  return *url;
}

std::optional<sidecar::RedisUrl> RedisUrlOf(const Globals& globals) {
  if (!NeedRedis(globals)) return std::nullopt;
  auto url = sidecar::ParseRedisUrl(globals.redis_url);
  if (!url.ok()) {
    Fail(kExitUsage, "--redis-url: " + url.status().message());
    return std::nullopt;
  }
  if (globals.redis_cluster) url->cluster = true;
  return *url;
}

sidecar::PgUrl WithTimeouts(sidecar::PgUrl url) {
  url.params.try_emplace("connect_timeout", "5");
  url.params.try_emplace("options", "-c statement_timeout=30000");
  url.params.try_emplace("application_name", "hokmctl");
  return url;
}

Result<std::unique_ptr<pqxx::connection>> ConnectPg(const sidecar::PgUrl& url) {
  try {
    return std::make_unique<pqxx::connection>(WithTimeouts(url).ConnInfo());
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (const auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
    return Status::Unavailable("postgresql at " + url.HostPort() + "/" + url.dbname() +
                               " not answering: " + what);
  }
}

Result<sidecar::RedisClient> ConnectRedis(const sidecar::RedisUrl& url,
                                          const std::string& client_name) {
  sidecar::RedisConnectOptions options;
  options.connect_timeout = std::chrono::milliseconds(2000);
  options.io_timeout = std::chrono::milliseconds(5000);
  options.client_name = client_name;
  return sidecar::RedisClient::Connect(url, options);
}

std::string OsUser() {
  const uid_t uid = ::geteuid();
  if (const passwd* pw = ::getpwuid(uid); pw != nullptr && pw->pw_name != nullptr)
    return pw->pw_name;
  return "uid " + std::to_string(uid);
}

void WriteAudit(pqxx::transaction_base& tx, const std::string& action,
                std::optional<std::uint64_t> game_id, const nlohmann::json& details) {
  if (game_id) {
    tx.exec_params(
        "INSERT INTO audit_log (actor, action, game_id, details) VALUES ($1, $2, $3, $4::jsonb)",
        OsUser(), action, static_cast<std::int64_t>(*game_id), details.dump());
  } else {
    tx.exec_params("INSERT INTO audit_log (actor, action, details) VALUES ($1, $2, $3::jsonb)",
                   OsUser(), action, details.dump());
  }
}

Status WriteAudit(const sidecar::PgUrl& url, const std::string& action,
                  std::optional<std::uint64_t> game_id, const nlohmann::json& details) {
  auto conn = ConnectPg(url);
  if (!conn.ok()) return conn.status();
  try {
    pqxx::work tx(**conn);
    WriteAudit(tx, action, game_id, details);
    tx.commit();
  } catch (const std::exception& e) {
    return Status::Unavailable("writing the audit_log row at " + url.HostPort() + ": " + e.what());
  }
  return Status::Ok();
}

}  // namespace hokm::ctl
