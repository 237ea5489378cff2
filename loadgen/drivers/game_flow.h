// game_flow.h: what every runner shares: a Lane (one of --games concurrent
// game slots and the game it plays now), the run's end condition
// (RunControl), open-loop pacing (Pacer), and GameFlow, which decides each
// lane's next command and books what an accepted command did.
//
// A lane's life: Begin takes the next game number k from the run (or none
// is left); the game is created with seed MixSeed(--seed, k), four players
// join, then the bots play from the state read back after every answer
// until the game finishes; then Begin again. With --disconnect-rate, before
// some turns the player to act disconnects and reconnects first
// (BuildReconnect), and its view is checked on reconnect. When the run ends, runners
// abandon the games still running (GameFlow::BuildAbandon), so the engine's
// table is left empty and every game has a final state to verify.
//
// Thread safety: RunControl is shared by all runner threads (atomics);
// Lanes, a GameFlow and a Pacer belong to one thread.
#pragma once

#include <atomic>
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "core/player_view.h"
#include "core/rules/bots.h"
#include "core/rules/command.h"
#include "core/rules/game_state.h"
#include "loadgen/drivers/dump_writer.h"
#include "loadgen/options.h"
#include "loadgen/run_stats.h"

namespace hokm::loadgen {

// Player ids: a pool of kPlayerPool players from kPlayerBase; game k seats
// players (4k .. 4k + 3) mod the pool, so a game never seats one twice.
inline constexpr std::uint64_t kPlayerBase = std::uint64_t{1} << 32;
inline constexpr std::uint64_t kPlayerPool = 100'000;

class RunControl {
 public:
  RunControl(std::uint64_t total_games_cap, double duration_s);

  // The next game number, or false once the run must start no more games.
  bool TakeGame(std::uint64_t* ordinal);
  // True once play must stop (deadline passed or Stop called).
  bool Expired(std::uint64_t now_ns) const {
    return stop_.load(std::memory_order_relaxed) || (deadline_ns_ != 0 && now_ns >= deadline_ns_);
  }
  void Stop() { stop_.store(true, std::memory_order_relaxed); }
  std::uint64_t start_ns() const { return start_ns_; }
  std::uint64_t games_started() const;

 private:
  const std::uint64_t cap_;
  const std::uint64_t start_ns_;
  const std::uint64_t deadline_ns_;  // 0: none
  std::atomic<std::uint64_t> next_{0};
  std::atomic<bool> stop_{false};
};

// Open loop: card plays at a fixed rate; each gets an intended send time
// (its latency counts from there, so a stall is not hidden). Closed loop
// (rate 0): every send is due at once.
class Pacer {
 public:
  // With ramp_s > 0 the rate climbs linearly from 0 to rate_per_s over
  // ramp_s (as --ramp-s starts the games), so each game sees the same rate
  // from its start.
  Pacer(double rate_per_s, std::uint64_t start_ns, double ramp_s = 0)
      : rate_per_ns_(rate_per_s / 1e9),
        ramp_ns_(rate_per_s > 0 ? ramp_s * 1e9 : 0),
        start_ns_(start_ns),
        next_ns_(start_ns) {}
  bool open_loop() const { return rate_per_ns_ > 0; }
  bool Due(std::uint64_t now_ns) const { return !open_loop() || now_ns >= next_ns_; }
  std::uint64_t next_ns() const { return next_ns_; }
  // The intended send time of the next card play. REQUIRES: open_loop().
  std::uint64_t Take() {
    const std::uint64_t t = next_ns_;
    next_ns_ = start_ns_ + static_cast<std::uint64_t>(OffsetNs(++taken_));
    return t;
  }

