// window_test.cc: the window of records read and not yet in both stores:
// batches end at a command's end, trimming commits whole ring records only.
#include "sidecar/window.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace hokm::sidecar {
namespace {

// One ring record (a command) of `records` change records on `shard`.
void AddCommand(std::vector<WindowEntry>& out, std::uint32_t shard, std::uint64_t position,
                int records, std::uint64_t ts_ns = 1) {
  for (int i = 0; i < records; ++i) {
    WindowEntry e{};
    e.ref.position = position;
    e.ts_ns = ts_ns + static_cast<std::uint64_t>(i);
    e.shard = shard;
    e.last_in_message = i == records - 1;
    out.push_back(e);
  }
}

TEST(WindowTest, TakeEndsAtACommandsEnd) {
  Window window;
  std::vector<WindowEntry> read;
  AddCommand(read, 0, 100, 3);
  AddCommand(read, 0, 200, 2);
  window.Append(read);
  EXPECT_TRUE(read.empty());
  EXPECT_EQ(window.End(), 5u);

  std::vector<WindowEntry> batch;
  EXPECT_EQ(window.Take(0, 4, batch), 3u);  // the second command does not fit
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch.back().ref.position, 100u);
  EXPECT_EQ(window.Take(3, 4, batch), 2u);
  EXPECT_EQ(batch.back().ref.position, 200u);
  EXPECT_EQ(window.Take(5, 4, batch), 0u);
  EXPECT_TRUE(batch.empty());
}

TEST(WindowTest, ACommandLargerThanABatchIsTakenWhole) {
  Window window;
  std::vector<WindowEntry> read;
  AddCommand(read, 0, 100, 3);
  window.Append(read);
  std::vector<WindowEntry> batch;
  EXPECT_EQ(window.Take(0, 2, batch), 3u);
}

TEST(WindowTest, TrimCommitsTheLastWholeRingRecordOfEachShard) {
  Window window;
  std::vector<WindowEntry> read;
  AddCommand(read, 0, 100, 2);
  AddCommand(read, 1, 50, 1);
  AddCommand(read, 0, 300, 2, 7);
  window.Append(read);

  std::vector<Window::ShardTrim> trim(2);
  window.Trim(4, trim);  // the last command's first record only
  EXPECT_EQ(trim[0].commit, 100u);
  EXPECT_EQ(trim[1].commit, 50u);
  EXPECT_EQ(trim[0].whole, 2u);  // the first command's two records
  EXPECT_EQ(trim[0].partial, 1u);
  EXPECT_EQ(trim[1].whole, 1u);
  EXPECT_EQ(window.End(), 5u);
  EXPECT_EQ(window.TsAt(4), 8u);
  EXPECT_EQ(window.TsAt(3), 0u);  // trimmed

  std::vector<WindowEntry> batch;
  EXPECT_EQ(window.Take(0, 10, batch), 1u);  // from the first index still held
  window.Trim(5, trim);
  EXPECT_EQ(trim[0].commit, 300u);
  EXPECT_EQ(trim[0].whole, 4u);  // the last command counted once it is whole
  EXPECT_EQ(trim[0].partial, 0u);
}

TEST(WindowTest, TrimDoesNotCountRingRecordsAtOrBelowCountAbove) {
  // A restarted sidecar reads again what the last one delivered but had
  // not committed in the ring: those records are counted already.
  Window window;
  std::vector<WindowEntry> read;
  AddCommand(read, 0, 100, 2);
  AddCommand(read, 0, 300, 3);
  window.Append(read);
  std::vector<Window::ShardTrim> trim(1);
  trim[0].count_above = 100;
  window.Trim(5, trim);
  EXPECT_EQ(trim[0].commit, 300u);
  EXPECT_EQ(trim[0].whole, 3u);
}

TEST(WindowTest, WaitForReturnsWhenTheIndexArrives) {
  Window window;
  std::thread reader([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::vector<WindowEntry> read;
    AddCommand(read, 0, 100, 1);
    window.Append(read);
  });
  const auto start = Window::Clock::now();
  window.WaitFor(0, start + std::chrono::seconds(30));
  EXPECT_EQ(window.End(), 1u);
  EXPECT_LT(Window::Clock::now() - start, std::chrono::seconds(30));
  reader.join();
}

TEST(WindowTest, WakeAllEndsAWait) {
  Window window;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    window.WakeAll();
  });
  const auto start = Window::Clock::now();
  window.WaitFor(0, start + std::chrono::seconds(30));
  EXPECT_LT(Window::Clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(window.End(), 0u);
  stopper.join();
}

}  // namespace
}  // namespace hokm::sidecar
