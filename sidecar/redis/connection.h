// connection.h: one blocking hiredis connection, opened from a RedisUrl
// (AUTH, SELECT, CLIENT SETNAME), for single commands and pipelines
// (Append, then GetReply in order). The Redis sink and loadgen's Redis work
// (--verify reads, the --baseline seed server) both use it.
//
// Thread safety: none; one connection per thread.
//
// REQUIRES: SIGPIPE is ignored in the process (hiredis writes with write(2)).
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shm/status.h"
#include "sidecar/url.h"

namespace hokm::sidecar {

struct RedisReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReply = std::unique_ptr<redisReply, RedisReplyDeleter>;

struct RedisConnectOptions {
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds io_timeout{5000};
  bool keepalive = false;
  std::string client_name;  // CLIENT SETNAME when not empty
};

class RedisConnection {
 public:
  // Unavailable when Redis cannot be reached (or the connection fails while
  // it is set up), InvalidArgument when Redis refuses the AUTH or SELECT.
  static Result<RedisConnection> Connect(const RedisUrl& url,
                                         const RedisConnectOptions& options = {});

  RedisConnection() = default;  // closed

  bool is_open() const { return ctx_ != nullptr; }
  void Close() { ctx_.reset(); }

  // Sends one command and waits for its reply (null: the connection failed).
  RedisReply Command(std::span<const std::string_view> words);
  RedisReply Command(std::initializer_list<std::string_view> words) {
    return Command(std::span<const std::string_view>(words.begin(), words.size()));
  }
  // Queues a command; its reply comes from GetReply, in order.
  void Append(std::span<const std::string_view> words);
  void Append(std::initializer_list<std::string_view> words) {
    Append(std::span<const std::string_view>(words.begin(), words.size()));
  }
  // Queues commands already in the Redis protocol (RESP); false on failure.
  [[nodiscard]] bool AppendFormatted(std::string_view resp);
  // Flushes what is queued and waits for the next reply (null on failure).
  RedisReply GetReply();
  // Writes what is queued without reading (false on failure), so that
  // several connections' servers work at once (client.h).
  [[nodiscard]] bool Flush();

  // The connection's error text, for messages ("no reply" when none).
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

inline bool IsErrorReply(const redisReply* r) {
  return r != nullptr && r->type == REDIS_REPLY_ERROR;
}

// The bytes of a string, status or error reply; empty for any other.
inline std::string_view ReplyString(const redisReply* r) {
  return r && r->str ? std::string_view(r->str, static_cast<std::size_t>(r->len))
                     : std::string_view();
}

// The reply as text for messages: a string or status, an error's message,
// an integer, "(nil)", "(no reply)".
std::string ReplyText(const redisReply* r);

}  // namespace hokm::sidecar
