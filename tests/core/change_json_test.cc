// change_json_test.cc: the exact JSON line of every change record type, as
// `hokm-loadgen --dump` writes it.
#include "core/records/change_json.h"

#include <gtest/gtest.h>

#include <cstring>

#include "core_test_util.h"

namespace hokm::core {
namespace {

using testing::C;
using testing::Cards;

Change Record(RecordType type) {
  Change c{};
  c.type = type;
  c.card = kNoCard;
  c.suit = Suit::kNone;
  c.game_id = 12;
  c.game_seq = 34;
  return c;
}

TEST(ChangeJsonTest, GameCreatedCarriesRoomSeedAndConfig) {
  Change c = Record(RecordType::kGameCreated);
  std::memcpy(c.room, "lobby", 5);
  c.seed = 18446744073709551615ull;
  c.config.play_all_tricks = true;
  c.config.kot_points_hakem_team = 2;
  c.config.kot_points_opponents = 3;
  c.config.target_points = 7;
  c.config.first_hakem = FirstHakem::kSeededRandom;
  EXPECT_EQ(ChangeJson(c),
            R"({"game_id": 12, "seq": 34, "type": "GameCreated", "room": "lobby", )"
            R"("seed": 18446744073709551615, "play_all_tricks": true, "kot_points_hakem_team": 2, )"
            R"("kot_points_opponents": 3, "target_points": 7, "first_hakem": "seeded_random"})");
}

TEST(ChangeJsonTest, RoomBytesAreEscaped) {
  Change c = Record(RecordType::kGameCreated);
  std::memcpy(c.room, "a\"b\\c\n\xC3\x01", 8);  // all 8 bytes, no terminator
  c.config = RulesConfig{};
  EXPECT_EQ(
      ChangeJson(c),
      R"({"game_id": 12, "seq": 34, "type": "GameCreated", "room": "a\"b\\c\u000a\u00c3\u0001", )"
      R"("seed": 0, "play_all_tricks": false, "kot_points_hakem_team": 2, )"
      R"("kot_points_opponents": 3, "target_points": 7, "first_hakem": "first_ace"})");
}

TEST(ChangeJsonTest, SeatRecordsCarrySeatAndPlayer) {
  Change c = Record(RecordType::kPlayerJoined);
  c.seat = 3;
  c.player_id = 9001;
  EXPECT_EQ(ChangeJson(c),
            R"({"game_id": 12, "seq": 34, "type": "PlayerJoined", "seat": 3, "player_id": 9001})");
  c.type = RecordType::kPlayerLeft;
  EXPECT_EQ(ChangeJson(c),
            R"({"game_id": 12, "seq": 34, "type": "PlayerLeft", "seat": 3, "player_id": 9001})");
  c.type = RecordType::kPlayerConnection;
  c.connected = false;
  EXPECT_EQ(ChangeJson(c), R"({"game_id": 12, "seq": 34, "type": "PlayerConnection", "seat": 3, )"
                           R"("player_id": 9001, "connected": false})");
}

TEST(ChangeJsonTest, HakemTrumpAndDealRecords) {
  Change h = Record(RecordType::kHakemChosen);
  h.seat = 2;
  h.hand_no = 5;
  EXPECT_EQ(ChangeJson(h),
            R"({"game_id": 12, "seq": 34, "type": "HakemChosen", "seat": 2, "hand_no": 5})");
  Change t = Record(RecordType::kTrumpChosen);
  t.seat = 2;
  t.suit = Suit::kDiamonds;
  EXPECT_EQ(ChangeJson(t),
            R"({"game_id": 12, "seq": 34, "type": "TrumpChosen", "seat": 2, "suit": "D"})");
  Change d = Record(RecordType::kCardsDealt);
  d.seat = 1;
  d.cards = Cards({"AS", "2C", "TD", "KH", "9C"});
  EXPECT_EQ(ChangeJson(d), R"({"game_id": 12, "seq": 34, "type": "CardsDealt", "seat": 1, )"
                           R"("cards": ["2C", "9C", "TD", "KH", "AS"]})");
}

TEST(ChangeJsonTest, PlayRecords) {
  Change p = Record(RecordType::kCardPlayed);
  p.seat = 0;
  p.card = C("TS");
  EXPECT_EQ(ChangeJson(p),
            R"({"game_id": 12, "seq": 34, "type": "CardPlayed", "seat": 0, "card": "TS"})");
  Change w = Record(RecordType::kTrickWon);
  w.seat = 3;
  w.trick_no = 9;
  w.tricks[0] = 4;
  w.tricks[1] = 5;
  EXPECT_EQ(ChangeJson(w), R"({"game_id": 12, "seq": 34, "type": "TrickWon", "seat": 3, )"
                           R"("trick_no": 9, "tricks": [4, 5]})");
}

TEST(ChangeJsonTest, ScoreRecords) {
  Change s = Record(RecordType::kHandScored);
  s.hand_no = 6;
  s.seat = 1;
  s.suit = Suit::kClubs;
  s.winner_team = 0;
  s.points_awarded = 3;
  s.points[0] = 6;
  s.points[1] = 2;
  s.kot = true;
  EXPECT_EQ(ChangeJson(s), R"({"game_id": 12, "seq": 34, "type": "HandScored", "hand_no": 6, )"
                           R"("hakem": 1, "trump": "C", "winner_team": 0, "points_awarded": 3, )"
                           R"("points": [6, 2], "kot": true})");
  Change f = Record(RecordType::kGameFinished);
  f.winner_team = 1;
  f.points[0] = 3;
  f.points[1] = 7;
  EXPECT_EQ(ChangeJson(f), R"({"game_id": 12, "seq": 34, "type": "GameFinished", )"
                           R"("winner_team": 1, "points": [3, 7]})");
  Change a = Record(RecordType::kGameAbandoned);
  a.hand_no = 2;
  a.points[0] = 1;
  EXPECT_EQ(ChangeJson(a), R"({"game_id": 12, "seq": 34, "type": "GameAbandoned", )"
                           R"("hand_no": 2, "points": [1, 0]})");
}

TEST(ChangeJsonTest, AppendAddsToTheEnd) {
  Change p = Record(RecordType::kCardPlayed);
  p.seat = 1;
  p.card = C("2C");
  std::string line = "x";
  AppendChangeJson(p, line);
  EXPECT_EQ(line, R"(x{"game_id": 12, "seq": 34, "type": "CardPlayed", "seat": 1, "card": "2C"})");
}

}  // namespace
}  // namespace hokm::core
