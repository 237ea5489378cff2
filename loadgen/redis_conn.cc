// redis_conn.cc: loadgen's Redis connection (see redis_conn.h).
#include "loadgen/redis_conn.h"

namespace hokm::loadgen {

Result<RedisConn> ConnectRedis(const sidecar::RedisUrl& url) {
  sidecar::RedisConnectOptions options;
  options.connect_timeout = std::chrono::seconds(2);
  options.io_timeout = std::chrono::seconds(30);
  Result<RedisConn> c = RedisConn::Connect(url, options);
  if (!c.ok() && c.status().code() == Status::Code::kUnavailable) {
    return Status::Unavailable(c.status().message() +
                               ": start it (scripts/services.sh start) or fix --redis-url "
                               "(a cluster: --redis-cluster or a seed list h1:p1,h2:p2)");
  }
  return c;
}

}  // namespace hokm::loadgen
