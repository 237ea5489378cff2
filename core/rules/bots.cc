// bots.cc: RandomBot and GreedyBot; both read only the state a seat may see
// in play (its hand, the table, trump) and always return a legal command.
#include "core/rules/bots.h"

#include <bit>
#include <cstring>

#include "core/rules/random.h"
#include "core/rules/rules.h"

namespace hokm::core {
namespace {

// Fills cmd for seat: zeroed with memset (Command{} would build a temporary,
// because RulesConfig has member defaults), no card, no suit.
void StartCommand(const GameState& s, int seat, CommandType type, Command& cmd) {
  std::memset(static_cast<void*>(&cmd), 0, sizeof cmd);
  cmd.type = type;
  cmd.seat = static_cast<std::uint8_t>(seat);
  cmd.card = kNoCard;
  cmd.suit = Suit::kNone;
  cmd.game_id = s.game_id;
}

// The n-th lowest card of m. REQUIRES: n < CountCards(m).
// Branch-free binary search by popcounts over halves of 32, 16, ... 1 bits:
// a random index makes any loop or branch here mispredict.
Card NthCard(CardMask m, int n) {
  int pos = 0;
  for (int width = 32; width > 0; width >>= 1) {
    const int below = std::popcount((m >> pos) & ((CardMask{1} << width) - 1));
    const int up = n >= below;  // 0 or 1
    pos += up * width;
    n -= up * below;
  }
  return static_cast<Card>(pos);
}

// The lowest-ranked card of m, ties broken by suit order (clubs first).
// REQUIRES: m != 0.
Card LowestCard(CardMask m) {
  Card best = kNoCard;
  int best_rank = kRanksPerSuit;
  for (int suit = 0; suit < 4; ++suit) {
    const CardMask in_suit = m & SuitMask(static_cast<Suit>(suit));
    if (in_suit == 0) continue;
    const Card c = static_cast<Card>(std::countr_zero(in_suit));
    if (RankOf(c) < best_rank) {
      best_rank = RankOf(c);
      best = c;
    }
  }
  return best;
}

// The highest-ranked card of m; on equal ranks a non-trump beats trump,
// then suit order. REQUIRES: m != 0.
Card HighestCard(CardMask m, Suit trump) {
  Card best = kNoCard;
  int best_key = -1;
  for (int suit = 0; suit < 4; ++suit) {
    const CardMask in_suit = m & SuitMask(static_cast<Suit>(suit));
    if (in_suit == 0) continue;
    const Card c = static_cast<Card>(63 - std::countl_zero(in_suit));
    const int key = RankOf(c) * 2 + (static_cast<Suit>(suit) == trump ? 0 : 1);
    if (key > best_key) {
      best_key = key;
      best = c;
    }
  }
  return best;
}

// Cards of m strictly above c in c's suit.
constexpr CardMask AboveInSuit(CardMask m, Card c) {
  return m & SuitMask(SuitOf(c)) & ~((Bit(c) << 1) - 1);
}

// The suit with most cards in hand; ties by higher rank sum, then suit order.
Suit StrongestSuit(CardMask hand) {
  Suit best = Suit::kClubs;
  int best_key = -1;
  for (int suit = 0; suit < 4; ++suit) {
    const CardMask in_suit = hand & SuitMask(static_cast<Suit>(suit));
    int rank_sum = 0;
    for (CardMask m = in_suit; m != 0; m &= m - 1) rank_sum += RankOf(std::countr_zero(m));
    // 13 cards * rank 12 < 256: the count dominates the key.
    const int key = std::popcount(in_suit) * 256 + rank_sum;
    if (key > best_key) {
      best_key = key;
      best = static_cast<Suit>(suit);
    }
  }
  return best;
}

// The hakem's choice of GreedyBot and TimeoutCommand.
Command StrongestSuitCommand(const GameState& s, int seat) {
  Command cmd;
  StartCommand(s, seat, CommandType::kChooseTrump, cmd);
  cmd.suit = StrongestSuit(s.hands[seat]);
  return cmd;
}

}  // namespace

Command RandomBot::NextCommand(const GameState& s) {
  const int seat = SeatToAct(s);
  Command cmd;
  if (s.phase == Phase::kChoosingTrump) {
    StartCommand(s, seat, CommandType::kChooseTrump, cmd);
    cmd.suit = static_cast<Suit>(RandomBelow(rng_, 4));
    return cmd;
  }
  StartCommand(s, seat, CommandType::kPlayCard, cmd);
  const CardMask legal = LegalCards(s, seat);
  cmd.card = NthCard(legal, static_cast<int>(RandomBelow(rng_, std::popcount(legal))));
  return cmd;
}

Command GreedyBot::NextCommand(const GameState& s) {
  const int seat = SeatToAct(s);
  Command cmd;
  if (s.phase == Phase::kChoosingTrump) return StrongestSuitCommand(s, seat);
  StartCommand(s, seat, CommandType::kPlayCard, cmd);
  const CardMask legal = LegalCards(s, seat);
  if (s.trick_size == 0) {
    // Leading: the highest card, which wins the trick more often than any
    // other lead; a side-suit card rather than trump of the same rank.
    cmd.card = HighestCard(legal, s.trump);
    return cmd;
  }

  // The card winning the trick so far.
  const Card led = s.trick[s.leader];
  const CardMask trump_mask = SuitMask(s.trump);
  CardMask table = 0;
  for (const Card c : s.trick) {
    if (c != kNoCard) table |= Bit(c);
  }
  const CardMask trumps_down = table & trump_mask;
  const CardMask pool = trumps_down ? trumps_down : table & SuitMask(SuitOf(led));
  const Card winning = static_cast<Card>(63 - std::countl_zero(pool));

  CardMask winners;
  if (SuitOf(winning) == s.trump) {
    winners = AboveInSuit(legal, winning);  // only a higher trump beats it
  } else {
    // A higher card of the led suit, or (when void in it) any trump.
    winners = AboveInSuit(legal, winning) | (legal & trump_mask);
  }
  // Among winners: follow-suit winners and trump winners never mix (a
  // player with the led suit may not trump), so the lowest is well defined.
  cmd.card = winners ? static_cast<Card>(std::countr_zero(winners)) : LowestCard(legal);
  return cmd;
}

Command TimeoutCommand(const GameState& s) {
  const int seat = SeatToAct(s);
  Command cmd;
  if (s.phase == Phase::kChoosingTrump) return StrongestSuitCommand(s, seat);
  StartCommand(s, seat, CommandType::kPlayCard, cmd);
  cmd.card = LowestCard(LegalCards(s, seat));
  return cmd;
}

}  // namespace hokm::core
