// spill_queue_test.cc: the spill backlog keeps order, survives reopen, and
// drops a torn tail instead of replaying garbage.
#include "sidecar/spill_queue.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace hokm::sidecar {
namespace {

namespace fs = std::filesystem;

class SpillQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hokm-spill-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Payload(int i) { return "record-" + std::to_string(i); }

  static void AppendRange(SpillQueue& q, int from, int to) {
    for (int i = from; i < to; ++i) {
      const std::string p = Payload(i);
      q.Append(reinterpret_cast<const std::uint8_t*>(p.data()),
               static_cast<std::uint32_t>(p.size()), static_cast<std::uint64_t>(i) * 8);
    }
  }

  // Peeks and pops everything, returning the payloads in order.
  static std::vector<std::string> Drain(SpillQueue& q, std::size_t batch) {
    std::vector<std::string> seen;
    std::vector<SpilledRecord> out;
    for (int guard = 0; guard < 100000 && !q.empty(); ++guard) {
      EXPECT_TRUE(q.Peek(batch, out).ok());
      for (const auto& r : out) seen.emplace_back(reinterpret_cast<const char*>(r.data), r.size);
      EXPECT_TRUE(q.Pop(out.size()).ok());
    }
    return seen;
  }

  fs::path dir_;
};

TEST_F(SpillQueueTest, ReplaysRecordsInAppendOrder) {
  auto q = SpillQueue::Open(dir_);
  ASSERT_TRUE(q.ok()) << q.status().message();
  AppendRange(**q, 0, 1000);
  ASSERT_TRUE((*q)->Sync().ok());
  EXPECT_EQ((*q)->pending_records(), 1000u);
  EXPECT_GT((*q)->bytes(), 0u);
  const auto seen = Drain(**q, 64);
  ASSERT_EQ(seen.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[i], Payload(i));
  EXPECT_TRUE((*q)->empty());
  EXPECT_EQ((*q)->bytes(), 0u);
}

TEST_F(SpillQueueTest, PeekCarriesTheRingPosition) {
  auto q = SpillQueue::Open(dir_);
  ASSERT_TRUE(q.ok());
  AppendRange(**q, 5, 7);
  std::vector<SpilledRecord> out;
  ASSERT_TRUE((*q)->Peek(10, out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].position, 40u);
  EXPECT_EQ(out[1].position, 48u);
}

TEST_F(SpillQueueTest, ReopenResumesAfterWhatWasPopped) {
  {
    auto q = SpillQueue::Open(dir_);
    ASSERT_TRUE(q.ok());
    AppendRange(**q, 0, 100);
    ASSERT_TRUE((*q)->Sync().ok());
    std::vector<SpilledRecord> out;
    ASSERT_TRUE((*q)->Peek(30, out).ok());
    ASSERT_TRUE((*q)->Pop(30).ok());
  }
  auto q = SpillQueue::Open(dir_);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)->pending_records(), 70u);
  const auto seen = Drain(**q, 16);
  ASSERT_EQ(seen.size(), 70u);
  EXPECT_EQ(seen.front(), Payload(30));
  EXPECT_EQ(seen.back(), Payload(99));
}

TEST_F(SpillQueueTest, TornTailIsCutOnReopen) {
  {
    auto q = SpillQueue::Open(dir_);
    ASSERT_TRUE(q.ok());
    AppendRange(**q, 0, 10);
    ASSERT_TRUE((*q)->Sync().ok());
  }
  // A crash mid-write leaves half a frame behind.
  fs::path segment;
  for (const auto& e : fs::directory_iterator(dir_)) {
    if (e.path().extension() == ".log") segment = e.path();
  }
  ASSERT_FALSE(segment.empty());
  const auto good_size = fs::file_size(segment);
  {
    std::ofstream f(segment, std::ios::app | std::ios::binary);
    const char garbage[11] = {42, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7};
    f.write(garbage, sizeof garbage);
  }
  auto q = SpillQueue::Open(dir_);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(fs::file_size(segment), good_size);
  EXPECT_EQ((*q)->pending_records(), 10u);
  AppendRange(**q, 10, 12);
  const auto seen = Drain(**q, 100);
  ASSERT_EQ(seen.size(), 12u);
  EXPECT_EQ(seen.back(), Payload(11));
}

// Found by fuzz_spill_segment: the cursor "8-2" (segment 8, offset read as
// 2^64 - 2) over two empty segments made Open throw std::filesystem_error
// from resize_file, which would end the sidecar at every start. A cursor
// past the end of its segment means that segment was replayed.
TEST_F(SpillQueueTest, ACursorPastTheEndOfItsSegmentOpensAndKeepsWorking) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "spill-00000007.log").flush();
  std::ofstream(dir_ / "spill-00000008.log").flush();
  std::ofstream(dir_ / "cursor") << "8-2";
  auto q = SpillQueue::Open(dir_);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ((*q)->pending_records(), 0u);
  AppendRange(**q, 0, 3);
  ASSERT_TRUE((*q)->Sync().ok());
  EXPECT_EQ(Drain(**q, 2), (std::vector<std::string>{Payload(0), Payload(1), Payload(2)}));
}

TEST_F(SpillQueueTest, CorruptedFrameIsNeverReplayed) {
  {
    auto q = SpillQueue::Open(dir_);
    ASSERT_TRUE(q.ok());
    AppendRange(**q, 0, 3);
    ASSERT_TRUE((*q)->Sync().ok());
  }
  fs::path segment;
  for (const auto& e : fs::directory_iterator(dir_)) {
    if (e.path().extension() == ".log") segment = e.path();
  }
  // Flip one payload byte of the last frame: its crc no longer matches.
  std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(-1, std::ios::end);
  f.put('X');
  f.close();
  auto q = SpillQueue::Open(dir_);
  ASSERT_TRUE(q.ok());
  const auto seen = Drain(**q, 100);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], Payload(1));
}

TEST_F(SpillQueueTest, SegmentsRotateAndAreDeletedOnceReplayed) {
  auto q = SpillQueue::Open(dir_, /*segment_bytes=*/256);
  ASSERT_TRUE(q.ok());
  for (int i = 0; i < 50; ++i) {
    AppendRange(**q, i, i + 1);
    ASSERT_TRUE((*q)->Sync().ok());
  }
  int segments = 0;
  for (const auto& e : fs::directory_iterator(dir_)) segments += e.path().extension() == ".log";
  EXPECT_GT(segments, 3);
  const auto seen = Drain(**q, 7);
  ASSERT_EQ(seen.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[i], Payload(i));
  segments = 0;
  for (const auto& e : fs::directory_iterator(dir_)) segments += e.path().extension() == ".log";
  EXPECT_EQ(segments, 1);
}

}  // namespace
}  // namespace hokm::sidecar
