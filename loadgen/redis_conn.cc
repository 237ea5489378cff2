// redis_conn.cc: RedisConn over hiredis's blocking API (see redis_conn.h).
#include "loadgen/redis_conn.h"

#include <sys/time.h>

namespace hokm::loadgen {

Result<RedisConn> RedisConn::Connect(const sidecar::RedisUrl& url) {
  RedisConn c;
  c.ctx_.reset(redisConnectWithTimeout(url.host.c_str(), url.port, timeval{2, 0}));
  if (!c.ctx_ || c.ctx_->err) {
    return Status::Unavailable("redis at " + url.HostPort() + " not answering (" +
                               (c.ctx_ ? std::string(c.ctx_->errstr) : std::string("out of memory")) +
                               "): start it (scripts/services.sh start) or fix --redis-url");
  }
  redisSetTimeout(c.ctx_.get(), timeval{30, 0});
  if (!url.password.empty()) {
    RedisReply r = url.username.empty() ? c.Command({"AUTH", url.password})
                                        : c.Command({"AUTH", url.username, url.password});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      return Status::InvalidArgument("redis at " + url.HostPort() + ": AUTH refused: " + ReplyText(r.get()));
    }
  }
  if (url.db != 0) {
    const std::string db = std::to_string(url.db);
    RedisReply r = c.Command({"SELECT", db});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      return Status::InvalidArgument("redis at " + url.HostPort() + ": SELECT " + db + " refused: " +
                                     ReplyText(r.get()));
    }
  }
  return c;
}

void RedisConn::Append(const std::vector<std::string_view>& words) {
  argv_.clear();
  lens_.clear();
  for (std::string_view w : words) {
    argv_.push_back(w.data());
    lens_.push_back(w.size());
  }
  redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv_.size()), argv_.data(), lens_.data());
}

RedisReply RedisConn::GetReply() {
  void* raw = nullptr;
  if (redisGetReply(ctx_.get(), &raw) != REDIS_OK) return nullptr;
  return RedisReply(static_cast<redisReply*>(raw));
}

RedisReply RedisConn::Command(const std::vector<std::string_view>& words) {
  Append(words);
  return GetReply();
}

std::string RedisConn::Error() const {
  return ctx_ && ctx_->err ? std::string(ctx_->errstr) : std::string("no reply");
}

std::string ReplyText(const redisReply* r) {
  if (r == nullptr) return "(no reply)";
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "(nil)";
    default:
      return "(reply type " + std::to_string(r->type) + ")";
  }
}

}  // namespace hokm::loadgen
