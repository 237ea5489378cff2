// game_flow.cc: lanes' commands and the booking of accepted ones (see
// game_flow.h).
#include "loadgen/drivers/game_flow.h"

#include <cstdio>
#include <cstring>
#include <limits>

#include "core/records/change.h"
#include "core/records/change_json.h"
#include "core/rules/random.h"
#include "core/rules/rules.h"
#include "service/log.h"

namespace hokm::loadgen {
namespace {

constexpr int kMaxReportedErrors = 5;
std::atomic<int> g_reported_errors{0};

const char* CommandTypeName(core::CommandType t) {
  switch (t) {
    case core::CommandType::kCreateGame:
      return "CreateGame";
    case core::CommandType::kJoin:
      return "Join";
    case core::CommandType::kLeave:
      return "Leave";
    case core::CommandType::kChooseTrump:
      return "ChooseTrump";
    case core::CommandType::kPlayCard:
      return "PlayCard";
    case core::CommandType::kAbandon:
      return "Abandon";
    case core::CommandType::kSetConnected:
      return "SetConnected";
  }
  return "?";
}

void ZeroCommand(core::Command& c) {
  std::memset(static_cast<void*>(&c), 0, sizeof c);
  c.card = core::kNoCard;
  c.suit = core::Suit::kNone;
}

}  // namespace

RunControl::RunControl(std::uint64_t total_games_cap, double duration_s)
    : cap_(total_games_cap),
      start_ns_(NowNs()),
      deadline_ns_(duration_s > 0 ? start_ns_ + static_cast<std::uint64_t>(duration_s * 1e9) : 0) {}

bool RunControl::TakeGame(std::uint64_t* ordinal) {
  if (Expired(NowNs())) return false;
  const std::uint64_t k = next_.fetch_add(1, std::memory_order_relaxed);
  if (k >= cap_) return false;
  *ordinal = k;
  return true;
}

std::uint64_t RunControl::games_started() const {
  const std::uint64_t n = next_.load(std::memory_order_relaxed);
  return n < cap_ ? n : cap_;
}

GameFlow::GameFlow(const LoadgenOptions& options, RunControl& control, ThreadResult& result,
                   DumpWriter::Part* dump)
    : options_(options), control_(control), result_(result), dump_(dump) {}

void GameFlow::ReportError(const std::string& message) {
  const int n = g_reported_errors.fetch_add(1, std::memory_order_relaxed);
  if (n < kMaxReportedErrors) {
    service::LogError(message);
  } else if (n == kMaxReportedErrors) {
    service::LogError("(further errors are only counted)");
  }
}

bool GameFlow::Begin(Lane& lane) {
  std::uint64_t ordinal;
  lane.has_command = false;
  lane.timed = false;
  lane.abandoning = false;
  lane.joined = 0;
  lane.game_id = 0;
  lane.dump.clear();
  std::memset(static_cast<void*>(&lane.view), 0, sizeof lane.view);
  if (!control_.TakeGame(&ordinal)) {
    lane.step = Lane::Step::kIdle;
    return false;
  }
  lane.ordinal = ordinal;
  lane.bot = core::RandomBot(core::MixSeed(core::MixSeed(options_.seed, ordinal), 1));
  lane.reconnect = Lane::Reconnect::kNone;
  lane.turn_drawn = false;
  lane.disconnect_rng = core::MixSeed(core::MixSeed(options_.seed, ordinal), 2);
  lane.step = Lane::Step::kReady;
  return true;
}

void GameFlow::Build(Lane& lane) {
  if (lane.has_command) return;
  core::Command& c = lane.command;
  if (lane.abandoning) {
    ZeroCommand(c);
    c.type = core::CommandType::kAbandon;
    c.game_id = lane.game_id;
  } else if (lane.game_id == 0) {
    ZeroCommand(c);
    c.type = core::CommandType::kCreateGame;
    c.seed = core::MixSeed(options_.seed, lane.ordinal);
    c.config = options_.rules;
    c.turn_timeout_ms = options_.turn_timeout_ms;
    std::memcpy(c.room, "loadgen", 7);
  } else if (lane.joined < core::kSeats) {
    ZeroCommand(c);
    c.type = core::CommandType::kJoin;
    c.game_id = lane.game_id;
    c.seat = lane.joined;
    c.player_id = kPlayerBase + (lane.ordinal * core::kSeats + lane.joined) % kPlayerPool;
  } else if (BuildReconnect(lane)) {
    // a connection change first; the turn is played after the reconnect
  } else if (options_.bots == core::BotKind::kGreedy) {
    c = greedy_.NextCommand(lane.view);
  } else {
    c = lane.bot.NextCommand(lane.view);
  }
  lane.has_command = true;
  lane.timed = false;
}

void GameFlow::BuildAbandon(Lane& lane) {
  lane.abandoning = true;
  lane.has_command = false;
  Build(lane);
}

bool GameFlow::Accepted(Lane& lane, std::uint64_t game_id, std::uint32_t game_seq,
                        const core::GameState* fresh) {
  const core::Command& cmd = lane.command;
  const bool create = cmd.type == core::CommandType::kCreateGame;
  if (create) std::memset(static_cast<void*>(&lane.view), 0, sizeof lane.view);
  const std::uint32_t before = lane.view.seq;

  // Replay on our copy: the rules are deterministic, so this yields the very
  // records the engine published (for --dump) and, when the game is gone,
  // its final state.
  core::GameState replayed;
  if (dump_ != nullptr || fresh == nullptr) {
    replayed = lane.view;
    core::Command c = cmd;
    if (create) c.game_id = game_id;
    core::ChangeBuffer out;
    const core::CommandResult r = core::Apply(replayed, c, out);
    if (r != core::CommandResult::kOk || replayed.seq != game_seq) {
      result_.errors.Add(1);
      ReportError("game " + std::to_string(game_id) + ": replaying " + CommandTypeName(cmd.type) +
                  " locally gave " + core::CommandResultName(r) + " at seq " +
                  std::to_string(replayed.seq) + ", the engine answered seq " +
                  std::to_string(game_seq));
    } else if (dump_ != nullptr) {
      for (const core::Change& ch : out) {
        core::AppendChangeJson(ch, lane.dump);
        lane.dump += '\n';
      }
    }
    if (fresh == nullptr) fresh = &replayed;
  }
  if (cmd.type == core::CommandType::kSetConnected) ConnectionChanged(lane, game_id);
  lane.view = *fresh;
  lane.view.seq = game_seq;
  lane.game_id = game_id;
  lane.has_command = false;
  lane.timed = false;
  if (cmd.type == core::CommandType::kJoin) ++lane.joined;
  if (cmd.type == core::CommandType::kPlayCard || cmd.type == core::CommandType::kChooseTrump)
    lane.turn_drawn = false;  // the next turn draws anew

  result_.commands.Add(1);
  result_.records.Add(game_seq - before);
  if (cmd.type == core::CommandType::kPlayCard) result_.card_plays.Add(1);

  const core::Phase phase = lane.view.phase;
  if (phase != core::Phase::kFinished && phase != core::Phase::kAbandoned) return false;
  if (phase == core::Phase::kFinished) result_.games_completed.Add(1);
  EndGame(lane);
  return true;
}

void GameFlow::EndGame(Lane& lane) {
  GameRecord g;
  g.game_id = lane.game_id;
  g.last_seq = lane.view.seq;
  g.phase = lane.view.phase;
  g.points[0] = lane.view.points[0];
  g.points[1] = lane.view.points[1];
  if (lane.view.phase != core::Phase::kEmpty)
    g.final_state = sidecar::PublicState::FromGame(lane.view);
  result_.games.push_back(g);
  if (dump_ != nullptr) dump_->AppendGame(lane.game_id, lane.dump);
  lane.dump.clear();
  lane.game_id = 0;
  lane.step = Lane::Step::kIdle;
}

void GameFlow::Refused(Lane& lane, core::CommandResult r) {
  result_.errors.Add(1);
  ReportError((lane.game_id ? "game " + std::to_string(lane.game_id) : std::string("a new game")) +
              ": " + CommandTypeName(lane.command.type) + " refused with " +
              core::CommandResultName(r));
  lane.has_command = false;
  if (lane.game_id == 0) {
    lane.step = Lane::Step::kIdle;  // could not create: stop this lane
  } else if (lane.abandoning) {
    Leave(lane);
  } else {
    BuildAbandon(lane);
  }
}

void GameFlow::Leave(Lane& lane) {
  if (lane.game_id != 0) EndGame(lane);
  lane.step = Lane::Step::kIdle;
}

bool GameFlow::BuildReconnect(Lane& lane) {
  if (!view_reader_ || options_.disconnect_rate <= 0) return false;
  const core::Phase phase = lane.view.phase;
  if (phase != core::Phase::kChoosingTrump && phase != core::Phase::kPlaying) return false;
  if (lane.reconnect == Lane::Reconnect::kNone) {
    if (lane.turn_drawn) return false;
    lane.turn_drawn = true;
    // 53 random bits as a fraction in [0, 1).
    const double draw =
        static_cast<double>(core::NextRandom(lane.disconnect_rng) >> 11) * 0x1.0p-53;
    if (draw >= options_.disconnect_rate) return false;
    lane.reconnect = Lane::Reconnect::kDisconnect;
    lane.reconnect_seat = static_cast<std::uint8_t>(lane.view.turn & 3u);
  }
  core::Command& c = lane.command;
  ZeroCommand(c);
  c.type = core::CommandType::kSetConnected;
  c.game_id = lane.game_id;
  c.seat = lane.reconnect_seat;
  c.connected = lane.reconnect == Lane::Reconnect::kConnect;
  return true;
}

void GameFlow::ConnectionChanged(Lane& lane, std::uint64_t game_id) {
  if (lane.reconnect == Lane::Reconnect::kDisconnect) {
    lane.reconnect = Lane::Reconnect::kConnect;
    return;
  }
  if (lane.reconnect != Lane::Reconnect::kConnect) return;
  lane.reconnect = Lane::Reconnect::kNone;
  result_.reconnects.Add(1);
  const int seat = lane.reconnect_seat;
  // What the player must see: the rules' state after the reconnect, from
  // the state before it (as read back after the disconnect).
  core::GameState want = lane.view;
  core::ChangeBuffer out;
  const core::CommandResult applied = core::Apply(want, lane.command, out);
  const Result<core::PlayerView> got = view_reader_(game_id, seat);
  std::string wrong;
  if (applied != core::CommandResult::kOk) {
    wrong = std::string("the reconnect replayed locally gave ") + core::CommandResultName(applied);
  } else if (!got.ok()) {
    wrong = got.status().message();
  } else if (got->seat != seat || got->player_id != want.player_ids[seat]) {
    wrong = "the view is of seat " + std::to_string(got->seat) + ", player " +
            std::to_string(got->player_id);
  } else if (got->hand != want.hands[seat]) {
    wrong = "the view's hand is not the seat's hand";
  } else if (!(got->state == core::PublicState::FromGame(want))) {
    wrong = "the view's public state is not the game's";
  }
  if (wrong.empty()) return;
  result_.reconnect_mismatches.Add(1);
  ReportError("game " + std::to_string(game_id) + ", seat " + std::to_string(seat) +
              " reconnected: " + wrong);
}

bool TimeCommand(Lane& lane, const GameFlow& flow, Pacer& pacer, std::uint64_t now_ns) {
  if (lane.timed) return true;
  if (pacer.open_loop() && flow.IsCardPlay(lane)) {
    if (!pacer.Due(now_ns)) return false;
    lane.intended_ns = pacer.Take();
  } else {
    lane.intended_ns = now_ns;
  }
  lane.timed = true;
  return true;
}

void AbandonAll(GameFlow& flow, std::vector<Lane>& lanes, std::deque<std::uint32_t>& ready) {
  ready.clear();
  for (std::uint32_t i = 0; i < lanes.size(); ++i) {
    Lane& lane = lanes[i];
    if (lane.game_id == 0) {
      lane.step = Lane::Step::kIdle;
      continue;
    }
    flow.BuildAbandon(lane);
    lane.step = Lane::Step::kReady;
    ready.push_back(i);
  }
}

}  // namespace hokm::loadgen
