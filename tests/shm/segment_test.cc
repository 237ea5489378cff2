// segment_test.cc: creating, attaching, re-attaching and refusing segments,
// with the messages a user sees.
#include "shm/segment.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "tests/shm/test_util.h"

namespace hokm::shm {
namespace {

using testing::ForkChild;
using testing::ScopedSegmentName;
using testing::UniqueName;
using testing::WaitChild;
using namespace std::chrono_literals;

SegmentOptions SmallOptions(const std::string& name) {
  SegmentOptions o;
  o.name = name;
  o.table_capacity = 1000;
  o.shards = 2;
  o.command_ring_bytes = 1 << 12;
  o.change_ring_bytes = 1 << 14;
  o.client_slots = 4;
  o.response_ring_bytes = 1 << 12;
  return o;
}

TEST(SegmentTest, CreateThenAttachSeesTheSameLayoutAndData) {
  ScopedSegmentName name(UniqueName("seg"));
  auto created = Segment::Create(SmallOptions(name.name()));
  ASSERT_TRUE(created.ok()) << created.status().message();
  const SegmentHeader& h = created->header();
  EXPECT_EQ(h.magic, kSegmentMagic);
  EXPECT_EQ(h.layout_version, kLayoutVersion);
  EXPECT_EQ(h.total_bytes, created->size());
  EXPECT_EQ(h.table_capacity, 1000u);
  EXPECT_EQ(h.shard_count, 2u);
  EXPECT_EQ(h.table.offset % kRegionAlignment, 0u);
  EXPECT_EQ(h.command_rings.offset % kRegionAlignment, 0u);
  EXPECT_EQ(h.change_rings.offset % kRegionAlignment, 0u);
  EXPECT_EQ(h.clients.offset % 128, 0u);
  EXPECT_EQ(created->change_ring(1).Capacity(), 1u << 14);
  EXPECT_EQ(created->change_ring(1).trailer()->capacity, 1u << 14);

  struct stat st;
  ASSERT_EQ(::stat(("/dev/shm/" + name.name()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto game = created->table().Allocate(1);
  ASSERT_TRUE(game.has_value());
  ASSERT_EQ(created->change_ring(1).TryWrite(5, "12345678", 8), WriteResult::kOk);

  auto attached = Segment::Attach(name.name());
  ASSERT_TRUE(attached.ok()) << attached.status().message();
  EXPECT_NE(attached->base(), created->base());
  EXPECT_EQ(attached->table().Find(game->game_id), static_cast<std::int64_t>(game->slot));
  EXPECT_EQ(attached->change_ring(1).Lag(), 16u);
  EXPECT_EQ(attached->command_ring(0).Lag(), 0u);
}

// The segment file's mode is SegmentOptions::mode exactly, whatever the
// umask (Boost.Interprocess fchmods after shm_open), owned by the creating
// process's effective user and group (shm/README.md, "Access").
TEST(SegmentTest, FileModeIsTheOptionsModeWhateverTheUmaskAndOwnerIsTheCreator) {
  for (const std::uint32_t mode : {0600u, 0640u, 0660u}) {
    ScopedSegmentName name(UniqueName("mode"));
    SegmentOptions o = SmallOptions(name.name());
    o.mode = mode;
    const mode_t old_umask = ::umask(077);  // would take 0660 down to 0600
    auto created = Segment::Create(o);
    ::umask(old_umask);
    ASSERT_TRUE(created.ok()) << created.status().message();
    struct stat st;
    ASSERT_EQ(::stat(("/dev/shm/" + name.name()).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, mode) << std::oct << mode;
    EXPECT_EQ(st.st_uid, ::geteuid());
    EXPECT_EQ(st.st_gid, ::getegid());
  }
  EXPECT_EQ(SegmentOptions{}.mode, 0600u);  // the default: the engine's user only
}

TEST(SegmentTest, CreateRefusesAnExistingSegmentUnlessAskedToReuse) {
  ScopedSegmentName name(UniqueName("seg"));
  auto first = Segment::Create(SmallOptions(name.name()));
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto second = Segment::Create(SmallOptions(name.name()));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kAlreadyExists);
  EXPECT_NE(second.status().message().find("already exists"), std::string::npos);
  SegmentOptions reuse = SmallOptions(name.name());
  reuse.reuse_existing = true;
  auto third = Segment::Create(reuse);
  EXPECT_TRUE(third.ok()) << third.status().message();
}

TEST(SegmentTest, OpenOrCreateReattachesAndKeepsGames) {
  ScopedSegmentName name(UniqueName("seg"));
  std::uint64_t id = 0;
  {
    auto engine = Segment::OpenOrCreate(SmallOptions(name.name()));
    ASSERT_TRUE(engine.ok()) << engine.status().message();
    auto game = engine->table().Allocate(0);
    ASSERT_TRUE(game.has_value());
    id = game->game_id;
  }  // the engine goes away; the segment stays
  auto restarted = Segment::OpenOrCreate(SmallOptions(name.name()));
  ASSERT_TRUE(restarted.ok()) << restarted.status().message();
  EXPECT_GE(restarted->table().Find(id), 0);
  auto next = restarted->table().Allocate(0);
  ASSERT_TRUE(next.has_value());
  EXPECT_GT(next->game_id, id);  // ids keep growing across restarts
}

TEST(SegmentTest, OpenOrCreateRefusesAnotherLayout) {
  ScopedSegmentName name(UniqueName("seg"));
  ASSERT_TRUE(Segment::Create(SmallOptions(name.name())).ok());
  SegmentOptions bigger = SmallOptions(name.name());
  bigger.table_capacity = 2000;
  auto r = Segment::OpenOrCreate(bigger);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("capacity 1000"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("capacity 2000"), std::string::npos) << r.status().message();
}

TEST(SegmentTest, TheNodeIdIsInTheHeaderInEveryGameIdAndFixedAtCreation) {
  ScopedSegmentName name(UniqueName("seg"));
  SegmentOptions o = SmallOptions(name.name());
  o.node_id = 5;
  auto created = Segment::Create(o);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_EQ(created->node_id(), 5u);
  auto attached = Segment::Attach(name.name());
  ASSERT_TRUE(attached.ok()) << attached.status().message();
  EXPECT_EQ(attached->header().node_id, 5u);
  auto game = attached->table().Allocate(0);
  ASSERT_TRUE(game.has_value());
  EXPECT_EQ(NodeOf(game->game_id), 5u);
  // An engine restarted with another node id is refused, naming both.
  o.node_id = 6;
  auto other = Segment::OpenOrCreate(o);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(other.status().message().find("node 5"), std::string::npos) << other.status().message();
  EXPECT_NE(other.status().message().find("node 6"), std::string::npos) << other.status().message();
}

TEST(SegmentTest, ANodeIdBeyondTheIdBitsIsRefused) {
  SegmentOptions o = SmallOptions(UniqueName("seg"));
  o.node_id = kMaxNodeId + 1;
  auto plan = PlanLayout(o);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("node id 64 is invalid: use 0..63"), std::string::npos)
      << plan.status().message();
}

TEST(SegmentTest, AttachToAnotherLayoutVersionNamesBothVersions) {
  ScopedSegmentName name(UniqueName("seg"));
  auto created = Segment::Create(SmallOptions(name.name()));
  ASSERT_TRUE(created.ok());
  reinterpret_cast<SegmentHeader*>(created->base())->layout_version = kLayoutVersion + 41;
  auto r = Segment::Attach(name.name());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kVersionMismatch);
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("layout version " + std::to_string(kLayoutVersion + 41)), std::string::npos)
      << m;
  EXPECT_NE(m.find("layout version " + std::to_string(kLayoutVersion)), std::string::npos) << m;
  auto reopened = Segment::OpenOrCreate(SmallOptions(name.name()));
  EXPECT_EQ(reopened.status().code(), Status::Code::kVersionMismatch);
}

TEST(SegmentTest, AttachToAMissingSegmentSaysHowToCreateIt) {
  const std::string name = UniqueName("missing");
  auto r = Segment::Attach(name);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_NE(r.status().message().find("start hokm-engine --shm-name " + name), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("HOKM_SHM_NAME"), std::string::npos);
}

TEST(SegmentTest, AttachRefusesForeignBytes) {
  ScopedSegmentName name(UniqueName("seg"));
  auto created = Segment::Create(SmallOptions(name.name()));
  ASSERT_TRUE(created.ok());
  reinterpret_cast<SegmentHeader*>(created->base())->magic ^= 0xFF;
  auto r = Segment::Attach(name.name());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  reinterpret_cast<SegmentHeader*>(created->base())->magic = kSegmentMagic;
  reinterpret_cast<SegmentHeader*>(created->base())->change_rings.offset += 4096;
  r = Segment::Attach(name.name());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  reinterpret_cast<SegmentHeader*>(created->base())->change_rings.offset -= 4096;
  ASSERT_TRUE(Segment::Attach(name.name()).ok());
  created->response_ring(2).trailer()->capacity = 7;  // a scribbled trailer
  r = Segment::Attach(name.name());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().message().find("does not match its header"), std::string::npos);
}

TEST(SegmentTest, AnEmptyOrAllZeroFileIsStillBeingCreatedOnlyWhileItIsNew) {
  for (const off_t size : {off_t{0}, off_t{1 << 20}}) {
    ScopedSegmentName name(UniqueName("zero"));
    const std::string path = "/dev/shm/" + name.name();
    {
      std::FILE* f = std::fopen(path.c_str(), "w");
      ASSERT_NE(f, nullptr);
      std::fclose(f);
      ASSERT_EQ(::truncate(path.c_str(), size), 0);
    }
    auto fresh = Segment::Attach(name.name());
    EXPECT_EQ(fresh.status().code(), Status::Code::kUnavailable) << size;
    EXPECT_NE(fresh.status().message().find("still being created"), std::string::npos);
    // Written a minute ago: no engine is creating it.
    const timespec old[2] = {{std::time(nullptr) - 60, 0}, {std::time(nullptr) - 60, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), old, 0), 0);
    auto stale = Segment::Attach(name.name());
    EXPECT_EQ(stale.status().code(), Status::Code::kCorruption) << size;
    EXPECT_NE(stale.status().message().find("not a segment being created"), std::string::npos)
        << stale.status().message();
    EXPECT_NE(stale.status().message().find("rm " + path), std::string::npos);
  }
}

