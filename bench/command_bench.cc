// command_bench.cc: the command round trip, one command in flight, against
// what a frontend would use instead to reach a local service.
//
//   BM_CommandRoundTrip/<park|spin|nap>  client thread -> the segment's
//       command ring -> an engine shard thread (hokm::Engine::ServeOnce,
//       as hokm-engine runs it) -> the client's response ring, both sides
//       waiting with that strategy (nap: the shard naps 200 us, hokm-engine's
//       default, the client 20 us, loadgen's closed loop).
//   BM_UnixSocketRoundTrip      the same 64-byte request and 32-byte answer
//       over an AF_UNIX stream socket pair, blocking reads.
//   BM_BoostMessageQueueRoundTrip  the same over two
//       boost::interprocess::message_queue (request queue, answer queue).
//
// The command is one the engine rejects (a card play in a game that does
// not exist): the whole path without applying the rules (BM_EngineApply
// measures that part; bench/README.md has both). Each round trip
// is timed; p50_us / p99_us / p999_us are counters, and so is
// wakes_per_rt (FUTEX_WAKE calls per round trip) and parks_per_rt (FUTEX_WAIT
// calls of both sides per round trip), park only.
#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/interprocess/ipc/message_queue.hpp>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_engine.h"
#include "core/engine.h"
#include "shm/command_channel.h"
#include "shm/wait_strategy.h"

namespace hokm {
namespace {

std::uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Round-trip times of one benchmark run, reported as counters.
class RoundTrips {
 public:
  RoundTrips() { ns_.reserve(1 << 20); }
  void Add(std::uint64_t ns) {
    if (ns_.size() < ns_.capacity()) ns_.push_back(ns);
  }
  void Report(benchmark::State& state) {
    if (ns_.empty()) return;
    std::sort(ns_.begin(), ns_.end());
    auto at = [&](double q) {
      return static_cast<double>(
                 ns_[std::min(ns_.size() - 1, static_cast<std::size_t>(q * ns_.size()))]) /
             1e3;
    };
    state.counters["p50_us"] = at(0.50);
    state.counters["p99_us"] = at(0.99);
    state.counters["p999_us"] = at(0.999);
  }

