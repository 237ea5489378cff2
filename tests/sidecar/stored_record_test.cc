// stored_record_test.cc: sidecar/stored_record.h: every record type as the
// PostgreSQL sink stores it (AppendBodyJson; a card play in its columns)
// decodes back into the record the rules emitted; broken rows say why.
#include "sidecar/stored_record.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "core/records/record_codec.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "sidecar/record_json.h"

namespace hokm::sidecar {
namespace {

std::vector<std::uint8_t> Bytes(const core::Change& c) {
  flatbuffers::FlatBufferBuilder fbb;
  core::EncodeRecord(c, 0, fbb);
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

// Records of every type, from the rules: two games, one abandoned.
std::vector<core::Change> Records() {
  std::vector<core::Change> all;
  for (int abandoned = 0; abandoned < 2; ++abandoned) {
    core::GameState s{};
    core::ChangeBuffer out;
    const auto keep = [&](core::CommandResult r) {
      EXPECT_EQ(r, core::CommandResult::kOk);
      all.insert(all.end(), out.begin(), out.end());
      out.Clear();
    };
    core::RulesConfig config;
    config.target_points = 2;
    config.first_hakem = abandoned ? core::FirstHakem::kSeededRandom : core::FirstHakem::kFirstAce;
    keep(core::CreateGame(s, 77, abandoned ? "ab\"c" : "", 99 + abandoned, config, out));
    keep(core::Join(s, 0, 5, out));
    keep(core::Leave(s, 0, out));
    for (int seat = 0; seat < core::kSeats; ++seat) keep(core::Join(s, seat, 10 + seat, out));
    keep(core::SetConnected(s, 1, false, out));
    core::RandomBot bot(3);
    for (int moves = 0; s.phase != core::Phase::kFinished && (!abandoned || moves < 30); ++moves) {
      keep(core::Apply(s, bot.NextCommand(s), out));
    }
    if (abandoned) keep(core::Abandon(s, out));
  }
  return all;
}

TEST(StoredRecordTest, EveryTypeAsStoredDecodesToTheRecordTheRulesEmitted) {
  std::set<core::RecordType> seen;
  for (const core::Change& c : Records()) {
    seen.insert(c.type);
    const std::vector<std::uint8_t> bytes = Bytes(c);
    std::string body;
    AppendBodyJson(*hokm::fb::GetChangeRecord(bytes.data()), body);
    StoredRow row;
    row.game_id = c.game_id;
    row.seq = c.game_seq;
    row.type = static_cast<int>(c.type);
    if (c.type == core::RecordType::kCardPlayed) {  // game_commands: columns, no body
      row.seat = c.seat;
      row.card = c.card;
    } else {
      row.body = body;
    }
    core::Change back;
    ASSERT_EQ(DecodeStoredRow(row, back), "") << body;
    EXPECT_EQ(Bytes(back), bytes) << "seq " << c.game_seq << ": " << body;
    EXPECT_EQ(back.game_seq, c.game_seq);
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(core::kRecordTypeCount));
}

TEST(StoredRecordTest, TurnDeadlineFieldsReadFromTheBodyAndDefaultWhenAbsent) {
  StoredRow row;
  row.game_id = 7;
  row.seq = 12;
  row.type = 7;  // a card play on timeout: in the records JSON, seat and card null
  row.body = R"({"seat":1,"card":5,"on_timeout":true})";
  core::Change c;
  ASSERT_EQ(DecodeStoredRow(row, c), "");
  EXPECT_TRUE(c.on_timeout);
  EXPECT_EQ(c.seat, 1);
  EXPECT_EQ(c.card, 5);
  row.body.reset();  // the columns of an ordinary card play
  row.seat = 1;
  row.card = 5;
  ASSERT_EQ(DecodeStoredRow(row, c), "");
  EXPECT_FALSE(c.on_timeout);
  row.seat.reset();
  row.card.reset();
  row.type = 5;
  row.body = R"({"seat":0,"suit":2,"on_timeout":"yes"})";
  EXPECT_EQ(DecodeStoredRow(row, c), "seq 12: TrumpChosen: on_timeout is not true or false");
  row.type = 1;
  row.body = R"({"room":"r","seed":1,"play_all_tricks":false,"kot_points_hakem_team":2,)"
             R"("kot_points_opponents":3,"target_points":7,"first_hakem":0,"turn_timeout_ms":250})";
  ASSERT_EQ(DecodeStoredRow(row, c), "");
  EXPECT_EQ(c.turn_timeout_ms, 250u);
}

TEST(StoredRecordTest, BrokenRowsSayWhy) {
  core::Change out;
  StoredRow row;
  row.game_id = 7;
  row.seq = 12;
  row.type = 7;
  row.seat = 1;
  row.card = 60;
  EXPECT_EQ(DecodeStoredRow(row, out), "seq 12: CardPlayed: card 60 out of range");
  row.card.reset();
  EXPECT_EQ(DecodeStoredRow(row, out), "seq 12: CardPlayed: card missing");
  row.type = 13;
  EXPECT_EQ(DecodeStoredRow(row, out), "seq 12: unknown record type 13");
  row.type = 8;
  row.body = R"({"seat":1,"trick_no":2})";
  EXPECT_EQ(DecodeStoredRow(row, out), "seq 12: TrickWon: tricks missing");
  row.body = R"({"seat":"1","trick_no":2,"tricks":{"a":1,"b":1}})";
  EXPECT_EQ(DecodeStoredRow(row, out), "seq 12: TrickWon: seat is not a number >= 0");
  row.body = "not json";
  EXPECT_EQ(DecodeStoredRow(row, out), "seq 12: TrickWon: body is not a JSON object");
  row.type = 6;
  row.body = R"({"seat":0,"cards":[1,2,1]})";
  EXPECT_EQ(DecodeStoredRow(row, out), "seq 12: CardsDealt: cards holds card 1 twice");
}

}  // namespace
}  // namespace hokm::sidecar
