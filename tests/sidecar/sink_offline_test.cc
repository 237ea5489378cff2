// sink_offline_test.cc: what the sinks say when their store is not there
// (no server needed: port 1 on loopback refuses at once).
#include <gtest/gtest.h>
#include <signal.h>

#include "sidecar/pg/pg_sink.h"
#include "sidecar/redis/redis_sink.h"

namespace hokm::sidecar {
namespace {

TEST(SinkOfflineTest, RedisConnectToAClosedPortIsUnavailableAndNamesTheServer) {
  ::signal(SIGPIPE, SIG_IGN);
  auto url = ParseRedisUrl("redis://:topsecret@127.0.0.1:1/0");
  ASSERT_TRUE(url.ok());
  RedisSinkOptions options;
  options.connect_timeout = std::chrono::milliseconds(500);
  auto sink = RedisSink::Connect(*url, options);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(sink.status().message().find("127.0.0.1:1"), std::string::npos)
      << sink.status().message();
  EXPECT_EQ(sink.status().message().find("topsecret"), std::string::npos)
      << sink.status().message();
}

TEST(SinkOfflineTest, PgConnectToAClosedPortIsUnavailableAndNamesTheServer) {
  ::signal(SIGPIPE, SIG_IGN);
  auto url = ParsePgUrl("postgresql://hokm:topsecret@127.0.0.1:1/hokm");
  ASSERT_TRUE(url.ok());
  auto sink = PgSink::Connect(*url);
  ASSERT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(sink.status().message().find("127.0.0.1:1"), std::string::npos)
      << sink.status().message();
  EXPECT_EQ(sink.status().message().find("topsecret"), std::string::npos)
      << sink.status().message();
}

}  // namespace
}  // namespace hokm::sidecar
