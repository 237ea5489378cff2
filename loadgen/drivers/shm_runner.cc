// shm_runner.cc: --mode shm: drives a running hokm-engine through the
// segment's command rings, one CommandClient per thread, many games per
// thread with up to --pipeline commands in flight (one per game at a time).
// After each answer the game is read back from the segment's game table and
// the bot decides from that snapshot. Survives a restart of hokm-engine on
// the same segment (ShmDriver::WatchEngine).
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/command_wire.h"
#include "core/player_view.h"
#include "core/records/change.h"
#include "core/rules/rules.h"
#include "loadgen/drivers/runners.h"
#include "shm/command_channel.h"
#include "shm/segment.h"
#include "shm/wait_strategy.h"

namespace hokm::loadgen {
namespace {

// Commands in flight per thread unless --pipeline says otherwise: one batch
// of the engine's command port. Deeper pipelines were no faster but queue
// longer (loadgen/README.md, Measured).
constexpr std::uint32_t kDefaultShmPipeline = shm::CommandPort::kMaxBatch;

// With commands in flight and no answer for this long, check the engine.
constexpr std::uint64_t kSilenceCheckNs = 5'000'000'000ull;
constexpr std::uint64_t kSilenceGiveUpNs = 30'000'000'000ull;

// Request ids of the markers WatchEngine sends after an engine restart:
// this bit, the restart's number (era) from bit 20, the shard below. Lane
// requests use the lane's index, far below.
constexpr std::uint64_t kMarkerBit = std::uint64_t{1} << 63;
constexpr int kMarkerEraShift = 20;
constexpr std::uint64_t kMarkerShardMask = (std::uint64_t{1} << kMarkerEraShift) - 1;

class ShmDriver {
 public:
  ShmDriver(const shm::Segment& segment, shm::CommandClient& client, ThreadContext& ctx)
      : segment_(segment),
        client_(client),
        ctx_(ctx),
        flow_(ctx.options, ctx.control, ctx.result, ctx.dump),
        lanes_(ctx.lanes),
        pacer_(ctx.rate, ctx.control.start_ns(), ctx.options.ramp_s),
        ramp_(ctx.control.start_ns(), ctx.options.ramp_s, ctx.lanes),
        waiter_(segment.response_ring(client.slot()), WaitFor(ctx.options, pacer_.open_loop())),
        pace_nap_ns_(ctx.options.pace_nap_us * 1000ull),
        engine_pid_(segment.engine_pid()),
        sent_era_(lanes_.size(), 0) {
    // Room for one marker per shard beside a full pipeline (WatchEngine).
    const std::uint32_t shards = segment_.shards();
    const std::uint32_t max = client_.MaxInFlight() > shards ? client_.MaxInFlight() - shards : 1;
    const std::uint32_t want =
        ctx.options.pipeline == 0 ? kDefaultShmPipeline : ctx.options.pipeline;
    pipeline_ = std::min(want, max);
    window_ = pipeline_;
    // Reconnected players' views, read from the segment as any client of
    // hokm-engine would (no round trip).
    flow_.SetViewReader([&segment](std::uint64_t game_id, int seat) {
      return core::ReadPlayerView(segment.table(), game_id, seat);
    });
  }

  void Run() {
    Play();
    ctx_.result.play_end_ns = NowNs();
    if (!ctx_.result.fatal.empty()) return;
    AbandonRunning();
  }

 private:
  // Sends ready lanes' commands while the pipeline and the pacer allow.
  // Returns how many it sent.
  std::size_t Send(std::uint64_t now, bool abandon_only) {
    std::size_t sent = 0;
    if (now < send_after_ns_) return 0;
    while (in_flight_ < window_ && !ready_.empty()) {
      const std::uint32_t index = ready_.front();
      Lane& lane = lanes_[index];
      if (lane.step != Lane::Step::kReady) {  // went idle meanwhile
        ready_.pop_front();
        continue;
      }
      if (abandon_only && !lane.abandoning) {
        ready_.pop_front();
        continue;
      }
      flow_.Build(lane);
      if (!TimeCommand(lane, flow_, pacer_, now)) break;
      if (core::SendCommand(client_, index, lane.command, shm::Wake::kLater) !=
          shm::WriteResult::kOk) {
        break;  // ring full
      }
      ready_.pop_front();
      lane.step = Lane::Step::kInFlight;
      sent_era_[index] = era_;
      if (in_flight_ == 0) last_answer_ns_ = now;  // silence counts from here
      ++in_flight_;
      ++sent;
    }
    // The engine wakes once, to the whole batch.
    client_.WakeShards();
    return sent;
  }

