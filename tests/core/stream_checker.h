// stream_checker.h: the referee of the rules property test: a game's
// records checked one by one against the invariants of docs/DESIGN.md §4
// and §10 by an independent tally (seats, deals, follow suit, tricks,
// scores, the end), never by consulting the rules' own state. The rules
// property test feeds it games played in memory; the restore test
// (tests/integration/restore_test.cc) feeds it games read back from
// PostgreSQL.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "core/records/change.h"
#include "core/rules/card.h"
#include "core/rules/game_state.h"

namespace hokm::core {

// Replays a game's records and checks each against what came before; the
// rules' own state is consulted only to compare at the end.
class StreamChecker {
 public:
  explicit StreamChecker(const RulesConfig& config) : config_(config) {}

  // Checks one record; returns false (after a gtest failure) on the first
  // violation so a broken game stops early.
  bool Check(const Change& c) {
    EXPECT_FALSE(finished_) << "record after GameFinished";
    EXPECT_EQ(c.game_seq, ++seq_) << "game_seq not contiguous";
    EXPECT_EQ(c.game_id, game_id_);
    switch (c.type) {
      case RecordType::kGameCreated:
        EXPECT_EQ(c.game_seq, 1u);
        break;
      case RecordType::kPlayerJoined:
        ++joined_;
        break;
      case RecordType::kHakemChosen:
        EXPECT_EQ(joined_, 4);
        EXPECT_EQ(c.hand_no, hand_no_ + 1);
        if (hand_no_ > 0) {
          EXPECT_EQ(c.seat, next_hakem_);
        }
        hand_no_ = c.hand_no;
        hakem_ = c.seat;
        dealt_ = 0;
        dealt_count_ = 0;
        deals_ = 0;
        tricks_[0] = tricks_[1] = 0;
        trick_no_ = 0;
        for (CardMask& h : hands_) h = 0;
        break;
      case RecordType::kCardsDealt: {
        const int want = deals_ == 0 ? 5 : deals_ == 1 ? 8 : 13;
        const int want_seat = deals_ == 0 ? hakem_ : (hakem_ + deals_ - 1) % 4;
        EXPECT_EQ(CountCards(c.cards), want);
        EXPECT_EQ(c.seat, want_seat);
        EXPECT_EQ(dealt_ & c.cards, 0u) << "a card dealt twice in hand " << hand_no_;
        dealt_ |= c.cards;
        dealt_count_ += CountCards(c.cards);
        hands_[c.seat] |= c.cards;
        if (++deals_ == 5) {
          EXPECT_EQ(dealt_, kFullDeck);
          EXPECT_EQ(dealt_count_, 52);
        }
        break;
      }
      case RecordType::kTrumpChosen:
        EXPECT_EQ(deals_, 1);
        EXPECT_EQ(c.seat, hakem_);
        trump_ = c.suit;
        on_table_ = 0;
        break;
      case RecordType::kCardPlayed:
        EXPECT_EQ(deals_, 5);
        EXPECT_NE(hands_[c.seat] & Bit(c.card), 0u) << "card not in hand";
        if (on_table_ == 0) {
          led_ = SuitOf(c.card);
          leader_ = c.seat;
        } else {
          EXPECT_EQ(c.seat, (last_seat_ + 1) % 4);
          if (hands_[c.seat] & SuitMask(led_)) {
            EXPECT_EQ(SuitOf(c.card), led_) << "revoke";
          }
        }
        hands_[c.seat] &= ~Bit(c.card);
        table_[c.seat] = c.card;
        last_seat_ = c.seat;
        ++on_table_;
        ++card_plays_;
        break;
      case RecordType::kTrickWon: {
        EXPECT_EQ(on_table_, 4);
        on_table_ = 0;
        int winner = leader_;
        for (int k = 1; k < 4; ++k) {
          const int seat = (leader_ + k) % 4;
          if (Beats(table_[seat], table_[winner])) winner = seat;
        }
        EXPECT_EQ(c.seat, winner);
        ++tricks_[TeamOf(winner)];
        ++trick_no_;
        EXPECT_EQ(c.trick_no, trick_no_);
        EXPECT_EQ(c.tricks[0], tricks_[0]);
        EXPECT_EQ(c.tricks[1], tricks_[1]);
        break;
      }
      case RecordType::kHandScored: {
        const int winner = tricks_[0] > tricks_[1] ? 0 : 1;
        if (config_.play_all_tricks) {
          EXPECT_EQ(trick_no_, 13);
        } else {
          EXPECT_EQ(tricks_[winner], 7);
        }
        const bool kot = tricks_[winner ^ 1] == 0;
        const int award = !kot                       ? 1
                          : winner == TeamOf(hakem_) ? config_.kot_points_hakem_team
                                                     : config_.kot_points_opponents;
        points_[winner] += award;
        EXPECT_EQ(c.winner_team, winner);
        EXPECT_EQ(c.kot, kot);
        EXPECT_EQ(c.points_awarded, award);
        EXPECT_EQ(c.points[0], points_[0]);
        EXPECT_EQ(c.points[1], points_[1]);
        EXPECT_EQ(c.seat, hakem_);
        EXPECT_EQ(c.suit, trump_);
        EXPECT_EQ(c.hand_no, hand_no_);
        next_hakem_ = winner == TeamOf(hakem_) ? hakem_ : (hakem_ + 1) % 4;
        last_winner_ = winner;
        kots_ += kot;
        break;
      }
      case RecordType::kGameFinished:
        EXPECT_EQ(c.winner_team, last_winner_);
        EXPECT_GE(points_[c.winner_team], config_.target_points);
        EXPECT_LT(points_[c.winner_team ^ 1], config_.target_points);
        EXPECT_EQ(c.points[0], points_[0]);
        EXPECT_EQ(c.points[1], points_[1]);
        finished_ = true;
        break;
      default:
        ADD_FAILURE() << "unexpected " << RecordTypeName(c.type);
    }
    return !::testing::Test::HasFailure();
  }

  void set_game_id(std::uint64_t id) { game_id_ = id; }
  bool finished() const { return finished_; }
  long card_plays() const { return card_plays_; }
  int kots() const { return kots_; }

 private:
  // Whether a, played after b, takes the trick from b (b leads the trick so
  // far, so it is of the led suit or a trump).
  bool Beats(Card a, Card b) const {
    if (SuitOf(a) == SuitOf(b)) return RankOf(a) > RankOf(b);
    return SuitOf(a) == trump_;
  }

  RulesConfig config_;
  std::uint64_t game_id_ = 0;
  std::uint32_t seq_ = 0;
  int joined_ = 0;
  int hand_no_ = 0;
  int hakem_ = -1;
  int next_hakem_ = -1;
  int deals_ = 0;
  int dealt_count_ = 0;
  CardMask dealt_ = 0;
  CardMask hands_[4] = {};
  Suit trump_ = Suit::kNone;
  Suit led_ = Suit::kNone;
  Card table_[4] = {};
  int on_table_ = 0;
  int last_seat_ = 0;
  int leader_ = 0;
  int tricks_[2] = {};
  int trick_no_ = 0;
  int points_[2] = {};
  int last_winner_ = -1;
  bool finished_ = false;
  long card_plays_ = 0;
  int kots_ = 0;
};

}  // namespace hokm::core
