// wait_strategy_test.cc: the park strategy loses no wake-up (ping-pong
// between processes and between threads, every command answered, no park
// ending at its timeout), a consumer SIGKILLed while parked costs producers
// one wake-up and stalls no one, and the flag parsing.
#include "shm/wait_strategy.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "core/command_wire.h"
#include "shm/command_channel.h"
#include "tests/shm/test_util.h"

namespace hokm::shm {
namespace {

using testing::Deadline;
using testing::ForkChild;
using testing::ScopedSegmentName;
using testing::UniqueName;
using testing::WaitChild;
using namespace std::chrono_literals;

// Round trips of each ping-pong. The sanitizers slow every atomic and
// syscall several times over; ThreadSanitizer still runs the in-process
// variant (the one it can follow) for the full million.
#if defined(HOKM_TSAN)
constexpr std::uint64_t kThreadRoundTrips = 1'000'000;
constexpr std::uint64_t kProcessRoundTrips = 200'000;
#elif defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t kThreadRoundTrips = 200'000;
constexpr std::uint64_t kProcessRoundTrips = 200'000;
#else
constexpr std::uint64_t kThreadRoundTrips = 1'000'000;
constexpr std::uint64_t kProcessRoundTrips = 1'000'000;
#endif

// A park that ends at its timeout while the peer always answers at once is
// a lost wake-up; 5 s is far beyond any scheduling delay.
constexpr std::uint32_t kLongParkUs = 5'000'000;

WaitOptions Park(std::uint32_t spin_ns) {
  WaitOptions o;
  o.strategy = WaitStrategy::kPark;
  o.spin_ns = spin_ns;
  o.park_timeout_us = kLongParkUs;
  return o;
}

class WaitStrategyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SegmentOptions o;
    o.name = name_.name();
    o.table_capacity = 16;
    o.shards = 1;
    o.command_ring_bytes = 1 << 12;
    o.change_ring_bytes = 1 << 12;
    o.client_slots = 2;
    o.response_ring_bytes = 1 << 12;
    auto created = Segment::Create(o);
    ASSERT_TRUE(created.ok()) << created.status().message();
    segment_ = std::make_unique<Segment>(std::move(created.value()));
  }

  static core::Command Play(std::uint64_t n) {
    core::Command c{};
    c.type = core::CommandType::kPlayCard;
    c.game_id = n;
    return c;
  }

  struct SideResult {
    std::uint64_t answered = 0;
    std::uint64_t parks = 0;
    std::uint64_t timeouts = 0;
    int error = 0;
  };

  // The engine's side: answers `rounds` requests (each with its id + 1 as
  // game_seq), parking when the command ring is empty.
  static SideResult Serve(const Segment& segment, std::uint64_t rounds, WaitOptions wait) {
    SideResult r;
    CommandPort port(segment, 0);
    RingWaiter waiter(port.ring(), wait);
    Deadline deadline(300s);
    while (r.answered < rounds && !deadline.Expired()) {
      const std::size_t n = port.Poll([&](const CommandRequest& req) {
        if (core::Respond(port, req, core::CommandResult::kOk, core::CommandOf(req).game_id,
                          static_cast<std::uint32_t>(req.request_id + 1)) != WriteResult::kOk) {
          r.error = 10;
        }
        ++r.answered;
      });
      if (n != 0) {
        waiter.Reset();
      } else {
        waiter.Wait(port.reader());
      }
    }
    r.parks = waiter.parks();
    r.timeouts = waiter.timeouts();
    return r;
  }

  // The client's side: one command in flight, `rounds` times, parking on
  // its response ring; every answer must be the one to the last request.
  static SideResult Ask(const Segment& segment, std::uint64_t rounds, WaitOptions wait) {
    SideResult r;
    auto client = CommandClient::Register(segment);
    if (!client.ok()) {
      r.error = 20;
      return r;
    }
    RingWaiter waiter(segment.response_ring(client->slot()), wait);
    Deadline deadline(300s);
    for (std::uint64_t i = 0; i < rounds; ++i) {
      if (core::SendCommand(*client, i, Play(i)) != WriteResult::kOk) {
        r.error = 21;
        break;
      }
      CommandResponse response;
      waiter.Reset();
      while (!client->TryReceive(response)) {
        if (deadline.Expired()) {
          r.error = 22;
          break;
        }
        waiter.Wait(client->response_reader());
      }
      if (r.error != 0) break;
      if (response.request_id != i || response.game_seq != i + 1 || response.game_id != i) {
        r.error = 23;
        break;
      }
      ++r.answered;
    }
    r.parks = waiter.parks();
    r.timeouts = waiter.timeouts();
    return r;
  }