 private:
  std::vector<std::uint64_t> ns_;
};

shm::WaitOptions WaitFor(shm::WaitStrategy strategy, std::uint32_t nap_us) {
  shm::WaitOptions o;
  o.strategy = strategy;
  o.nap_us = nap_us;
  return o;
}

void BM_CommandRoundTrip(benchmark::State& state, shm::WaitStrategy strategy) {
  bench::BenchEngine bench_engine(state, "command", 1 << 20, 2);
  if (!bench_engine.ok()) return;
  Engine& engine = *bench_engine;

  // The shard thread, as hokm-engine's ServeShard.
  std::atomic<bool> stop{false};
  std::uint64_t engine_parks = 0;  // written by the shard thread as it ends
  std::uint64_t client_parks = 0;
  std::uint64_t round_trips = 0;
  std::thread shard([&] {
    const shm::CommandPort& port = engine.port(0);
    shm::RingWaiter waiter(port.ring(), WaitFor(strategy, 200));
    while (!stop.load(std::memory_order_relaxed)) {
      if (engine.ServeOnce(0) != 0) {
        waiter.Reset();
      } else {
        waiter.Wait(port.reader());
      }
    }
    engine_parks = waiter.parks();
  });

  {  // the client gives its slot back before the engine goes
    auto client = shm::CommandClient::Register(engine.segment());
    if (!client.ok()) {
      state.SkipWithError(client.status().message().c_str());
    } else {
      const shm::Ring command_ring = engine.segment().command_ring(0);
      const std::uint32_t wakes_before = shm::Atomic(command_ring.trailer()->wake_seq).load();
      const shm::Ring response_ring = engine.segment().response_ring(client->slot());
      const std::uint32_t answer_wakes_before =
          shm::Atomic(response_ring.trailer()->wake_seq).load();
      shm::RingWaiter waiter(response_ring, WaitFor(strategy, 20));
      core::Command command{};
      command.type = core::CommandType::kPlayCard;
      command.game_id = 12345;  // no such game: rejected, answered
      RoundTrips trips;
      std::uint64_t id = 0;
      for (auto _ : state) {
        const std::uint64_t start = NowNs();
        if (core::SendCommand(*client, ++id, command) != shm::WriteResult::kOk) {
          state.SkipWithError("command ring full");
          break;
        }
        shm::CommandResponse response;
        waiter.Reset();
        while (!client->TryReceive(response)) waiter.Wait(client->response_reader());
        trips.Add(NowNs() - start);
        if (response.request_id != id) {
          state.SkipWithError("answer to another request");
          break;
        }
      }
      trips.Report(state);
      const std::uint32_t wakes =
          shm::Atomic(command_ring.trailer()->wake_seq).load() - wakes_before +
          shm::Atomic(response_ring.trailer()->wake_seq).load() - answer_wakes_before;
      state.counters["wakes_per_rt"] =
          static_cast<double>(wakes) / static_cast<double>(std::max<std::uint64_t>(1, id));
      round_trips = id;
      client_parks = waiter.parks();
    }
  }
  stop.store(true, std::memory_order_relaxed);
  shm::WakeConsumerNow(engine.port(0).ring());
  shard.join();
  if (round_trips != 0) {
    state.counters["parks_per_rt"] =
        static_cast<double>(client_parks + engine_parks) / static_cast<double>(round_trips);
  }
}
BENCHMARK_CAPTURE(BM_CommandRoundTrip, park, shm::WaitStrategy::kPark)->UseRealTime();
BENCHMARK_CAPTURE(BM_CommandRoundTrip, spin, shm::WaitStrategy::kSpin)->UseRealTime();
BENCHMARK_CAPTURE(BM_CommandRoundTrip, nap, shm::WaitStrategy::kNap)->UseRealTime();

constexpr std::size_t kRequestBytes = sizeof(shm::CommandRequest);  // 64
constexpr std::size_t kAnswerBytes = sizeof(shm::CommandResponse);  // 32

// The client side of the socket and message-queue benchmarks: one request
// in flight, its id in bytes 8..15; exchange(request, answer) sends it and
// waits for the answer (false: the transport failed).
template <typename Exchange>
void TimeRoundTrips(benchmark::State& state, Exchange&& exchange) {
  char request[kRequestBytes] = {};
  char answer[kAnswerBytes];
  RoundTrips trips;
  std::uint64_t id = 0;
  for (auto _ : state) {
    const std::uint64_t start = NowNs();
    ++id;
    std::memcpy(request + 8, &id, 8);
    if (!exchange(request, answer)) {
      state.SkipWithError("round trip failed");
      break;
    }
    trips.Add(NowNs() - start);
  }
  trips.Report(state);
}

bool ReadAll(int fd, void* data, std::size_t n) {
  auto* p = static_cast<char*>(data);
  while (n != 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

bool WriteAll(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n != 0) {
    const ssize_t r = ::write(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

// What a frontend would otherwise use to reach a local service: a Unix
// domain socket, request and answer, blocking.
void BM_UnixSocketRoundTrip(benchmark::State& state) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  std::thread service([fd = fds[1]] {
    char request[kRequestBytes];
    char answer[kAnswerBytes] = {};
    while (ReadAll(fd, request, sizeof request)) {
      std::memcpy(answer, request + 8, 8);  // echo the request id
      if (!WriteAll(fd, answer, sizeof answer)) break;
    }
  });
  TimeRoundTrips(state, [&](const char* request, char* answer) {
    return WriteAll(fds[0], request, kRequestBytes) && ReadAll(fds[0], answer, kAnswerBytes);
  });
  ::shutdown(fds[0], SHUT_RDWR);
  service.join();
  ::close(fds[0]);
  ::close(fds[1]);
}
BENCHMARK(BM_UnixSocketRoundTrip)->UseRealTime();

void BM_BoostMessageQueueRoundTrip(benchmark::State& state) {
  namespace bip = boost::interprocess;
  const std::string requests_name = "hokm-bench-rt-req-" + std::to_string(::getpid());
  const std::string answers_name = "hokm-bench-rt-ans-" + std::to_string(::getpid());
  bip::message_queue::remove(requests_name.c_str());
  bip::message_queue::remove(answers_name.c_str());
  {
    bip::message_queue requests(bip::create_only, requests_name.c_str(), 64, kRequestBytes);
    bip::message_queue answers(bip::create_only, answers_name.c_str(), 64, kAnswerBytes);
    std::thread service([&] {
      char request[kRequestBytes];
      char answer[kAnswerBytes] = {};
      for (;;) {
        bip::message_queue::size_type received = 0;
        unsigned int priority = 0;
        requests.receive(request, sizeof request, received, priority);
        if (received != kRequestBytes) break;  // the stop message
        std::memcpy(answer, request + 8, 8);
        answers.send(answer, sizeof answer, 0);
      }
    });
    TimeRoundTrips(state, [&](const char* request, char* answer) {
      requests.send(request, kRequestBytes, 0);
      bip::message_queue::size_type received = 0;
      unsigned int priority = 0;
      answers.receive(answer, kAnswerBytes, received, priority);
      return received == kAnswerBytes;
    });
    const char stop = 0;
    requests.send(&stop, 1, 0);
    service.join();
  }
  bip::message_queue::remove(requests_name.c_str());
  bip::message_queue::remove(answers_name.c_str());
}
BENCHMARK(BM_BoostMessageQueueRoundTrip)->UseRealTime();

}  // namespace
}  // namespace hokm
