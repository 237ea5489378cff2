// engine_runner.cc: the synchronous runners: --mode embedded (hokm::Engine
// in this process, one shard per thread) and --mode rules (the pure rules).
// Each thread visits its lanes round robin and applies one command per
// visit; the answer is there when Apply returns.
#include <time.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/engine.h"
#include "core/rules/rules.h"
#include "loadgen/drivers/runners.h"

namespace hokm::loadgen {
namespace {

struct Outcome {
  core::CommandResult result;
  std::uint64_t game_id;
  std::uint32_t game_seq;
};

// Applies the lane's command until accepted, refused, or out of time.
// Returns false when Busy lasted past the deadline.
template <typename ApplyFn, typename ReadFn>
bool ApplyNow(Lane& lane, GameFlow& flow, ApplyFn& apply, ReadFn& read, std::uint64_t deadline_ns) {
  for (;;) {
    const Outcome o = apply(lane, lane.command);
    if (o.result == core::CommandResult::kOk) {
      core::GameState snap;
      const bool have = read(o.game_id, snap);
      flow.Accepted(lane, o.game_id, o.game_seq, have ? &snap : nullptr);
      return true;
    }
    if (o.result != core::CommandResult::kBusy) {
      flow.Refused(lane, o.result);
      return true;
    }
    flow.Busy();
    if (NowNs() >= deadline_ns) return false;
    timespec ts{0, 100'000};
    nanosleep(&ts, nullptr);
  }
}

// `view` reads players' views for --disconnect-rate (none: no reconnects).
template <typename ApplyFn, typename ReadFn>
void RunSyncLanes(ThreadContext& ctx, ApplyFn&& apply, ReadFn&& read,
                  PlayerViewReader view = nullptr) {
  ThreadResult& result = ctx.result;
  GameFlow flow(ctx.options, ctx.control, result, ctx.dump);
  flow.SetViewReader(std::move(view));
  std::vector<Lane> lanes(ctx.lanes);
  Pacer pacer(ctx.rate, ctx.control.start_ns(), ctx.options.ramp_s);
  Ramp ramp(ctx.control.start_ns(), ctx.options.ramp_s, lanes.size());
  const auto begin = [&](std::uint32_t i) { flow.Begin(lanes[i]); };

  std::uint64_t now = NowNs();
  std::uint64_t last_accepted = now;
  std::uint64_t busy_pause_ns = 0;
  bool any = true;
  while ((any || !ramp.done()) && !ctx.control.Expired(now)) {
    ramp.StartDue(now, begin);
    if (!any && !ramp.done()) {  // nothing running yet: wait for the next start
      WaitUntilNs(ramp.next_ns());
      now = NowNs();
      any = true;
      continue;
    }
    any = false;
    for (Lane& lane : lanes) {
      if (lane.step == Lane::Step::kIdle) continue;
      if (ctx.control.Expired(now)) break;
      any = true;
      flow.Build(lane);
      if (!lane.timed) {
        lane.timed = true;
        if (pacer.open_loop() && flow.IsCardPlay(lane)) {
          lane.intended_ns = pacer.Take();
          if (lane.intended_ns > now)
            PaceUntilNs(lane.intended_ns, ctx.options.pace_nap_us * 1000ull);
        } else {
          lane.intended_ns = NowNs();
        }
      }
      Outcome o = apply(lane, lane.command);
      now = NowNs();
      // Busy: the change ring is full until its consumer catches up. This
      // thread is the games' one client, so it retries this command, as a
      // blocked call would, and the other games wait for their turn (closed
      // loop: they have sent nothing yet; open loop: their intended times
      // pass and count). It pauses rather than spin, to give the consumer
      // the CPU: 50 us, doubling to 2 ms while Busy persists.
      while (o.result == core::CommandResult::kBusy) {
        flow.Busy();
        if (now - last_accepted > kBusyGiveUpNs) {
          result.fatal =
              "the change ring stayed full for 15 s: nothing consumes it. Start hokm-sidecar on "
              "segment '" +
              ctx.options.shm_name + "' or run with --drain";
          ctx.control.Stop();
          break;
        }
        if (ctx.control.Expired(now)) break;  // the game is abandoned at the end
        busy_pause_ns =
            busy_pause_ns == 0 ? 50'000 : std::min<std::uint64_t>(2 * busy_pause_ns, 2'000'000);
        timespec pause{0, static_cast<long>(busy_pause_ns)};
        nanosleep(&pause, nullptr);
        o = apply(lane, lane.command);
        now = NowNs();
      }
      if (o.result == core::CommandResult::kOk) {
        result.latency_ns.Record(now - lane.intended_ns);
        last_accepted = now;
        busy_pause_ns = 0;
        core::GameState snap;
        const bool have = read(o.game_id, snap);
        if (flow.Accepted(lane, o.game_id, o.game_seq, have ? &snap : nullptr)) flow.Begin(lane);
      } else if (o.result == core::CommandResult::kBusy) {
        if (!result.fatal.empty()) break;
      } else {
        flow.Refused(lane, o.result);
      }
    }
  }
  result.play_end_ns = NowNs();

  // Abandon what is still running, so every game ends in a known state and
  // the engine's table is left empty.
  const std::uint64_t deadline = NowNs() + kAbandonBudgetNs;
  for (Lane& lane : lanes) {
    if (lane.game_id == 0) continue;
    flow.BuildAbandon(lane);
    if (!ApplyNow(lane, flow, apply, read, deadline)) {
      result.errors.Add(1);
      GameFlow::ReportError("game " + std::to_string(lane.game_id) +
                            ": abandon still Busy at the end");
      flow.Leave(lane);
    }
  }
}

}  // namespace

void RunEmbeddedThread(Engine& engine, std::uint32_t shard, ThreadContext& ctx) {
  RunSyncLanes(
      ctx,
      [&engine, shard](Lane&, const core::Command& cmd) {
        const ApplyOutcome o = engine.Apply(shard, cmd);
        return Outcome{o.result, o.game_id, o.game_seq};
      },
      [&engine](std::uint64_t game_id, core::GameState& out) {
        return engine.Snapshot(game_id, out);
      },
      [&engine](std::uint64_t game_id, int seat) { return engine.PlayerView(game_id, seat); });
}

void RunRulesThread(ThreadContext& ctx) {
  core::GameState state;
  core::ChangeBuffer out;
  RunSyncLanes(
      ctx,
      [&state, &out](Lane& lane, const core::Command& cmd) {
        state = lane.view;
        core::Command c = cmd;
        if (c.type == core::CommandType::kCreateGame) {
          std::memset(static_cast<void*>(&state), 0, sizeof state);
          c.game_id = lane.ordinal + 1;  // ids 1..N, as before the engine existed
        }
        out.Clear();
        const core::CommandResult r = core::Apply(state, c, out);
        return Outcome{r, state.game_id, state.seq};
      },
      [&state](std::uint64_t, core::GameState& s) {
        s = state;
        return true;
      });
}

}  // namespace hokm::loadgen
