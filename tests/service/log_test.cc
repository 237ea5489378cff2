// log_test.cc: the log module (service/log.h): the text and json line
// shapes, the level filter, and the repeat windows counted on a clock the
// test moves.
#include "service/log.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace hokm::service {
namespace {

using Clock = std::chrono::steady_clock;

class LogTest : public ::testing::Test {
 protected:
  void Init(LogFormat format, LogLevel level = LogLevel::kInfo) {
    LogOptions o;
    o.binary = "hokm-test";
    o.format = format;
    o.level = level;
    o.out = &out_;
    o.now = [this] { return now_; };
    InitLog(o);
  }
  // Back to stderr: nothing pending may be written to out_ after the test.
  void TearDown() override { InitLog(LogOptions{}); }

  std::vector<std::string> Lines() {
    std::vector<std::string> lines;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  std::ostringstream out_;
  Clock::time_point now_ = Clock::now();
};

TEST_F(LogTest, TextLineHasUtcTimestampLevelAndBinary) {
  Init(LogFormat::kText);
  LogInfo("serving (pid 42)");
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      lines[0],
      std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info hokm-test: serving \(pid 42\))")))
      << lines[0];
}

TEST_F(LogTest, JsonLineIsOneObjectWithEscapedMessage) {
  Init(LogFormat::kJson);
  LogError("a \"quoted\" \\ path\nsecond line");
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_match(
      lines[0],
      std::regex(
          R"(\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","level":"error","logger":"hokm-test",)"
          R"("msg":"a \\"quoted\\" \\\\ path\\nsecond line"\})")))
      << lines[0];
}

TEST_F(LogTest, LevelBelowTheThresholdIsNotWritten) {
  Init(LogFormat::kText, LogLevel::kWarn);
  LogInfo("chatty");
  LogWarn("worth knowing");
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(" warning hokm-test: worth knowing"), std::string::npos) << lines[0];
}

TEST_F(LogTest, RepeatedErrorIsCountedThenSummarisedAfterTheWindow) {
  Init(LogFormat::kText);
  for (int i = 0; i < 1235; ++i) LogError("redis: connection refused");
  LogError("postgres: timeout");  // another message is not held back
  ASSERT_EQ(Lines().size(), 2u);

  now_ += std::chrono::seconds(10);
  LogInfo("tick");  // any line ends the windows that have passed
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[2].find("error hokm-test: redis: connection refused (repeated 1234 times in the "
                          "last 10 s)"),
            std::string::npos)
      << lines[2];
  EXPECT_NE(lines[3].find("tick"), std::string::npos);

  // Still repeating: counted in the next window.
  LogError("redis: connection refused");
  EXPECT_EQ(Lines().size(), 4u);
  now_ += std::chrono::seconds(10);
  LogInfo("tock");
  lines = Lines();
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_NE(lines[4].find("redis: connection refused (repeated 1 time in the last 10 s)"),
            std::string::npos)
      << lines[4];

  // A window with no repeat forgets the message: it is written again.
  now_ += std::chrono::seconds(10);
  LogError("redis: connection refused");
  lines = Lines();
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[6].find("repeated"), std::string::npos) << lines[6];
}

TEST_F(LogTest, FlushWritesTheCountsPendingAtExit) {
  Init(LogFormat::kJson);
  for (int i = 0; i < 3; ++i) LogWarn("spill dir nearly full");
  ASSERT_EQ(Lines().size(), 1u);
  FlushLogRepeats();
  const auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find(R"("level":"warning")"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("spill dir nearly full (repeated 2 times in the last 10 s)"),
            std::string::npos)
      << lines[1];
}

TEST_F(LogTest, IdenticalInfoLinesAreAllWritten) {
  Init(LogFormat::kText);
  LogInfo("batch written");
  LogInfo("batch written");
  EXPECT_EQ(Lines().size(), 2u);
}

TEST(LogNames, ParseAcceptsTheFlagValuesOnly) {
  LogFormat f{};
  LogLevel l{};
  EXPECT_TRUE(ParseLogFormat("json", &f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("yaml", &f));
  EXPECT_TRUE(ParseLogLevel("warn", &l));
  EXPECT_EQ(l, LogLevel::kWarn);
  EXPECT_FALSE(ParseLogLevel("verbose", &l));
  EXPECT_EQ(Printf("%s=%d", "n", 7), "n=7");
}

}  // namespace
}  // namespace hokm::service
