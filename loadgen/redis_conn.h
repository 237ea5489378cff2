// redis_conn.h: a blocking hiredis connection for loadgen's own Redis work
// (--verify reads, the --baseline seed game server): connect with AUTH and
// SELECT from a RedisUrl, single commands, and pipelines (Append then
// GetReply in order).
//
// Thread safety: one connection per thread.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shm/status.h"
#include "sidecar/url.h"

namespace hokm::loadgen {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReply = std::unique_ptr<redisReply, ReplyDeleter>;

class RedisConn {
 public:
  static Result<RedisConn> Connect(const sidecar::RedisUrl& url);

  // Sends one command and waits for its reply (null: the connection failed).
  RedisReply Command(const std::vector<std::string_view>& words);
  // Queues a command; its reply comes from GetReply, in order.
  void Append(const std::vector<std::string_view>& words);
  // Flushes what is queued and waits for the next reply (null on failure).
  RedisReply GetReply();

  // The connection's error text, for messages.
  std::string Error() const;
  redisContext* context() const { return ctx_.get(); }

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  std::vector<const char*> argv_;
  std::vector<std::size_t> lens_;
};

// The reply as text: a string or status, an error's message, an integer.
std::string ReplyText(const redisReply* r);

}  // namespace hokm::loadgen