 private:
  // When play k is due, from the start: plays due by time t are
  // rate * t^2 / (2 ramp) within the ramp, then rate * (t - ramp / 2).
  double OffsetNs(std::uint64_t k) const {
    const double plays = static_cast<double>(k);
    const double in_ramp = rate_per_ns_ * ramp_ns_ / 2;
    if (plays < in_ramp) return std::sqrt(2 * plays * ramp_ns_ / rate_per_ns_);
    return ramp_ns_ + (plays - in_ramp) / rate_per_ns_;
  }
  double rate_per_ns_;
  double ramp_ns_;
  std::uint64_t start_ns_;
  std::uint64_t next_ns_;
  std::uint64_t taken_ = 0;
};

struct Lane {
  enum class Step : std::uint8_t {
    kIdle,      // no game and none left to start
    kReady,     // a command to build (or to retry: has_command)
    kInFlight,  // sent, waiting for the answer (shm, seed pipelines)
  };
  Step step = Step::kIdle;
  bool has_command = false;   // `command` is built (and not yet accepted)
  bool timed = false;         // intended_ns is set for `command`
  bool abandoning = false;    // the run ended or the game broke: Abandon next
  std::uint8_t joined = 0;    // seats taken so far
  std::uint64_t game_id = 0;  // 0: the game is not created yet
  std::uint64_t ordinal = 0;
  std::uint64_t intended_ns = 0;  // latency origin of `command`
  core::RandomBot bot{0};
  core::GameState view{};  // the state after the last accepted command
  core::Command command{};
  std::string dump;  // --dump: this game's JSON lines so far
  // --disconnect-rate (GameFlow::BuildReconnect): the reconnect under way
  // for reconnect_seat, whether this turn has drawn yet, the draws' state.
  enum class Reconnect : std::uint8_t { kNone, kDisconnect, kConnect };
  Reconnect reconnect = Reconnect::kNone;
  bool turn_drawn = false;
  std::uint8_t reconnect_seat = 0;
  std::uint64_t disconnect_rng = 0;
};

// Reads a seat's view of a game from the engine (Engine::PlayerView) or
// the segment (core::ReadPlayerView).
using PlayerViewReader = std::function<Result<core::PlayerView>(std::uint64_t game_id, int seat)>;

class GameFlow {
 public:
  // `dump` may be null (no --dump). All must outlive the flow.
  GameFlow(const LoadgenOptions& options, RunControl& control, ThreadResult& result,
           DumpWriter::Part* dump);

  // Gives the lane its next game (step kReady), or makes it kIdle.
  bool Begin(Lane& lane);
  // Builds lane.command if it has none. REQUIRES: step kReady.
  void Build(Lane& lane);
  // Replaces the lane's command with Abandon (the game must be live).
  void BuildAbandon(Lane& lane);
  bool IsCardPlay(const Lane& lane) const {
    return lane.command.type == core::CommandType::kPlayCard;
  }

  // The lane's command was accepted; game_id / game_seq as answered; `fresh`
  // is the game's state read back afterwards, or null when the game is gone
  // (it ended and its slot was freed): the flow then replays the command on
  // its copy to learn the final state. Books counters and the dump. Returns
  // true when the game ended (the lane then needs Begin).
  bool Accepted(Lane& lane, std::uint64_t game_id, std::uint32_t game_seq,
                const core::GameState* fresh);
  // The command was refused with something other than Busy: counted as an
  // error; the game, if any, is abandoned next; a lane that could not even
  // create its game goes idle.
  void Refused(Lane& lane, core::CommandResult result);
  // Busy: counted; the same command is sent again later.
  void Busy() { result_.busy.Add(1); }
  // Books a game that never reached an end (its abandon failed), as it is.
  void Leave(Lane& lane);

  ThreadResult& result() { return result_; }
  // Prints the first few errors of the run to stderr (shared budget).
  static void ReportError(const std::string& message);

  // --disconnect-rate: where reconnected players' views are read. Without
  // one, no player disconnects.
  void SetViewReader(PlayerViewReader reader) { view_reader_ = std::move(reader); }

 private:
  void EndGame(Lane& lane);
  // Builds the lane's next connection change, if a reconnect is under way
  // or this turn draws one; false: the turn is played as it is.
  bool BuildReconnect(Lane& lane);
  // The lane's connection change was accepted (lane.view: the state before
  // it). After the reconnect, reads the player's view and compares it with
  // the state the rules give (lane.view with the command applied here): the
  // seat's own hand exactly, and the public state.
  void ConnectionChanged(Lane& lane, std::uint64_t game_id);

  const LoadgenOptions& options_;
  RunControl& control_;
  ThreadResult& result_;
  DumpWriter::Part* dump_;
  core::GreedyBot greedy_;
  PlayerViewReader view_reader_;
};

// For the pipelined runners (shm, seed): gives the lane's built command its
// intended send time (the latency's origin), once. A card play in open loop
// takes the pacer's next time if one is due by now_ns, else stays untimed
// and this returns false (send it later); any other command is due now.
bool TimeCommand(Lane& lane, const GameFlow& flow, Pacer& pacer, std::uint64_t now_ns);

// For the pipelined runners, once play stops: `ready` becomes the indices of
// every lane with a game, each with Abandon as its next command (kReady);
// lanes without a game go idle.
void AbandonAll(GameFlow& flow, std::vector<Lane>& lanes, std::deque<std::uint32_t>& ready);

}  // namespace hokm::loadgen
