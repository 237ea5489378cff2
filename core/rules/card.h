// card.h: cards, suits and hands as bitmasks: the vocabulary of the rules core.
#pragma once

#include <bit>
#include <cstdint>

namespace hokm::core {

// A card is 0..51: suit * 13 + rank, rank 0 = '2' ... 12 = 'A' (ace high).
using Card = std::uint8_t;
inline constexpr Card kNoCard = 0xFF;
inline constexpr int kCardsInDeck = 52;
inline constexpr int kRanksPerSuit = 13;

enum class Suit : std::uint8_t {
  kClubs = 0,
  kDiamonds = 1,
  kHearts = 2,
  kSpades = 3,
  kNone = 0xFF
};

// A set of cards: bit c is card c.
using CardMask = std::uint64_t;
inline constexpr CardMask kFullDeck = (CardMask{1} << kCardsInDeck) - 1;

constexpr Card MakeCard(Suit suit, int rank) {
  return static_cast<Card>(static_cast<int>(suit) * kRanksPerSuit + rank);
}
constexpr Suit SuitOf(Card c) { return static_cast<Suit>(c / kRanksPerSuit); }
constexpr int RankOf(Card c) { return c % kRanksPerSuit; }
constexpr bool IsValidCard(Card c) { return c < kCardsInDeck; }
constexpr bool IsValidSuit(Suit s) { return static_cast<std::uint8_t>(s) < 4; }
constexpr CardMask Bit(Card c) { return CardMask{1} << c; }
constexpr CardMask SuitMask(Suit s) {
  return CardMask{0x1FFF} << (static_cast<int>(s) * kRanksPerSuit);
}
constexpr int CountCards(CardMask m) { return std::popcount(m); }

// "TS", "2C", "AH": rank then suit. Writes 2 chars to out (no terminator).
// REQUIRES: IsValidCard(c).
inline void CardName(Card c, char out[2]) {
  static constexpr char kRanks[] = "23456789TJQKA";
  static constexpr char kSuits[] = "CDHS";
  out[0] = kRanks[RankOf(c)];
  out[1] = kSuits[static_cast<int>(SuitOf(c))];
}
// 'C' 'D' 'H' 'S'; '-' for kNone.
inline char SuitName(Suit s) { return IsValidSuit(s) ? "CDHS"[static_cast<int>(s)] : '-'; }

inline constexpr int kSeats = 4;
constexpr int TeamOf(int seat) { return seat & 1; }
constexpr int NextSeat(int seat) { return (seat + 1) & 3; }

}  // namespace hokm::core
