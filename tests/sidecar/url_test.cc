// url_test.cc: parsing of the Redis and PostgreSQL URLs, their typed errors,
// and that no password survives into Redacted() or an error message.
#include "sidecar/url.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
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

// Found by fuzz_redis_url: Redacted() wrote user names unescaped, so the
// logged URL named another user than the one in use (or did not parse).
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

TEST(PgUrlTest, ParsesTheUrlTheServicesScriptPrints) {
  auto u = ParsePgUrl("postgresql://hokm:Zx9pass@127.0.0.1:5440/hokm");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->user(), "hokm");
  EXPECT_EQ(u->password(), "Zx9pass");
  EXPECT_EQ(u->host(), "127.0.0.1");
  EXPECT_EQ(u->Get("port"), "5440");
  EXPECT_EQ(u->dbname(), "hokm");
  EXPECT_EQ(u->HostPort(), "127.0.0.1:5440");
  EXPECT_EQ(u->Redacted(), "postgresql://hokm:***@127.0.0.1:5440/hokm");
}

struct GoodPgUrl {
  std::string_view url;
  std::map<std::string, std::string> params;  // what libpq reads
  std::string_view redacted;
};

class PgUrlAcceptsTest : public ::testing::TestWithParam<GoodPgUrl> {};

// What the hand parser refused and libpq accepts: Unix-socket hosts,
// several hosts, parameters, no user or database, key=value strings.
TEST_P(PgUrlAcceptsTest, TakesWhatLibpqTakesAndRedactsOnlyThePassword) {
  auto u = ParsePgUrl(GetParam().url);
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->params, GetParam().params);
  EXPECT_EQ(u->Redacted(), GetParam().redacted);
  auto again = ParsePgUrl(u->Redacted());
  ASSERT_TRUE(again.ok()) << again.status().message();
  std::map<std::string, std::string> expected = GetParam().params;
  if (expected.count("password") != 0) expected["password"] = "***";
  EXPECT_EQ(again->params, expected);
}

INSTANTIATE_TEST_SUITE_P(
    Urls, PgUrlAcceptsTest,
    ::testing::Values(
        GoodPgUrl{"postgres://app@db.internal/games",
                  {{"user", "app"}, {"host", "db.internal"}, {"dbname", "games"}},
                  "postgresql://app@db.internal/games"},
        GoodPgUrl{
            "postgresql://db.internal", {{"host", "db.internal"}}, "postgresql://db.internal/"},
        GoodPgUrl{"postgresql://", {}, "postgresql:///"},
        GoodPgUrl{"postgresql://u@%2Frun%2Fpostgresql/d",
                  {{"user", "u"}, {"host", "/run/postgresql"}, {"dbname", "d"}},
                  "postgresql://u@/d?host=%2Frun%2Fpostgresql"},
        GoodPgUrl{"postgresql:///d?host=/tmp&port=5440",
                  {{"host", "/tmp"}, {"port", "5440"}, {"dbname", "d"}},
                  "postgresql:///d?host=%2Ftmp&port=5440"},
        GoodPgUrl{"postgresql://u:hunter2@a:5432,b:5433/d?target_session_attrs=read-write",
                  {{"user", "u"},
                   {"password", "hunter2"},
                   {"host", "a,b"},
                   {"port", "5432,5433"},
                   {"dbname", "d"},
                   {"target_session_attrs", "read-write"}},
                  "postgresql://u:***@/d?host=a%2Cb&port=5432%2C5433&target_session_attrs=read-"
                  "write"},
        GoodPgUrl{"postgresql://u:hunter2@[::1]:5432/d?sslmode=require",
                  {{"user", "u"},
                   {"password", "hunter2"},
                   {"host", "::1"},
                   {"port", "5432"},
                   {"dbname", "d"},
                   {"sslmode", "require"}},
                  "postgresql://u:***@[::1]:5432/d?sslmode=require"},
        GoodPgUrl{"host=/tmp port=5440 user=hokm password='a b\\'hunter2' dbname=hokm",
                  {{"host", "/tmp"},
                   {"port", "5440"},
                   {"user", "hokm"},
                   {"password", "a b'hunter2"},
                   {"dbname", "hokm"}},
                  "postgresql://hokm:***@/hokm?host=%2Ftmp&port=5440"},
        GoodPgUrl{"host=h password=hunter2",
                  {{"host", "h"}, {"password", "hunter2"}},
                  "postgresql://h/?password=***"},
        // A password in the query wins over the one before '@' (libpq
        // reads the query last); either way the redacted form hides it.
        GoodPgUrl{"postgresql://u%40x:pw@h/d%3Fb?application_name=a%26b%3Dc&password=hunter2",
                  {{"user", "u@x"},
                   {"password", "hunter2"},
                   {"host", "h"},
                   {"dbname", "d?b"},
                   {"application_name", "a&b=c"}},
                  "postgresql://u%40x:***@h/d%3Fb?application_name=a%26b%3Dc"}));

