// url_test.cc: parsing of the Redis and PostgreSQL URLs, their typed errors,
// and that no password survives into Redacted() or an error message.
#include "sidecar/url.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>

namespace hokm::sidecar {
namespace {

using namespace std::string_view_literals;

TEST(RedisUrlTest, ParsesTheUrlTheServicesScriptPrints) {
  auto u = ParseRedisUrl("redis://127.0.0.1:6390/0");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 6390);
  EXPECT_EQ(u->db, 0);
  EXPECT_TRUE(u->password.empty());
  EXPECT_EQ(u->Redacted(), "redis://127.0.0.1:6390/0");
  EXPECT_EQ(u->HostPort(), "127.0.0.1:6390");
}

TEST(RedisUrlTest, DefaultsPortAndDatabase) {
  auto u = ParseRedisUrl("redis://cache.internal");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "cache.internal");
  EXPECT_EQ(u->port, 6379);
  EXPECT_EQ(u->db, 0);
  auto v = ParseRedisUrl("redis://h:1/");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->db, 0);
}

TEST(RedisUrlTest, ReadsPasswordUserAndDatabase) {
  auto u = ParseRedisUrl("redis://:s3cr%40t@10.0.0.5:7000/3");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->password, "s3cr@t");
  EXPECT_TRUE(u->username.empty());
  EXPECT_EQ(u->db, 3);
  EXPECT_EQ(u->Redacted(), "redis://:***@10.0.0.5:7000/3");

  auto acl = ParseRedisUrl("redis://sidecar:pw@h:1/0");
  ASSERT_TRUE(acl.ok());
  EXPECT_EQ(acl->username, "sidecar");
  EXPECT_EQ(acl->password, "pw");
  EXPECT_EQ(acl->Redacted(), "redis://sidecar:***@h:1/0");
}

TEST(RedisUrlTest, PasswordWithSlashAndAtStillParses) {
  auto u = ParseRedisUrl("redis://:a/b@c@127.0.0.1:6390/2");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->password, "a/b@c");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->db, 2);
}

TEST(RedisUrlTest, BracketedIpv6Host) {
  auto u = ParseRedisUrl("redis://[::1]:6390/0");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->HostPort(), "[::1]:6390");
}

struct BadUrl {
  std::string_view url;
  UrlError error;
};

class RedisUrlErrorTest : public ::testing::TestWithParam<BadUrl> {};

TEST_P(RedisUrlErrorTest, RefusesWithTypedErrorAndNoPasswordInTheMessage) {
  UrlError error = UrlError::kNone;
  auto u = ParseRedisUrl(GetParam().url, &error);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(error, GetParam().error) << UrlErrorName(error);
  EXPECT_EQ(u.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(u.status().message().find("hunter2"), std::string::npos) << u.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Errors, RedisUrlErrorTest,
    ::testing::Values(BadUrl{"", UrlError::kEmpty},
                      BadUrl{"http://:hunter2@h:1", UrlError::kBadScheme},
                      BadUrl{"rediss://:hunter2@h:1", UrlError::kBadScheme},
                      BadUrl{"redis://:hunter2@h:0/0", UrlError::kBadPort},
                      BadUrl{"redis://:hunter2@h:70000/0", UrlError::kBadPort},
                      BadUrl{"redis://:hunter2@h:63x9/0", UrlError::kBadPort},
                      BadUrl{"redis://:hunter2@h:/0", UrlError::kBadPort},
                      BadUrl{"redis://:hunter2@h:1/x", UrlError::kBadDatabase},
                      BadUrl{"redis://:hunter2@h:1/-1", UrlError::kBadDatabase},
                      BadUrl{"redis://:hunter2@:6390/0", UrlError::kMissingHost},
                      BadUrl{"redis://:hunter2%zz@h:1/0", UrlError::kBadPercentEncoding},
                      BadUrl{"redis://:hunter2@h%4:1/0", UrlError::kBadPercentEncoding},
                      BadUrl{"redis://:hunter2@[::1:1/0", UrlError::kBadHost},
                      BadUrl{"redis://:hunter2@ho st:1/0", UrlError::kBadHost},
                      // Found by fuzz_redis_url: an escape decoding to '@'
                      // made "cache.example.examp@0" the host.
                      BadUrl{"redis://cache.example.examp%400/", UrlError::kBadHost},
                      BadUrl{"redis://:hunter2@h%2Fx:1/0", UrlError::kBadHost},
                      BadUrl{"redis://:hunter2@h%3A1/0", UrlError::kBadHost},
                      BadUrl{"redis://:hunter2@h%25:1/0", UrlError::kBadHost},
                      BadUrl{"redis://:hunter2@[::1%2Fx]:1/0", UrlError::kBadHost},
                      // Found by fuzz_redis_url: "[%25.1]" was the IPv6 host "%.1".
                      BadUrl{"redis://us@[%25.1]:6379/15", UrlError::kBadHost},
                      BadUrl{"redis://:hunter2@[1.2]:1/0", UrlError::kBadHost},
                      BadUrl{"redis://:hunter2%00@h:1/0", UrlError::kNulByte},
                      BadUrl{"redis://:hunter2@h\0x:1/0"sv, UrlError::kNulByte}));

TEST(PgUrlTest, ParsesTheUrlTheServicesScriptPrints) {
  auto u = ParsePgUrl("postgresql://hokm:Zx9pass@127.0.0.1:5440/hokm");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->user, "hokm");
  EXPECT_EQ(u->password, "Zx9pass");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 5440);
  EXPECT_EQ(u->dbname, "hokm");
  EXPECT_EQ(u->Redacted(), "postgresql://hokm:***@127.0.0.1:5440/hokm");
  EXPECT_EQ(u->Redacted().find("Zx9pass"), std::string::npos);
}

