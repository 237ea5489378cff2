// connection.cc: RedisConnection over hiredis's blocking API (see connection.h).
#include "sidecar/redis/connection.h"

#include <sys/time.h>

namespace hokm::sidecar {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

Result<RedisConnection> RedisConnection::Connect(const RedisUrl& url,
                                                 const RedisConnectOptions& options) {
  RedisConnection c;
  const std::string where = "redis at " + url.HostPort();
  c.ctx_.reset(
      redisConnectWithTimeout(url.host.c_str(), url.port, ToTimeval(options.connect_timeout)));
  if (!c.ctx_) return Status::Unavailable(where + ": out of memory allocating a context");
  if (c.ctx_->err) {
    return Status::Unavailable(where + " not answering: " + c.ctx_->errstr + " (connect timeout " +
                               std::to_string(options.connect_timeout.count()) + " ms)");
  }
  const auto lost = [&](const std::string& what) {
    return Status::Unavailable(where + ": " + what + ": " + c.Error());
  };
  if (redisSetTimeout(c.ctx_.get(), ToTimeval(options.io_timeout)) != REDIS_OK)
    return lost("setting the I/O timeout failed");
  if (options.keepalive) redisEnableKeepAlive(c.ctx_.get());
  if (!url.password.empty()) {
    RedisReply r = url.username.empty() ? c.Command({"AUTH", url.password})
                                        : c.Command({"AUTH", url.username, url.password});
    if (!r) return lost("AUTH failed");
    if (IsErrorReply(r.get()))
      return Status::InvalidArgument(where +
                                     ": AUTH refused: " + std::string(ReplyString(r.get())));
  }
  if (url.db != 0) {
    const std::string db = std::to_string(url.db);
    RedisReply r = c.Command({"SELECT", db});
    if (!r) return lost("SELECT failed");
    if (IsErrorReply(r.get())) {
      return Status::InvalidArgument(where + ": SELECT " + db +
                                     " refused: " + std::string(ReplyString(r.get())));
    }
  }
  if (!options.client_name.empty()) {
    RedisReply r = c.Command({"CLIENT", "SETNAME", options.client_name});
    if (!r) return lost("CLIENT SETNAME failed");
  }
  return c;
}

void RedisConnection::Append(std::span<const std::string_view> words) {
  argv_.clear();
  lens_.clear();
  for (std::string_view w : words) {
    argv_.push_back(w.data());
    lens_.push_back(w.size());
  }
  redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv_.size()), argv_.data(), lens_.data());
}

bool RedisConnection::AppendFormatted(std::string_view resp) {
  return redisAppendFormattedCommand(ctx_.get(), resp.data(), resp.size()) == REDIS_OK;
}

RedisReply RedisConnection::GetReply() {
  void* raw = nullptr;
  if (redisGetReply(ctx_.get(), &raw) != REDIS_OK) return nullptr;
  return RedisReply(static_cast<redisReply*>(raw));
}

bool RedisConnection::Flush() {
  int done = 0;
  while (!done) {
    if (redisBufferWrite(ctx_.get(), &done) != REDIS_OK) return false;
  }
  return true;
}

RedisReply RedisConnection::Command(std::span<const std::string_view> words) {
  Append(words);
  return GetReply();
}

std::string RedisConnection::Error() const {
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

}  // namespace hokm::sidecar