TEST(PgUrlTest, ConnInfoQuotesEveryValue) {
  auto u = ParsePgUrl("postgresql://u:it%27s%5Cx@h:5440/d%20b");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->password(), "it's\\x");
  EXPECT_EQ(u->ConnInfo(), "dbname='d b' host='h' password='it\\'s\\\\x' port='5440' user='u'");
}

TEST(PgUrlTest, DefaultsAddedByABinaryGoIntoTheConnectionStringButDoNotOverride) {
  auto u = ParsePgUrl("postgresql://u@h/d?connect_timeout=9");
  ASSERT_TRUE(u.ok()) << u.status().message();
  u->params.try_emplace("connect_timeout", "5");
  u->params.try_emplace("application_name", "hokm");
  EXPECT_EQ(u->ConnInfo(),
            "application_name='hokm' connect_timeout='9' dbname='d' host='h' user='u'");
}

TEST(PgUrlTest, AnUnknownKeywordNamesTheKnownOneItIsATypoOf) {
  UrlError error = UrlError::kNone;
  auto u = ParsePgUrl("postgresql://u:hunter2@h/d?sslmod=disable", &error);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(error, UrlError::kUnknownOption);
  EXPECT_NE(u.status().message().find("did you mean sslmode?"), std::string::npos)
      << u.status().message();
}

class PgUrlErrorTest : public ::testing::TestWithParam<BadUrl> {};

// libpq's own messages quote the string, password and all: ours never do.
TEST_P(PgUrlErrorTest, RefusesWithTypedErrorAndNoPasswordInTheMessage) {
  UrlError error = UrlError::kNone;
  auto u = ParsePgUrl(GetParam().url, &error);
  ASSERT_FALSE(u.ok());
  EXPECT_EQ(error, GetParam().error) << UrlErrorName(error) << ": " << u.status().message();
  EXPECT_EQ(u.status().message().find("hunter2"), std::string::npos) << u.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Errors, PgUrlErrorTest,
    ::testing::Values(BadUrl{"", UrlError::kEmpty},
                      BadUrl{"mysql://u:hunter2@h/d", UrlError::kBadScheme},
                      BadUrl{"postgresql://u:hunter2@h:99999/d", UrlError::kBadPort},
                      BadUrl{"postgresql://u:hunter2@h:54x/d", UrlError::kBadPort},
                      BadUrl{"host=h port=0 password=hunter2", UrlError::kBadPort},
                      BadUrl{"postgresql://u:hunter2@h/d?sslmod=disable", UrlError::kUnknownOption},
                      BadUrl{"host=h passwrd=hunter2", UrlError::kUnknownOption},
                      BadUrl{"postgresql://u:hunter2@h/d?sslmode", UrlError::kBadQuery},
                      BadUrl{"postgresql://u:hunter2@h/d?sslmode=a=b", UrlError::kBadQuery},
                      BadUrl{"postgresql://u:hunter2%zz@h/d", UrlError::kBadPercentEncoding},
                      BadUrl{"postgresql://u:hunter2@h/d%g1", UrlError::kBadPercentEncoding},
                      BadUrl{"postgresql://u:hunter2@[::1/d", UrlError::kBadHost},
                      BadUrl{"postgresql://u:hunter2@[::1]x/d", UrlError::kBadSyntax},
                      BadUrl{"host=h password='hunter2", UrlError::kBadSyntax},
                      BadUrl{"host=h password= hunter2 x", UrlError::kBadSyntax},
                      BadUrl{"postgresql://u:hunter2@h/d?application_name=a%00b",
                             UrlError::kNulByte},
                      BadUrl{"postgres://app:hunter2@h/d\0x"sv, UrlError::kNulByte}));