  // Takes every answer there is. Returns how many.
  std::size_t Receive() {
    std::size_t n = 0;
    bool saw_busy = false;
    shm::CommandResponse r;
    while (client_.TryReceive(r)) {
      ++n;
      if ((r.request_id & kMarkerBit) != 0) {
        if ((r.request_id & ~kMarkerBit) >> kMarkerEraShift == era_ && markers_pending_ > 0 &&
            --markers_pending_ == 0) {
          resolving_ = true;
        }
        continue;
      }
      if (r.request_id >= lanes_.size() || lanes_[r.request_id].step != Lane::Step::kInFlight) {
        ctx_.result.errors.Add(1);
        GameFlow::ReportError("an answer to request " + std::to_string(r.request_id) +
                              " nobody sent");
        continue;
      }
      --in_flight_;
      const auto index = static_cast<std::uint32_t>(r.request_id);
      Lane& lane = lanes_[index];
      lane.step = Lane::Step::kReady;
      if (core::ResultOf(r) == core::CommandResult::kOk) {
        if (!lane.abandoning) ctx_.result.latency_ns.Record(NowNs() - lane.intended_ns);
        core::GameState snap;
        const bool have = segment_.table().ReadGame(r.game_id, snap) == shm::ReadResult::kOk;
        if (flow_.Accepted(lane, r.game_id, r.game_seq, have ? &snap : nullptr) && !stopping_) {
          flow_.Begin(lane);
        }
      } else if (core::ResultOf(r) == core::CommandResult::kBusy) {
        flow_.Busy();
        saw_busy = true;
      } else {
        flow_.Refused(lane, core::ResultOf(r));
      }
      if (lane.step == Lane::Step::kReady) ready_.push_back(index);
    }
    if (n != 0) last_answer_ns_ = NowNs();
    // Busy: the change ring is full until its consumer catches up. Resending
    // at once would only burn the CPU the consumer needs, so sending pauses
    // (50 us, doubling to 2 ms while Busy persists) and the window drops to
    // one command, then doubles with every answer that got through.
    if (saw_busy) {
      busy_pause_ns_ =
          busy_pause_ns_ == 0 ? 50'000 : std::min<std::uint64_t>(2 * busy_pause_ns_, 2'000'000);
      send_after_ns_ = last_answer_ns_ + busy_pause_ns_;
      window_ = 1;
    } else if (n != 0) {
      busy_pause_ns_ = 0;
      window_ = std::min(pipeline_, 2 * window_);
    }
    return n;
  }

  // False (and fatal set) when the engine went silent.
  bool CheckSilence(std::uint64_t now) {
    if (in_flight_ == 0 || now <= last_answer_ns_ || now - last_answer_ns_ < kSilenceCheckNs)
      return true;
    if (!segment_.EngineAlive() || now - last_answer_ns_ > kSilenceGiveUpNs) {
      ctx_.result.fatal = "hokm-engine on segment '" + segment_.name() + "' stopped answering (" +
                          std::to_string(in_flight_) + " commands unanswered)";
      ctx_.control.Stop();
      return false;
    }
    return true;
  }

  // An engine restart (another process claimed the segment) loses the batch
  // of requests the dead engine had taken from its command ring and not
  // answered (command_channel.h: at most once); requests still queued in
  // the ring are served by the new engine. To tell the two apart, the
  // driver then sends each shard a marker (a command for a game id no slot
  // holds, answered kNoSuchGame): a shard answers in order, so once every
  // marker is answered, a lane sent before the restart and still unanswered
  // was lost, and ResolveLost settles it.
  void WatchEngine() {
    const pid_t pid = segment_.engine_pid();
    if (pid != 0 && pid != engine_pid_) {
      engine_pid_ = pid;
      ++era_;
      next_marker_shard_ = 0;
      markers_pending_ = segment_.shards();
      resolving_ = false;
    }
    while (next_marker_shard_ < segment_.shards()) {
      core::Command marker{};
      marker.type = core::CommandType::kSetConnected;
      marker.card = core::kNoCard;
      marker.suit = core::Suit::kNone;
      marker.game_id = next_marker_shard_;  // slot s, creation number 0: never a live id
      const std::uint64_t id =
          kMarkerBit | era_ << kMarkerEraShift | (next_marker_shard_ & kMarkerShardMask);
      if (core::SendCommand(client_, id, marker) != shm::WriteResult::kOk)
        break;  // ring full: next time
      ++next_marker_shard_;
    }
    if (resolving_) ResolveLost();
  }

