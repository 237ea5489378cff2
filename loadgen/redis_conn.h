// redis_conn.h: loadgen's own Redis connection (--verify reads, the
// --baseline seed game server): sidecar/redis/connection.h with loadgen's
// timeouts and a hint when Redis is not there.
//
// Thread safety: one connection per thread.
#pragma once

#include "shm/status.h"
#include "sidecar/redis/connection.h"
#include "sidecar/url.h"

namespace hokm::loadgen {

using RedisConn = sidecar::RedisConnection;
using sidecar::RedisReply;
using sidecar::ReplyText;

// Connects with AUTH and SELECT from url: 2 s to connect, 30 s per reply.
Result<RedisConn> ConnectRedis(const sidecar::RedisUrl& url);

}  // namespace hokm::loadgen
