#include "ctl/ctl.h"

#include <cstdio>

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

}  // namespace hokm::ctl