  // Settles each lane whose command the dead engine took and never answered,
  // by its game as the table holds it now: the command was applied when the
  // game's seq moved, or the game ended and its slot was freed (booked as
  // accepted; the lane plays on), else it is sent again. A command whose
  // records were published before the kill but whose state was not written
  // publishes the same records again (the rules are deterministic), which
  // the sinks drop as duplicates. A lost CreateGame is found by its seed.
  void ResolveLost() {
    std::unordered_map<std::uint64_t, std::uint64_t>
        created;  // seed -> game id, games nobody joined yet
    bool scanned = false;
    std::uint32_t lost = 0, applied = 0, unresolved = 0;
    for (std::uint32_t i = 0; i < lanes_.size(); ++i) {
      Lane& lane = lanes_[i];
      if (lane.step != Lane::Step::kInFlight || sent_era_[i] >= era_) continue;
      std::uint64_t game_id = lane.game_id;
      core::GameState snap{};
      bool gone = false, moved = false;
      if (game_id == 0) {
        if (!scanned) created = NewGamesBySeed(), scanned = true;
        const auto it = created.find(lane.command.seed);
        if (it != created.end() &&
            segment_.table().ReadGame(it->second, snap) == shm::ReadResult::kOk) {
          game_id = it->second;
          moved = true;
          created.erase(it);
        }
      } else {
        const shm::ReadResult read = segment_.table().ReadGame(game_id, snap);
        if (read == shm::ReadResult::kBusy) {
          ++unresolved;  // the writer holds the slot: next time
          continue;
        }
        gone = read == shm::ReadResult::kNoSuchGame;
        moved = !gone && snap.seq > lane.view.seq;
      }
      ++lost;
      --in_flight_;
      lane.step = Lane::Step::kReady;
      if (gone || moved) {
        ++applied;
        if (!lane.abandoning) ctx_.result.latency_ns.Record(NowNs() - lane.intended_ns);
        if (flow_.Accepted(lane, game_id, gone ? SeqAfter(lane) : snap.seq,
                           gone ? nullptr : &snap) &&
            !stopping_) {
          flow_.Begin(lane);
        }
      }
      if (lane.step == Lane::Step::kReady) ready_.push_back(i);
    }
    if (unresolved != 0) return;
    resolving_ = false;
    // What the client still counts beyond the lanes in flight was lost:
    // these lanes' requests, and markers of an earlier restart.
    if (client_.in_flight() > in_flight_) client_.ForgetInFlight(client_.in_flight() - in_flight_);
    std::fprintf(
        stderr,
        "hokm-loadgen: hokm-engine restarted (now pid %d); thread %d: %u command(s) the old engine "
        "never answered: %u had been applied, %u sent again\n",
        static_cast<int>(engine_pid_), ctx_.index, lost, applied, lost - applied);
  }

  // Games of this run still waiting for their first player, by seed.
  std::unordered_map<std::uint64_t, std::uint64_t> NewGamesBySeed() const {
    std::unordered_map<std::uint64_t, std::uint64_t> games;
    const shm::GameTable& table = segment_.table();
    for (std::uint32_t slot = 0; slot < table.capacity(); ++slot) {
      core::GameState s;
      std::uint64_t id = 0;
      if (!table.Read(slot, s, &id) || id == 0) continue;
      if (s.phase == core::Phase::kWaitingForPlayers && s.player_ids[0] == 0 && s.seq == 1)
        games[s.seed] = id;
    }
    return games;
  }

  // The seq the lane's game reached with its command (replayed on the lane's
  // copy), for a game the command ended and the engine freed.
  static std::uint32_t SeqAfter(const Lane& lane) {
    core::GameState s = lane.view;
    core::ChangeBuffer out;
    (void)core::Apply(s, lane.command, out);
    return s.seq;
  }

  // How the thread waits for answers (--wait). Nap: open loop naps 200 us
  // (the pacer's own nap: the next plays are not due sooner anyway), closed
  // loop 20 us (an answer is the only thing it waits for).
  static shm::WaitOptions WaitFor(const LoadgenOptions& options, bool open_loop) {
    shm::WaitOptions wait;
    wait.strategy = options.wait;
    wait.spin_ns = options.wait_spin_us * 1000;
    wait.nap_us = open_loop ? 200 : 20;
    return wait;
  }

