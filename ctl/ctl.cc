#include "ctl/ctl.h"

#include <cstdio>

#include "sidecar/url.h"

namespace hokm::ctl {

int Fail(int code, const std::string& message) {
  std::fprintf(stderr, "hokmctl: %s\n", message.c_str());
  return code;
}

bool NeedRedis(const Globals& globals) {
  if (!globals.redis_url.empty()) return true;
  Fail(kExitUsage,
       "give --redis-url or HOKM_REDIS_URL / REDIS_URL (`make services` starts local servers and "
       "prints it)");
  return false;
}

bool NeedPg(const Globals& globals) {
  if (!globals.pg_url.empty()) return true;
  Fail(kExitUsage,
       "give --pg-url or HOKM_PG_URL / DATABASE_URL (`make services` starts local servers and "
       "prints it)");
  return false;
}

bool NeedPgRead(const Globals& globals) { return !globals.pg_read_url.empty() || NeedPg(globals); }

const std::string& PgReadUrl(const Globals& globals) {
  if (globals.pg_read_url.empty()) return globals.pg_url;
  static bool said = false;
  if (!said) {
    said = true;
    // Host, port and database only: never the password.
    const Result<sidecar::PgUrl> url = sidecar::ParsePgUrl(globals.pg_read_url);
    std::fprintf(stderr,
                 "hokmctl: reading PostgreSQL from the read replica at %s "
                 "(--pg-read-url / HOKM_PG_READ_URL; it may lag the primary)\n",
                 url.ok() ? (url->HostPort() + "/" + url->dbname()).c_str() : "(malformed URL)");
  }
  return globals.pg_read_url;
}

}  // namespace hokm::ctl