TEST(SegmentTest, BadOptionsAreNamed) {
  SegmentOptions o = SmallOptions("x");
  o.change_ring_bytes = 3000;
  auto r = Segment::Create(o);
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("change ring size 3000"), std::string::npos);
  o = SmallOptions("a/b");
  EXPECT_EQ(Segment::Create(o).status().code(), Status::Code::kInvalidArgument);
  o = SmallOptions("x");
  o.table_capacity = kMaxTableCapacity + 1;
  EXPECT_EQ(Segment::Create(o).status().code(), Status::Code::kInvalidArgument);
}

TEST(SegmentTest, RemoveOfAMissingSegmentIsOk) {
  EXPECT_TRUE(Segment::Remove(UniqueName("never")).ok());
}

TEST(SegmentTest, NameComesFromFlagThenEnvironmentThenDefault) {
  ::unsetenv(kSegmentNameEnv);
  EXPECT_EQ(SegmentNameFrom(""), "hokm");
  ::setenv(kSegmentNameEnv, "from-env", 1);
  EXPECT_EQ(SegmentNameFrom(""), "from-env");
  EXPECT_EQ(SegmentNameFrom("flag"), "flag");
  ::unsetenv(kSegmentNameEnv);
}

TEST(SegmentTest, EngineClaimIsExclusiveWhileTheEngineLives) {
  ScopedSegmentName name(UniqueName("seg"));
  auto segment = Segment::Create(SmallOptions(name.name()));
  ASSERT_TRUE(segment.ok());
  ASSERT_TRUE(segment->ClaimEngine().ok());
  EXPECT_EQ(segment->engine_pid(), ::getpid());
  EXPECT_TRUE(segment->EngineAlive());
  EXPECT_GT(segment->engine_heartbeat_ns(), 0u);
  // Another process cannot take it while we live.
  const std::string n = name.name();
  pid_t child = ForkChild([n] {
    auto s = Segment::Attach(n);
    if (!s.ok()) return 2;
    Status claim = s->ClaimEngine();
    return claim.code() == Status::Code::kUnavailable ? 0 : 3;
  });
  EXPECT_EQ(WaitChild(child, 30s), 0);
  // A dead engine's claim is taken over.
  child = ForkChild([n] {
    auto s = Segment::Attach(n);
    if (!s.ok()) return 2;
    s->ReleaseEngine();  // not ours: no effect
    return 0;
  });
  EXPECT_EQ(WaitChild(child, 30s), 0);
  EXPECT_EQ(segment->engine_pid(), ::getpid());
  segment->ReleaseEngine();
  child = ForkChild([n] {
    auto s = Segment::Attach(n);
    if (!s.ok()) return 2;
    return s->ClaimEngine().ok() ? 0 : 3;  // then dies holding it
  });
  EXPECT_EQ(WaitChild(child, 30s), 0);
  EXPECT_FALSE(segment->EngineAlive());
  EXPECT_TRUE(segment->ClaimEngine().ok());
}

TEST(SegmentTest, HoldsAMillionGames) {
  ScopedSegmentName name(UniqueName("million"));
  SegmentOptions o;
  o.name = name.name();
  o.table_capacity = 1'000'000;
  auto segment = Segment::Create(o);
  ASSERT_TRUE(segment.ok()) << segment.status().message();
  std::printf(
      "segment for 1,000,000 games with default rings: %zu bytes (%.1f MiB), %zu bytes per slot\n",
      segment->size(), static_cast<double>(segment->size()) / (1 << 20), sizeof(GameSlot));
  EXPECT_LE(segment->header().table.bytes, 256u * 1'000'000u);
  GameTable& table = segment->table();
  std::uint64_t last_id = 0;
  std::uint32_t count = 0;
  while (auto a = table.Allocate()) {
    ASSERT_GT(a->game_id, last_id);
    last_id = a->game_id;
    ASSERT_LE(++count, 1'000'000u);
  }
  EXPECT_EQ(count, 1'000'000u);
  EXPECT_EQ(table.Live(), 1'000'000u);
  EXPECT_EQ(table.Find(last_id), 999'999);
}

}  // namespace
}  // namespace hokm::shm