  ScopedSegmentName name_{UniqueName("wait")};
  std::unique_ptr<Segment> segment_;
};

TEST(WaitStrategyNames, ParseAndNameRoundTrip) {
  for (WaitStrategy s : {WaitStrategy::kPark, WaitStrategy::kSpin, WaitStrategy::kNap}) {
    WaitStrategy parsed = WaitStrategy::kNap;
    ASSERT_TRUE(ParseWaitStrategy(WaitStrategyName(s), parsed));
    EXPECT_EQ(parsed, s);
  }
  WaitStrategy unchanged = WaitStrategy::kSpin;
  EXPECT_FALSE(ParseWaitStrategy("sleep", unchanged));
  EXPECT_FALSE(ParseWaitStrategy("", unchanged));
  EXPECT_EQ(unchanged, WaitStrategy::kSpin);
}

// The engine side in a child process, the client here; neither spins, so
// nearly every round trip parks both sides and races a publish against an
// announcement twice.
TEST_F(WaitStrategyTest, PingPongBetweenProcessesAnswersEveryCommandWithoutLostWakeUps) {
  const std::string n = name_.name();
  const pid_t engine = ForkChild([n] {
    auto s = Segment::Attach(n);
    if (!s.ok()) return 2;
    const SideResult r = Serve(*s, kProcessRoundTrips, Park(0));
    if (r.error != 0) return r.error;
    if (r.answered != kProcessRoundTrips) return 3;
    return r.timeouts == 0 ? 0 : 4;
  });
  const SideResult client = Ask(*segment_, kProcessRoundTrips, Park(0));
  EXPECT_EQ(client.error, 0);
  EXPECT_EQ(client.answered, kProcessRoundTrips);
  EXPECT_EQ(client.timeouts, 0u) << "parks that ended at their timeout: lost wake-ups";
  EXPECT_GT(client.parks, 0u) << "the client never parked: the test tested nothing";
  EXPECT_EQ(WaitChild(engine, 300s), 0) << "engine side: 3 = unanswered, 4 = lost wake-ups";
}

