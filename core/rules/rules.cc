// rules.cc: the Hokm rules (docs/DESIGN.md §10) as pure, allocation-free functions
// over GameState; hands and tricks are bitmasks, so no hot-path loop visits
// the 52 cards.
#include "core/rules/rules.h"

#include <bit>
#include <cassert>
#include <cstring>

#include "core/rules/random.h"
#include "core/rules/utf8.h"

namespace hokm::core {
namespace {

constexpr Card kAceRank = kRanksPerSuit - 1;
constexpr int kTricksPerHand = kRanksPerSuit;  // 13
constexpr int kTricksToWinHand = 7;
constexpr int kHakemFirstDeal = 5;

constexpr bool IsOver(Phase p) { return p == Phase::kFinished || p == Phase::kAbandoned; }
constexpr bool IsLive(Phase p) {
  return p == Phase::kWaitingForPlayers || p == Phase::kChoosingTrump || p == Phase::kPlaying;
}
constexpr bool IsValidSeat(int seat) { return static_cast<unsigned>(seat) < kSeats; }

constexpr bool IsValidConfig(const RulesConfig& c) {
  return c.target_points >= 1 && c.target_points <= kMaxConfigPoints &&
         c.kot_points_hakem_team >= 1 && c.kot_points_hakem_team <= kMaxConfigPoints &&
         c.kot_points_opponents >= 1 && c.kot_points_opponents <= kMaxConfigPoints &&
         (c.first_hakem == FirstHakem::kFirstAce || c.first_hakem == FirstHakem::kSeededRandom);
}

// Appends a record stamped with the next game_seq; fields a type does not
// use stay zero (card kNoCard, suit kNone) so equal games give equal bytes.
// memset rather than `= Change{}`: RulesConfig's member defaults would make
// that a stack temporary plus a copy, the slowest part of a card play.
Change& Emit(GameState& s, ChangeBuffer& out, RecordType type) {
  assert(out.count < kMaxChangesPerCommand);
  Change& c = out.items[out.count++];
  std::memset(static_cast<void*>(&c), 0, sizeof c);
  c.type = type;
  c.card = kNoCard;
  c.suit = Suit::kNone;
  c.game_id = s.game_id;
  c.game_seq = ++s.seq;
  return c;
}

}  // namespace

// Fisher–Yates over the 52 cards, two draws per 64 random bits.
void ShuffleDeck(std::uint64_t& rng, Card deck[kCardsInDeck]) {
  for (int i = 0; i < kCardsInDeck; ++i) deck[i] = static_cast<Card>(i);
  for (int i = kCardsInDeck - 1; i > 0; i -= 2) {
    const std::uint64_t bits = NextRandom(rng);
    const std::uint32_t j = ScaleBelow(static_cast<std::uint32_t>(bits >> 32), i + 1);
    std::swap(deck[i], deck[j]);
    if (i > 1) {
      const std::uint32_t k = ScaleBelow(static_cast<std::uint32_t>(bits), i);
      std::swap(deck[i - 1], deck[k]);
    }
  }
}

namespace {

CardMask MaskOf(const Card* cards, int n) {
  CardMask m = 0;
  for (int i = 0; i < n; ++i) m |= Bit(cards[i]);
  return m;
}

std::uint8_t ChooseFirstHakem(GameState& s) {
  if (s.config.first_hakem == FirstHakem::kSeededRandom) {
    return static_cast<std::uint8_t>(RandomBelow(s.rng, kSeats));
  }
  // Dealt face up to seats 0, 1, 2, 3, 0, ...: the first ace names the hakem.
  Card deck[kCardsInDeck];
  ShuffleDeck(s.rng, deck);
  int i = 0;
  while (RankOf(deck[i]) != kAceRank) ++i;  // a deck holds four aces
  return static_cast<std::uint8_t>(i % kSeats);
}

void ResetTrick(GameState& s) {
  s.trick_size = 0;
  std::memset(s.trick, kNoCard, sizeof s.trick);
}

// Starts hand hand_no + 1 with s.hakem: shuffles, gives the hakem 5 cards
// now and parks the rest in pending until trump is named.
void DealHand(GameState& s, ChangeBuffer& out) {
  Card deck[kCardsInDeck];
  ShuffleDeck(s.rng, deck);
  const int h = s.hakem;
  s.hands[h] = MaskOf(deck, kHakemFirstDeal);
  s.pending[h] = MaskOf(deck + kHakemFirstDeal, kRanksPerSuit - kHakemFirstDeal);
  for (int i = 1; i < kSeats; ++i) {
    const int seat = (h + i) & 3;
    s.hands[seat] = 0;
    s.pending[seat] = MaskOf(deck + kRanksPerSuit * i, kRanksPerSuit);
  }
  ++s.hand_no;
  s.phase = Phase::kChoosingTrump;
  s.trump = Suit::kNone;
  s.turn = s.leader = s.hakem;
  s.trick_no = 0;
  s.tricks[0] = s.tricks[1] = 0;
  ResetTrick(s);

  Change& chosen = Emit(s, out, RecordType::kHakemChosen);
  chosen.seat = s.hakem;
  chosen.hand_no = s.hand_no;
  Change& dealt = Emit(s, out, RecordType::kCardsDealt);
  dealt.seat = s.hakem;
  dealt.cards = s.hands[h];
}

// The trick on the table is complete: credit the winner, maybe end the hand
// and the game.
void FinishTrick(GameState& s, ChangeBuffer& out) {
  const CardMask table = Bit(s.trick[0]) | Bit(s.trick[1]) | Bit(s.trick[2]) | Bit(s.trick[3]);
  const CardMask trumps = table & SuitMask(s.trump);
  const CardMask pool = trumps ? trumps : table & SuitMask(SuitOf(s.trick[s.leader]));
  const Card best = static_cast<Card>(63 - std::countl_zero(pool));
  const int winner = s.trick[0] == best ? 0 : s.trick[1] == best ? 1 : s.trick[2] == best ? 2 : 3;
  const int team = TeamOf(winner);

  ++s.tricks[team];
  ++s.trick_no;
  s.turn = s.leader = static_cast<std::uint8_t>(winner);
  ResetTrick(s);
  Change& won = Emit(s, out, RecordType::kTrickWon);
  won.seat = static_cast<std::uint8_t>(winner);
  won.trick_no = s.trick_no;
  won.tricks[0] = s.tricks[0];
  won.tricks[1] = s.tricks[1];

  const bool hand_over =
      s.config.play_all_tricks ? s.trick_no == kTricksPerHand : s.tricks[team] == kTricksToWinHand;
  if (!hand_over) return;

  // With play_all_tricks 13 is odd, so one team always has more.
  const int hand_winner = s.tricks[0] > s.tricks[1] ? 0 : 1;
  const int hakem_team = TeamOf(s.hakem);
  const bool kot = s.tricks[hand_winner ^ 1] == 0;
  std::uint8_t award = 1;
  if (kot) {
    award =
        hand_winner == hakem_team ? s.config.kot_points_hakem_team : s.config.kot_points_opponents;
  }
  s.points[hand_winner] = static_cast<std::uint8_t>(s.points[hand_winner] + award);

  Change& scored = Emit(s, out, RecordType::kHandScored);
  scored.hand_no = s.hand_no;
  scored.seat = s.hakem;
  scored.suit = s.trump;
  scored.winner_team = static_cast<std::uint8_t>(hand_winner);
  scored.points_awarded = award;
  scored.points[0] = s.points[0];
  scored.points[1] = s.points[1];
  scored.kot = kot;

  if (s.points[hand_winner] >= s.config.target_points) {
    s.phase = Phase::kFinished;
    s.winner_team = static_cast<std::uint8_t>(hand_winner);
    for (int seat = 0; seat < kSeats; ++seat) s.hands[seat] = s.pending[seat] = 0;
    Change& finished = Emit(s, out, RecordType::kGameFinished);
    finished.winner_team = s.winner_team;
    finished.points[0] = s.points[0];
    finished.points[1] = s.points[1];
    return;
  }
  if (hand_winner != hakem_team) s.hakem = static_cast<std::uint8_t>(NextSeat(s.hakem));
  DealHand(s, out);
}

}  // namespace

CommandResult CreateGame(GameState& s, std::uint64_t game_id, std::string_view room,
                         std::uint64_t seed, const RulesConfig& config, ChangeBuffer& out,
                         std::uint32_t turn_timeout_ms) {
  if (IsOver(s.phase)) return CommandResult::kGameOver;
  // The room goes to PostgreSQL text and JSON: the sidecar dead-letters a
  // GameCreated whose room is not clean UTF-8, which would leave the game
  // without its first record in the stores.
  if (room.size() > static_cast<std::size_t>(kRoomCodeLen) || !IsCleanUtf8(room) ||
      !IsValidConfig(config) || turn_timeout_ms > kMaxTurnTimeoutMs) {
    return CommandResult::kInvalidConfig;
  }
  if (s.phase != Phase::kEmpty) return CommandResult::kWrongPhase;

  s = GameState{};
  s.game_id = game_id;
  s.seed = seed;
  s.rng = seed;
  s.config = config;
  s.turn_timeout_ms = turn_timeout_ms;
  std::memcpy(s.room, room.data(), room.size());
  s.phase = Phase::kWaitingForPlayers;
  s.trump = Suit::kNone;
  ResetTrick(s);

  Change& c = Emit(s, out, RecordType::kGameCreated);
  c.seed = seed;
  c.config = config;
  c.turn_timeout_ms = turn_timeout_ms;
  std::memcpy(c.room, s.room, kRoomCodeLen);
  return CommandResult::kOk;
}

CommandResult Join(GameState& s, int seat, std::uint64_t player_id, ChangeBuffer& out) {
  if (IsOver(s.phase)) return CommandResult::kGameOver;
  if (!IsValidSeat(seat)) return CommandResult::kInvalidSeat;
  // The stores keep player ids as PostgreSQL bigint: one above 2^63-1 would
  // be seated here and dead-lettered there.
  if (player_id == 0 || player_id > kMaxPlayerId) return CommandResult::kInvalidPlayer;
  if (s.phase != Phase::kWaitingForPlayers) return CommandResult::kWrongPhase;
  if (s.player_ids[seat] != 0) return CommandResult::kSeatTaken;
  for (const std::uint64_t seated : s.player_ids) {
    if (seated == player_id) return CommandResult::kAlreadySeated;
  }

  s.player_ids[seat] = player_id;
  Change& c = Emit(s, out, RecordType::kPlayerJoined);
  c.seat = static_cast<std::uint8_t>(seat);
  c.player_id = player_id;

  for (const std::uint64_t seated : s.player_ids) {
    if (seated == 0) return CommandResult::kOk;
  }
  s.hakem = ChooseFirstHakem(s);
  DealHand(s, out);
  return CommandResult::kOk;
}

CommandResult Leave(GameState& s, int seat, ChangeBuffer& out) {
  if (IsOver(s.phase)) return CommandResult::kGameOver;
  if (!IsValidSeat(seat)) return CommandResult::kInvalidSeat;
  if (s.phase != Phase::kWaitingForPlayers) return CommandResult::kWrongPhase;
  if (s.player_ids[seat] == 0) return CommandResult::kSeatEmpty;

  Change& c = Emit(s, out, RecordType::kPlayerLeft);
  c.seat = static_cast<std::uint8_t>(seat);
  c.player_id = s.player_ids[seat];
  s.player_ids[seat] = 0;
  return CommandResult::kOk;
}

CommandResult ChooseTrump(GameState& s, int seat, Suit suit, ChangeBuffer& out) {
  if (IsOver(s.phase)) return CommandResult::kGameOver;
  if (!IsValidSeat(seat)) return CommandResult::kInvalidSeat;
  if (!IsValidSuit(suit)) return CommandResult::kInvalidSuit;
  if (s.phase != Phase::kChoosingTrump) return CommandResult::kWrongPhase;
  if (seat != s.hakem) return CommandResult::kNotHakem;

  s.trump = suit;
  Change& chosen = Emit(s, out, RecordType::kTrumpChosen);
  chosen.seat = s.hakem;
  chosen.suit = suit;
  for (int i = 0; i < kSeats; ++i) {
    const int to = (s.hakem + i) & 3;
    Change& dealt = Emit(s, out, RecordType::kCardsDealt);
    dealt.seat = static_cast<std::uint8_t>(to);
    dealt.cards = s.pending[to];
    s.hands[to] |= s.pending[to];
    s.pending[to] = 0;
  }
  s.phase = Phase::kPlaying;
  s.turn = s.leader = s.hakem;
  return CommandResult::kOk;
}

CommandResult PlayCard(GameState& s, int seat, Card card, ChangeBuffer& out) {
  if (IsOver(s.phase)) return CommandResult::kGameOver;
  if (!IsValidSeat(seat)) return CommandResult::kInvalidSeat;
  if (!IsValidCard(card)) return CommandResult::kInvalidCard;
  if (s.phase != Phase::kPlaying) return CommandResult::kWrongPhase;
  if (seat != s.turn) return CommandResult::kNotYourTurn;
  const CardMask hand = s.hands[seat];
  if (!(hand & Bit(card))) return CommandResult::kCardNotInHand;
  if (s.trick_size != 0) {
    const CardMask led = SuitMask(SuitOf(s.trick[s.leader]));
    if ((hand & led) && !(Bit(card) & led)) return CommandResult::kMustFollowSuit;
  }

  s.hands[seat] = hand & ~Bit(card);
  s.trick[seat] = card;
  Change& c = Emit(s, out, RecordType::kCardPlayed);
  c.seat = static_cast<std::uint8_t>(seat);
  c.card = card;
  if (++s.trick_size < kSeats) {
    s.turn = static_cast<std::uint8_t>(NextSeat(seat));
    return CommandResult::kOk;
  }
  FinishTrick(s, out);
  return CommandResult::kOk;
}

CommandResult Abandon(GameState& s, ChangeBuffer& out) {
  if (IsOver(s.phase)) return CommandResult::kGameOver;
  if (!IsLive(s.phase)) return CommandResult::kWrongPhase;

  s.phase = Phase::kAbandoned;
  Change& c = Emit(s, out, RecordType::kGameAbandoned);
  c.hand_no = s.hand_no;
  c.points[0] = s.points[0];
  c.points[1] = s.points[1];
  return CommandResult::kOk;
}

CommandResult SetConnected(GameState& s, int seat, bool connected, ChangeBuffer& out) {
  if (IsOver(s.phase)) return CommandResult::kGameOver;
  if (!IsValidSeat(seat)) return CommandResult::kInvalidSeat;
  if (!IsLive(s.phase)) return CommandResult::kWrongPhase;
  if (s.player_ids[seat] == 0) return CommandResult::kSeatEmpty;

  Change& c = Emit(s, out, RecordType::kPlayerConnection);
  c.seat = static_cast<std::uint8_t>(seat);
  c.player_id = s.player_ids[seat];
  c.connected = connected;
  return CommandResult::kOk;
}

CommandResult Apply(GameState& s, const Command& cmd, ChangeBuffer& out) {
  switch (cmd.type) {
    case CommandType::kPlayCard:
      return PlayCard(s, cmd.seat, cmd.card, out);
    case CommandType::kChooseTrump:
      return ChooseTrump(s, cmd.seat, cmd.suit, out);
    case CommandType::kCreateGame: {
      std::size_t len = 0;
      while (len < static_cast<std::size_t>(kRoomCodeLen) && cmd.room[len] != '\0') ++len;
      return CreateGame(s, cmd.game_id, std::string_view(cmd.room, len), cmd.seed, cmd.config, out,
                        cmd.turn_timeout_ms);
    }
    case CommandType::kJoin:
      return Join(s, cmd.seat, cmd.player_id, out);
    case CommandType::kLeave:
      return Leave(s, cmd.seat, out);
    case CommandType::kAbandon:
      return Abandon(s, out);
    case CommandType::kSetConnected:
      return SetConnected(s, cmd.seat, cmd.connected, out);
  }
  return CommandResult::kInvalidCommand;
}

}  // namespace hokm::core