// Restores an environment variable when the test ends.
class ScopedEnv {
 public:
  explicit ScopedEnv(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) saved_ = v;
  }
  ~ScopedEnv() {
    if (saved_) {
      ::setenv(name_, saved_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  void Set(const char* value) { ::setenv(name_, value, 1); }
  void Unset() { ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

TEST(UrlFromEnvTest, HokmNamesFirstThenTheConventionalOnes) {
  ScopedEnv hokm_pg("HOKM_PG_URL");
  ScopedEnv database("DATABASE_URL");
  ScopedEnv hokm_redis("HOKM_REDIS_URL");
  ScopedEnv redis("REDIS_URL");
  hokm_pg.Unset();
  hokm_redis.Unset();
  database.Unset();
  redis.Unset();
  EXPECT_EQ(PgUrlFromEnv(), "");
  EXPECT_EQ(RedisUrlFromEnv(), "");
  database.Set("postgresql://from-database-url/d");
  redis.Set("redis://from-redis-url:6379/0");
  EXPECT_EQ(PgUrlFromEnv(), "postgresql://from-database-url/d");
  EXPECT_EQ(RedisUrlFromEnv(), "redis://from-redis-url:6379/0");
  hokm_pg.Set("");  // set but empty: as if unset
  EXPECT_EQ(PgUrlFromEnv(), "postgresql://from-database-url/d");
  hokm_pg.Set("host=hokm");
  hokm_redis.Set("redis://hokm:6390/0");
  EXPECT_EQ(PgUrlFromEnv(), "host=hokm");
  EXPECT_EQ(RedisUrlFromEnv(), "redis://hokm:6390/0");
}

TEST(RedisUrlTest, ASeedListIsACluster) {
  UrlError error = UrlError::kBadHost;
  auto url = ParseRedisUrl("redis://:pw@127.0.0.1:7000,127.0.0.1:7001,[::1]:7002", &error);
  ASSERT_TRUE(url.ok()) << url.status().message();
  EXPECT_EQ(error, UrlError::kNone);
  EXPECT_TRUE(url->cluster);
  EXPECT_EQ(url->HostPort(), "127.0.0.1:7000");
  EXPECT_EQ(url->password, "pw");
  ASSERT_EQ(url->more_seeds.size(), 2u);
  EXPECT_EQ(url->more_seeds[0].host, "127.0.0.1");
  EXPECT_EQ(url->more_seeds[0].port, 7001);
  EXPECT_EQ(url->more_seeds[1].host, "::1");
  EXPECT_EQ(url->more_seeds[1].port, 7002);
  EXPECT_EQ(url->Redacted(), "redis://:***@127.0.0.1:7000,127.0.0.1:7001,[::1]:7002/0");
  auto one = ParseRedisUrl("redis://127.0.0.1:6390");
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one->cluster);
  EXPECT_TRUE(one->more_seeds.empty());
}

TEST(RedisUrlTest, ASeedListRefusesADatabaseAndBadSeeds) {
  UrlError error = UrlError::kNone;
  EXPECT_FALSE(ParseRedisUrl("redis://a:1,b:2/3", &error).ok());
  EXPECT_EQ(error, UrlError::kBadDatabase);
  // User info ends at the last '@': what is before it is the password.
  auto pw = ParseRedisUrl("redis://u:p,q@b:2");
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(pw->password, "p,q");
  EXPECT_FALSE(pw->cluster);
  EXPECT_FALSE(ParseRedisUrl("redis://a:1,:2", &error).ok());
  EXPECT_EQ(error, UrlError::kMissingHost);
  EXPECT_FALSE(ParseRedisUrl("redis://a:1,b:99999", &error).ok());
  EXPECT_EQ(error, UrlError::kBadPort);
}

}  // namespace
}  // namespace hokm::sidecar