// The same between two threads (what ThreadSanitizer can follow), with a
// short spin so that both the spin-then-park edge and parking are hit.
TEST_F(WaitStrategyTest, PingPongBetweenThreadsAnswersEveryCommandWithoutLostWakeUps) {
  SideResult engine;
  std::thread engine_thread([&] { engine = Serve(*segment_, kThreadRoundTrips, Park(0)); });
  const SideResult client = Ask(*segment_, kThreadRoundTrips, Park(2'000));
  engine_thread.join();
  EXPECT_EQ(client.error, 0);
  EXPECT_EQ(client.answered, kThreadRoundTrips);
  EXPECT_EQ(engine.error, 0);
  EXPECT_EQ(engine.answered, kThreadRoundTrips);
  EXPECT_EQ(client.timeouts + engine.timeouts, 0u)
      << "parks that ended at their timeout: lost wake-ups";
  EXPECT_GT(engine.parks, 0u) << "the engine never parked: the test tested nothing";
}

// A consumer SIGKILLed while parked leaves its announcement. The next
// producer pays one wake-up for it, the ones after pay nothing, and the
// next consumer parks and is woken as usual.
TEST_F(WaitStrategyTest, ConsumerKilledWhileParkedCostsOneWakeUpAndStallsNoOne) {
  const Ring ring = segment_->command_ring(0);
  RingTrailer* trailer = ring.trailer();
  const std::string n = name_.name();
  const pid_t doomed = ForkChild([n] {
    auto s = Segment::Attach(n);
    if (!s.ok()) return 2;
    CommandPort port(*s, 0);
    RingWaiter waiter(port.ring(), Park(0));
    for (;;) {  // parks until killed; a record would end it
      if (port.Poll([](const CommandRequest&) {}) != 0) return 3;
      waiter.Wait(port.reader());
    }
  });
  // Parked: the announcement is set and the wake_seq it sleeps on is still
  // the initial one (nobody published).
  Deadline parked_deadline(30s);
  while (Atomic(trailer->parked).load(std::memory_order_acquire) == 0) {
    ASSERT_FALSE(parked_deadline.Expired()) << "the child never parked";
    std::this_thread::yield();
  }
  ::kill(doomed, SIGKILL);
  EXPECT_EQ(WaitChild(doomed, 30s), -SIGKILL);
  EXPECT_EQ(Atomic(trailer->parked).load(std::memory_order_acquire), 1u) << "left behind";

  // A producer keeps publishing: the first notify clears the stale
  // announcement with one wake, the rest make none.
  const std::uint32_t seq_before = Atomic(trailer->wake_seq).load(std::memory_order_acquire);
  auto client = CommandClient::Register(*segment_);
  ASSERT_TRUE(client.ok());
  for (std::uint64_t i = 0; i < 10; ++i)
    ASSERT_EQ(core::SendCommand(*client, i, Play(i)), WriteResult::kOk);
  EXPECT_EQ(Atomic(trailer->wake_seq).load(std::memory_order_acquire), seq_before + 1);
  EXPECT_EQ(Atomic(trailer->parked).load(std::memory_order_acquire), 0u);

  // The next consumer (a thread here) takes those and then parks between
  // further publishes without stalling; the producer never blocks.
  constexpr std::uint64_t kMore = 20'000;
  std::atomic<std::uint64_t> served{0};
  std::uint64_t parks = 0, rechecks_won = 0, timeouts = 0;
  std::thread next([&] {
    CommandPort port(*segment_, 0);
    RingWaiter waiter(port.ring(), Park(0));
    Deadline deadline(120s);
    while (served.load(std::memory_order_relaxed) < 10 + kMore && !deadline.Expired()) {
      const std::size_t got = port.Poll([&](const CommandRequest& req) {
        (void)core::Respond(port, req, core::CommandResult::kOk, core::CommandOf(req).game_id, 1);
        served.fetch_add(1, std::memory_order_relaxed);
      });
      if (got != 0) {
        waiter.Reset();
      } else {
        waiter.Wait(port.reader());
      }
    }
    parks = waiter.parks();
    rechecks_won = waiter.rechecks_won();
    timeouts = waiter.timeouts();
  });
  // The burst may never let the consumer find its ring empty (a slow,
  // sanitized build), so the last kParkedSends commands are each sent only
  // once the consumer has announced that it parks: each must wake it.
  constexpr std::uint64_t kParkedSends = 5;
  Deadline deadline(120s);
  CommandResponse response;
  std::uint64_t received = 0;
  for (std::uint64_t i = 10; i < 10 + kMore && !deadline.Expired();) {
    if (i >= 10 + kMore - kParkedSends &&
        Atomic(trailer->parked).load(std::memory_order_acquire) == 0) {
      while (client->TryReceive(response)) ++received;
      std::this_thread::yield();  // until the consumer parks (or the deadline)
      continue;
    }
    if (core::SendCommand(*client, i, Play(i)) == WriteResult::kOk) {
      ++i;
    } else {
      std::this_thread::yield();  // flow control: answers not taken yet
    }
    while (client->TryReceive(response)) ++received;
  }
  next.join();
  while (client->TryReceive(response)) ++received;
  EXPECT_EQ(served.load(), 10 + kMore);
  EXPECT_EQ(received, 10 + kMore);
  EXPECT_EQ(timeouts, 0u);
  // An announced park ends in the futex or, if the command landed before
  // the recheck, in a won recheck: either way it announced.
  EXPECT_GE(parks + rechecks_won, kParkedSends);
}

// Deferred wakes: a batch of commands (or answers) wakes a parked consumer
// once, when the batch is done, not at its first record.
TEST_F(WaitStrategyTest, ABatchWakesItsParkedConsumerOnceAtItsEnd) {
  const Ring commands = segment_->command_ring(0);
  auto client = CommandClient::Register(*segment_);
  ASSERT_TRUE(client.ok());
  const Ring answers = segment_->response_ring(client->slot());
  auto parked = [](const Ring& r) { return Atomic(r.trailer()->parked).load(); };
  auto seq = [](const Ring& r) { return Atomic(r.trailer()->wake_seq).load(); };

  Atomic(commands.trailer()->parked).store(1);  // as a parked shard leaves it
  const std::uint32_t commands_seq = seq(commands);
  for (std::uint64_t i = 0; i < 3; ++i) {
    ASSERT_EQ(core::SendCommand(*client, i, Play(i), Wake::kLater), WriteResult::kOk);
  }
  EXPECT_EQ(seq(commands), commands_seq);
  EXPECT_EQ(parked(commands), 1u);
  client->WakeShards();
  EXPECT_EQ(seq(commands), commands_seq + 1);
  EXPECT_EQ(parked(commands), 0u);
  client->WakeShards();  // nothing new: no wake
  EXPECT_EQ(seq(commands), commands_seq + 1);

  CommandPort port(*segment_, 0);
  Atomic(answers.trailer()->parked).store(1);  // as a parked client leaves it
  const std::uint32_t answers_seq = seq(answers);
  EXPECT_EQ(port.Poll([&](const CommandRequest& req) {
    ASSERT_EQ(core::Respond(port, req, core::CommandResult::kOk, 0, 1, Wake::kLater),
              WriteResult::kOk);
  }),
            3u);
  EXPECT_EQ(seq(answers), answers_seq);
  port.WakeClients();
  EXPECT_EQ(seq(answers), answers_seq + 1);
  EXPECT_EQ(parked(answers), 0u);
  CommandResponse r;
  int received = 0;
  while (client->TryReceive(r)) ++received;
  EXPECT_EQ(received, 3);
}

// A new consumer clears a predecessor's announcement as it starts.
TEST_F(WaitStrategyTest, NewWaiterClearsAStaleAnnouncement) {
  const Ring ring = segment_->command_ring(0);
  Atomic(ring.trailer()->parked).store(1, std::memory_order_release);
  RingWaiter waiter(ring, Park(0));
  EXPECT_EQ(Atomic(ring.trailer()->parked).load(std::memory_order_acquire), 0u);
}

// A producer that finds no one parked makes no wake-up.
TEST_F(WaitStrategyTest, BusyConsumerCostsProducersNoWakeUp) {
  const Ring ring = segment_->command_ring(0);
  auto client = CommandClient::Register(*segment_);
  ASSERT_TRUE(client.ok());
  const std::uint32_t before = Atomic(ring.trailer()->wake_seq).load(std::memory_order_acquire);
  for (std::uint64_t i = 0; i < 20; ++i)
    ASSERT_EQ(core::SendCommand(*client, i, Play(i)), WriteResult::kOk);
  EXPECT_EQ(Atomic(ring.trailer()->wake_seq).load(std::memory_order_acquire), before);
}

// The spin budget halves when a spin ends in a park and doubles back when
// work comes while spinning.
TEST_F(WaitStrategyTest, SpinShrinksWhenItEndsInAParkAndGrowsWhenItPaysOff) {
  CommandPort port(*segment_, 0);
  RingWaiter waiter(port.ring(), Park(8'000));
  EXPECT_EQ(waiter.spin_budget_ns(), 8'000u);
  for (int round = 0; round < 2; ++round) {
    const std::uint64_t deadline = MonotonicNowNs() + 2'000'000;
    const std::uint64_t parks = waiter.parks();
    while (waiter.parks() == parks && MonotonicNowNs() < deadline)
      waiter.Wait(port.reader(), deadline);
    waiter.Reset();  // as if the park had found work
  }
  EXPECT_EQ(waiter.spin_budget_ns(), 2'000u);
  waiter.Wait(port.reader());  // spinning...
  waiter.Reset();              // ...and work came
  EXPECT_EQ(waiter.spin_budget_ns(), 4'000u);
  for (int i = 0; i < 5; ++i) {
    waiter.Wait(port.reader());
    waiter.Reset();
  }
  EXPECT_EQ(waiter.spin_budget_ns(), 8'000u);  // never above spin_ns
}

// Park honours the caller's deadline (loadgen parks until its next play
// is due) and a wait with a deadline in the past returns at once.
TEST_F(WaitStrategyTest, ParkReturnsAtTheDeadline) {
  CommandPort port(*segment_, 0);
  RingWaiter waiter(port.ring(), Park(0));
  const std::uint64_t start = MonotonicNowNs();
  const std::uint64_t deadline = start + 20'000'000;
  int waits = 0;
  while (MonotonicNowNs() < deadline && waits < 1000) {
    waiter.Wait(port.reader(), deadline);
    ++waits;
  }
  EXPECT_LT(MonotonicNowNs() - start, 4'000'000'000u);  // far below the 5 s park timeout
  EXPECT_LT(waits, 1000) << "parks returned early again and again";
  EXPECT_EQ(waiter.timeouts(), 0u);
  waiter.Wait(port.reader(), 1);  // in the past: returns at once
}

}  // namespace
}  // namespace hokm::shm
