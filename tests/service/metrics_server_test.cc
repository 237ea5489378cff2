// metrics_server_test.cc: the metrics server's paths and status codes
// (/health and /readyz 200 or 503 as the handler says, /livez 200,
// /metrics, 404) and --metrics-bind's check, against a server on loopback.
#include "service/metrics_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "tests/integration/http_util.h"

namespace hokm::service {
namespace {

using proc::HttpGet;

TEST(MetricsServerTest, HealthAndReadyzFollowTheHandlerLivezDoesNot) {
  std::atomic<bool> ok{true};
  std::string error;
  auto server = MetricsServer::Start(
      "127.0.0.1", 0, [] { return std::string("# metrics\n"); },
      [&ok] {
        return Health{ok.load(), ok.load() ? "{\"status\":\"ok\"}" : "{\"status\":\"degraded\"}"};
      },
      &error);
  ASSERT_NE(server, nullptr) << error;
  const int port = server->port();

  EXPECT_EQ(HttpGet(port, "/metrics").status, 200);
  EXPECT_EQ(HttpGet(port, "/metrics").body, "# metrics\n");
  for (const char* path : {"/health", "/readyz"}) {
    const auto answer = HttpGet(port, path);
    EXPECT_EQ(answer.status, 200) << path;
    EXPECT_EQ(answer.body, "{\"status\":\"ok\"}") << path;
  }
  ok = false;
  for (const char* path : {"/health", "/readyz"}) {
    const auto answer = HttpGet(port, path);
    EXPECT_EQ(answer.status, 503) << path;
    EXPECT_EQ(answer.body, "{\"status\":\"degraded\"}") << path << ": the JSON says why";
  }
  const auto live = HttpGet(port, "/livez");
  EXPECT_EQ(live.status, 200) << "alive even when not ready";
  EXPECT_EQ(live.body, "ok\n");
  EXPECT_EQ(HttpGet(port, "/nothing").status, 404);
}

TEST(MetricsServerTest, ThePortOnlyOverloadAnswers200) {
  std::string error;
  auto server = MetricsServer::Start(
      0, [] { return std::string(); }, [] { return std::string("{}"); }, &error);
  ASSERT_NE(server, nullptr) << error;
  EXPECT_EQ(HttpGet(server->port(), "/health").status, 200);
}

TEST(MetricsServerTest, BindAddressesAreChecked) {
  EXPECT_EQ(CheckBindAddress("127.0.0.1"), "");
  EXPECT_EQ(CheckBindAddress("0.0.0.0"), "");
  EXPECT_EQ(CheckBindAddress("::"), "");
  EXPECT_EQ(CheckBindAddress("::1"), "");
  for (const char* bad : {"", "localhost", "300.1.1.1", "127.0.0.1:9464", "0.0.0.0 "}) {
    EXPECT_NE(CheckBindAddress(bad), "") << "'" << bad << "'";
  }
  std::string error;
  auto refused = MetricsServer::Start(
      "not-an-address", 0, [] { return std::string(); }, [] { return Health{}; }, &error);
  EXPECT_EQ(refused, nullptr);
  EXPECT_NE(error.find("not-an-address"), std::string::npos) << error;
}

}  // namespace
}  // namespace hokm::service
