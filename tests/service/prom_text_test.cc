// prom_text_test.cc: the Prometheus text both endpoints render: HELP and
// TYPE before each family, full-precision numbers, complete summaries,
// hokm_build_info, escaped label values.
#include "service/prom_text.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <limits>
#include <string>

#include "service/build_info.h"

namespace hokm::service {
namespace {

TEST(PromTextTest, EveryFamilyHasHelpThenTypeThenItsSamples) {
  PromText t;
  t.Counter("hokm_x_total", 3, "things done");
  t.Gauge("hokm_y_bytes", 7, "bytes held", "shard=\"0\"");
  t.Family("hokm_z_ratio", "gauge", "a share, with a \\ and\na newline");
  t.Sample("hokm_z_ratio", 0.5, "shard=\"1\"");
  EXPECT_EQ(t.Take(),
            "# HELP hokm_x_total things done\n"
            "# TYPE hokm_x_total counter\n"
            "hokm_x_total 3\n"
            "# HELP hokm_y_bytes bytes held\n"
            "# TYPE hokm_y_bytes gauge\n"
            "hokm_y_bytes{shard=\"0\"} 7\n"
            "# HELP hokm_z_ratio a share, with a \\\\ and\\na newline\n"
            "# TYPE hokm_z_ratio gauge\n"
            "hokm_z_ratio{shard=\"1\"} 0.5\n");
}

TEST(PromTextTest, NumbersKeepFullPrecision) {
  // %.6g printed these as 0.333333, 1.23457e+08 and 1.23457e+06.
  for (const double v : {1.0 / 3.0, 123456789.123, 1234567.5, 2.5e-7, 0.1, 6.02214076e23}) {
    const std::string text = PromText::Number(v);
    EXPECT_EQ(std::strtod(text.c_str(), nullptr), v) << text << " does not read back";
  }
  EXPECT_EQ(PromText::Number(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(PromText::Number(0.1), "0.1");
  // Integers in plain digits, up to 2^53 (counters are read by awk too).
  EXPECT_EQ(PromText::Number(0), "0");
  EXPECT_EQ(PromText::Number(42), "42");
  EXPECT_EQ(PromText::Number(1e15), "1000000000000000");
  EXPECT_EQ(PromText::Number(9007199254740991.0), "9007199254740991");
  EXPECT_EQ(PromText::Number(-3), "-3");
  EXPECT_EQ(PromText::Number(1e300), "1e+300");
  EXPECT_EQ(PromText::Number(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(PromText::Number(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(PromText::Number(-std::numeric_limits<double>::infinity()), "-Inf");
}

TEST(PromTextTest, ASummaryHasItsQuantilesSumAndCount) {
  PromText t;
  t.Family("hokm_lag_seconds", "summary", "lag");
  const PromText::Quantile q[] = {{"0.5", 0.001}, {"0.99", 0.25}};
  t.SummarySeries("hokm_lag_seconds", q, 12.5, 100, "sink=\"redis\"");
  t.SummarySeries("hokm_lag_seconds", q, 0, 0);
  EXPECT_EQ(t.Take(),
            "# HELP hokm_lag_seconds lag\n"
            "# TYPE hokm_lag_seconds summary\n"
            "hokm_lag_seconds{sink=\"redis\",quantile=\"0.5\"} 0.001\n"
            "hokm_lag_seconds{sink=\"redis\",quantile=\"0.99\"} 0.25\n"
            "hokm_lag_seconds_sum{sink=\"redis\"} 12.5\n"
            "hokm_lag_seconds_count{sink=\"redis\"} 100\n"
            "hokm_lag_seconds{quantile=\"0.5\"} 0.001\n"
            "hokm_lag_seconds{quantile=\"0.99\"} 0.25\n"
            "hokm_lag_seconds_sum 0\n"
            "hokm_lag_seconds_count 0\n");
}

TEST(PromTextTest, BuildInfoNamesTheVersionAndCommit) {
  PromText t;
  t.BuildInfo();
  const std::string text = t.Take();
  EXPECT_NE(text.find("# HELP hokm_build_info "), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE hokm_build_info gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("hokm_build_info{version=\"" + std::string(Version()) + "\",commit=\"" +
                      std::string(Commit()) + "\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_FALSE(Version().empty());
}

TEST(PromTextTest, LabelValuesAreEscaped) {
  EXPECT_EQ(PromText::LabelValue("plain-1.0"), "plain-1.0");
  EXPECT_EQ(PromText::LabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace hokm::service
