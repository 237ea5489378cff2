// core_bench.cc: hokm::core hot paths: one card play through the rules, whole
// games of rules + bot, and the FlatBuffers encode/decode of a change record.
#include <benchmark/benchmark.h>

#include <vector>

#include "core/records/record_codec.h"
#include "core/rules/bots.h"
#include "core/rules/random.h"
#include "core/rules/rules.h"

namespace hokm::core {
namespace {

// Starts a game with four players seated: phase kChoosingTrump.
void SeatPlayers(GameState& s, std::uint64_t game_id, std::uint64_t seed, ChangeBuffer& out) {
  s = GameState{};
  out.Clear();
  (void)CreateGame(s, game_id, "bench", seed, RulesConfig{}, out);
  for (int seat = 0; seat < kSeats; ++seat) {
    out.Clear();
    (void)Join(s, seat, seat + 1, out);
  }
}

struct Position {
  GameState state;
  Card card;
};

// Every card play of a few random games, as (state before, card): the mix of
// leads, follows, trick ends, hand ends (with the next deal) that games have.
std::vector<Position> SamplePositions() {
  std::vector<Position> positions;
  GameState s;
  ChangeBuffer out;
  for (std::uint64_t game = 0; game < 8; ++game) {
    SeatPlayers(s, game + 1, MixSeed(1, game), out);
    RandomBot bot(game);
    while (SeatToAct(s) >= 0) {
      const Command cmd = bot.NextCommand(s);
      if (cmd.type == CommandType::kPlayCard) positions.push_back({s, cmd.card});
      out.Clear();
      (void)Apply(s, cmd, out);
    }
  }
  return positions;
}

// One PlayCard on a prepared state, restored from its saved copy (a 160-byte
// copy) each time.
void BM_ApplyCardPlay(benchmark::State& state) {
  const std::vector<Position> positions = SamplePositions();
  ChangeBuffer out;
  GameState s;
  std::size_t i = 0;
  for (auto _ : state) {
    const Position& p = positions[i];
    if (++i == positions.size()) i = 0;
    s = p.state;
    out.Clear();
    const CommandResult r = PlayCard(s, s.turn, p.card, out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(&s);
    benchmark::DoNotOptimize(&out);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["positions"] = static_cast<double>(positions.size());
}
BENCHMARK(BM_ApplyCardPlay);

// One iteration = one whole game with one bot playing all four seats: create,
// four joins, every trump choice and card play. Items are card plays.
template <typename MakeBot>
void PlayGames(benchmark::State& state, MakeBot make_bot) {
  GameState s;
  ChangeBuffer out;
  std::int64_t card_plays = 0;
  std::uint64_t game = 0;
  for (auto _ : state) {
    ++game;
    SeatPlayers(s, game, MixSeed(2, game), out);
    auto bot = make_bot(game);
    while (SeatToAct(s) >= 0) {
      const Command cmd = bot.NextCommand(s);
      card_plays += cmd.type == CommandType::kPlayCard;
      out.Clear();
      const CommandResult r = Apply(s, cmd, out);
      benchmark::DoNotOptimize(r);
    }
    benchmark::DoNotOptimize(&s);
    benchmark::DoNotOptimize(&out);
  }
  state.SetItemsProcessed(card_plays);
  state.counters["plays_per_game"] =
      static_cast<double>(card_plays) / static_cast<double>(state.iterations());
}

void BM_PlayFullGame(benchmark::State& state) {
  PlayGames(state, [](std::uint64_t game) { return RandomBot(MixSeed(3, game)); });
}
BENCHMARK(BM_PlayFullGame);

void BM_PlayFullGameGreedy(benchmark::State& state) {
  PlayGames(state, [](std::uint64_t) { return GreedyBot(); });
}
BENCHMARK(BM_PlayFullGameGreedy);

Change SampleCardPlayed() {
  Change c{};
  c.type = RecordType::kCardPlayed;
  c.game_id = 123456789;
  c.game_seq = 77;
  c.seat = 2;
  c.card = 40;
  c.suit = Suit::kNone;
  return c;
}

// One CardPlayed into a reused FlatBufferBuilder (Clear + build + finish).
void BM_EncodeRecord(benchmark::State& state) {
  const Change c = SampleCardPlayed();
  flatbuffers::FlatBufferBuilder fbb(256);
  std::uint64_t ts = 1;
  for (auto _ : state) {
    EncodeRecord(c, ++ts, fbb);
    benchmark::DoNotOptimize(fbb.GetBufferPointer());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = static_cast<double>(fbb.GetSize());
}
BENCHMARK(BM_EncodeRecord);

// Verifier + range checks + copy into a Change: what a sink pays per record.
void BM_DecodeRecord(benchmark::State& state) {
  flatbuffers::FlatBufferBuilder fbb(256);
  EncodeRecord(SampleCardPlayed(), 1, fbb);
  const std::vector<std::uint8_t> bytes(fbb.GetBufferPointer(),
                                        fbb.GetBufferPointer() + fbb.GetSize());
  Change out;
  for (auto _ : state) {
    const DecodeError e = DecodeRecord(bytes.data(), bytes.size(), &out);
    benchmark::DoNotOptimize(e);
    benchmark::DoNotOptimize(&out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeRecord);

}  // namespace
}  // namespace hokm::core
