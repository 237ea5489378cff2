// redis_conn.h: loadgen's own Redis client (--verify reads, the --baseline
// seed game server): sidecar/redis/client.h (one server or a Redis
// Cluster) with loadgen's timeouts and a hint when Redis is not there.
//
// Thread safety: one client per thread.
#pragma once

#include "shm/status.h"
#include "sidecar/redis/client.h"
#include "sidecar/url.h"

namespace hokm::loadgen {

using RedisConn = sidecar::RedisClient;
using sidecar::RedisReply;
using sidecar::ReplyText;

// Connects with AUTH and SELECT from url (a cluster: to every master it
// sends to): 2 s to connect, 30 s per reply.
Result<RedisConn> ConnectRedis(const sidecar::RedisUrl& url);

}  // namespace hokm::loadgen