  // Waits for an answer, but no longer than until the next play is due
  // (open loop, a command ready to go) or the next game starts (ramp).
  void WaitForAnswer(std::uint64_t now) {
    std::uint64_t deadline = 0;
    if (pacer_.open_loop() && !ready_.empty() && !stopping_) {
      deadline = std::max(pacer_.next_ns(), now + pace_nap_ns_);
    }
    if (!stopping_ && !ramp_.done() && (deadline == 0 || ramp_.next_ns() < deadline)) {
      deadline = std::max(ramp_.next_ns(), now + 1);
    }
    waiter_.Wait(client_.response_reader(), deadline);
  }

  void Play() {
    last_answer_ns_ = NowNs();
    waiter_.Reset();
    for (;;) {
      WatchEngine();
      const std::uint64_t now = NowNs();
      if (!stopping_ && ctx_.control.Expired(now)) stopping_ = true;
      if (stopping_ && in_flight_ == 0) return;
      if (!stopping_) {
        const Ramp::Step step = ramp_.Next(
            now,
            [&](std::uint32_t i) {
              if (flow_.Begin(lanes_[i])) ready_.push_back(i);
            },
            [&] { return in_flight_ == 0 && ready_.empty(); });
        if (step == Ramp::Step::kFinished) return;  // every lane idle
        if (step == Ramp::Step::kWaited) continue;
      }
      const std::size_t sent = stopping_ ? 0 : Send(now, false);
      const std::size_t got = Receive();
      if (sent + got != 0) {
        waiter_.Reset();
        continue;
      }
      if (!CheckSilence(now)) return;
      if (pacer_.open_loop() && in_flight_ == 0 && !ready_.empty() && pacer_.next_ns() > now) {
        WaitForPlayOrStart(pacer_, ramp_, !ramp_.done(), pace_nap_ns_);
        continue;
      }
      WaitForAnswer(now);
    }
  }

  void AbandonRunning() {
    AbandonAll(flow_, lanes_, ready_);
    const std::uint64_t deadline = NowNs() + kAbandonBudgetNs;
    last_answer_ns_ = NowNs();
    waiter_.Reset();
    while (!ready_.empty() || in_flight_ != 0) {
      WatchEngine();
      const std::uint64_t now = NowNs();
      if (now > deadline || !CheckSilence(now)) break;
      if (Send(now, true) + Receive() != 0) {
        waiter_.Reset();
      } else {
        waiter_.Wait(client_.response_reader());
      }
    }
    for (Lane& lane : lanes_) {
      if (lane.game_id == 0) continue;
      ctx_.result.errors.Add(1);
      GameFlow::ReportError("game " + std::to_string(lane.game_id) +
                            " could not be abandoned at the end");
      flow_.Leave(lane);
    }
    if (in_flight_ != 0) client_.AbandonInFlight();
  }

  const shm::Segment& segment_;
  shm::CommandClient& client_;
  ThreadContext& ctx_;
  GameFlow flow_;
  std::vector<Lane> lanes_;
  Pacer pacer_;
  Ramp ramp_;
  shm::RingWaiter waiter_;
  std::uint64_t pace_nap_ns_;
  std::deque<std::uint32_t> ready_;
  std::uint32_t pipeline_ = 1;
  std::uint32_t window_ = 1;  // commands that may be in flight now (<= pipeline_)
  std::uint32_t in_flight_ = 0;
  std::uint64_t last_answer_ns_ = 0;
  std::uint64_t send_after_ns_ = 0;  // Busy backoff: no sends before this
  std::uint64_t busy_pause_ns_ = 0;
  bool stopping_ = false;
  // Engine restarts (WatchEngine).
  pid_t engine_pid_;                       // the engine serving the segment, as last seen
  std::uint64_t era_ = 0;                  // restarts seen by this thread
  std::vector<std::uint64_t> sent_era_;    // per lane: era_ when its command was sent
  std::uint32_t next_marker_shard_ = ~0u;  // the next shard to send this era's marker to
  std::uint32_t markers_pending_ = 0;      // this era's markers not answered yet
  bool resolving_ = false;                 // every marker answered; lost lanes to settle
};

}  // namespace

void RunShmThread(const shm::Segment& segment, ThreadContext& ctx) {
  auto client = shm::CommandClient::Register(segment);
  if (!client.ok()) {
    ctx.result.fatal = client.status().message();
    ctx.control.Stop();
    ctx.result.play_end_ns = NowNs();
    return;
  }
  ShmDriver driver(segment, client.value(), ctx);
  driver.Run();
}

}  // namespace hokm::loadgen
