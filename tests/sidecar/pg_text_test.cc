// pg_text_test.cc: the PostgreSQL text formats the sink writes.
#include "sidecar/pg/pg_text.h"

#include <gtest/gtest.h>

#include <ctime>

namespace hokm::sidecar {
namespace {

std::string Ts(std::uint64_t ns) {
  std::string s;
  AppendPgTimestamp(ns, s);
  return s;
}

TEST(PgTextTest, TimestampsAreUtcToTheMicrosecond) {
  EXPECT_EQ(Ts(0), "1970-01-01 00:00:00.000000+00");
  EXPECT_EQ(Ts(1'790'000'000'123'456'789ull), "2026-09-21 14:13:20.123456+00");
  EXPECT_EQ(Ts(951'782'400'000'000'000ull), "2000-02-29 00:00:00.000000+00");  // leap day
  EXPECT_EQ(Ts(18'446'744'073'709'551'615ull),
            "2554-07-21 23:34:33.709551+00");  // the largest ts_ns
}

TEST(PgTextTest, TimestampsAgreeWithGmtimeOverManyDays) {
  for (std::uint64_t s = 0; s < 4'000'000'000ull; s += 7'777'777) {
    const std::time_t t = static_cast<std::time_t>(s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char want[64];
    std::snprintf(want, sizeof want, "%04d-%02d-%02d %02d:%02d:%02d.000000+00", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    ASSERT_EQ(Ts(s * 1'000'000'000ull), want) << s;
  }
}

TEST(PgTextTest, QuotesDoubleSingleQuotes) {
  std::string s;
  AppendPgQuoted("it's a \\ test", s);
  EXPECT_EQ(s, "'it''s a \\ test'");
}

TEST(PgTextTest, ByteaIsHex) {
  const std::uint8_t b[] = {0x00, 0xAB, 0x7F};
  std::string s;
  AppendPgBytea(b, 3, s);
  EXPECT_EQ(s, "'\\x00ab7f'::bytea");
}

TEST(PgTextTest, CopyTextEscapesOnlyWhatCopySplitsOn) {
  std::string s = "x";
  AppendCopyText("{\"room\":\"a\\\"b\tc\nd\re\"}", s);
  EXPECT_EQ(s, "x{\"room\":\"a\\\\\"b\\tc\\nd\\re\"}");
  std::string plain;
  AppendCopyText("{\"seat\":2}", plain);
  EXPECT_EQ(plain, "{\"seat\":2}");
}

}  // namespace
}  // namespace hokm::sidecar