TEST(PgUrlTest, AcceptsPostgresSchemeDefaultPortAndNoPassword) {
  auto u = ParsePgUrl("postgres://app@db.internal/games");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->port, 5432);
  EXPECT_TRUE(u->password.empty());
  EXPECT_EQ(u->Redacted(), "postgresql://app@db.internal:5432/games");
}

TEST(PgUrlTest, QueryParametersGoToLibpqAndPasswordsInThemAreRedacted) {
  auto u =
      ParsePgUrl("postgresql://u:p@h:1/d?sslmode=disable&password=hunter2&application_name=a%20b");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->params.at("sslmode"), "disable");
  EXPECT_EQ(u->params.at("application_name"), "a b");
  EXPECT_EQ(u->Redacted().find("hunter2"), std::string::npos);
}

TEST(PgUrlTest, ConnInfoQuotesEveryValue) {
  auto u = ParsePgUrl("postgresql://u:it%27s%5Cx@h:5440/d%20b");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->password, "it's\\x");
  EXPECT_EQ(u->ConnInfo(), "host='h' port='5440' dbname='d b' user='u' password='it\\'s\\\\x'");
}

// Found by fuzz_redis_url / fuzz_pg_url: Redacted() wrote user names,
// databases and parameters unescaped, so the logged URL named another user
// or database than the one in use (or did not parse at all).
TEST(RedisUrlTest, RedactedEscapesTheUserAndAnIpv6Zone) {
  auto u = ParseRedisUrl("redis://a%3Ab%2Fc:pw@[fe80::1%251]:7/2");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->username, "a:b/c");
  EXPECT_EQ(u->host, "fe80::1%1");
  EXPECT_EQ(u->Redacted(), "redis://a%3Ab%2Fc:***@[fe80::1%251]:7/2");
  auto again = ParseRedisUrl(u->Redacted());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->username, u->username);
  EXPECT_EQ(again->host, u->host);
}

TEST(PgUrlTest, RedactedEscapesUserDatabaseAndParameters) {
  auto u = ParsePgUrl("postgresql://u%40x:pw@h/d%3Fb?application_name=a%26b%3Dc&password=hunter2");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->Redacted(),
            "postgresql://u%40x:***@h:5432/d%3Fb?application_name=a%26b%3Dc&password=***");
  auto again = ParsePgUrl(u->Redacted());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->user, "u@x");
  EXPECT_EQ(again->dbname, "d?b");
  EXPECT_EQ(again->params, (std::map<std::string, std::string>{{"application_name", "a&b=c"},
                                                               {"password", "***"}}));
}

class PgUrlErrorTest : public ::testing::TestWithParam<BadUrl> {};

TEST_P(PgUrlErrorTest, RefusesWithTypedErrorAndNoPasswordInTheMessage) {
  UrlError error = UrlError::kNone;
  auto u = ParsePgUrl(GetParam().url, &error);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(error, GetParam().error) << UrlErrorName(error);
  EXPECT_EQ(u.status().message().find("hunter2"), std::string::npos) << u.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Errors, PgUrlErrorTest,
    ::testing::Values(
        BadUrl{"", UrlError::kEmpty}, BadUrl{"mysql://u:hunter2@h/d", UrlError::kBadScheme},
        BadUrl{"postgresql://h:5440/d", UrlError::kMissingUser},
        BadUrl{"postgresql://:hunter2@h:5440/d", UrlError::kMissingUser},
        BadUrl{"postgresql://u:hunter2@h:5440", UrlError::kMissingDatabase},
        BadUrl{"postgresql://u:hunter2@h:5440/", UrlError::kMissingDatabase},
        BadUrl{"postgresql://u:hunter2@h:5440?sslmode=x", UrlError::kMissingDatabase},
        BadUrl{"postgresql://u:hunter2@h:99999/d", UrlError::kBadPort},
        BadUrl{"postgresql://u:hunter2@/d", UrlError::kMissingHost},
        BadUrl{"postgresql://u:hunter2@h/d?=x", UrlError::kBadQuery},
        BadUrl{"postgresql://u:hunter2@h/d?sslmode", UrlError::kBadQuery},
        BadUrl{"postgresql://u:hunter2@h/d%g1", UrlError::kBadPercentEncoding},
        BadUrl{"postgresql://u:hunter2@h%40evil/d", UrlError::kBadHost},
        BadUrl{"postgresql://u%40x:hunter2@[%25]:5432/d", UrlError::kBadHost},
        // Found by fuzz_pg_url: the key "\r\ruser" was a param the
        // sink did not see as "user", but libpq read it as one.
        BadUrl{"postgresql://u:hunter2@h/d?%0D%0Duser=m", UrlError::kBadQuery},
        BadUrl{"postgresql://u:hunter2@h/d?sslmode%3D%27disable%27%20host=evil",
               UrlError::kBadQuery},
        // Found by fuzz_pg_url: a raw NUL in the database name
        // cut libpq's connection string short.
        BadUrl{"postgres://app@db.example.com/gamle&conn\0Et_tmmeout=5"sv, UrlError::kNulByte},
        BadUrl{"postgresql://u:hunter2@h/d?application_name=a%00b", UrlError::kNulByte}));

}  // namespace
}  // namespace hokm::sidecar
