// record_codec_test.cc: ChangeRecord encode/decode round trips, the wire
// details other parts rely on, and corrupted bytes that must give typed
// errors, never a crash.
#include "core/records/record_codec.h"

#include <gtest/gtest.h>

#include <vector>

#include "alloc_counter.h"
#include "core/records/change_json.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "core_test_util.h"
#include "hokm_generated.h"

namespace hokm::core {
namespace {

using testing::SameChange;
using testing::SeatedGame;

// Every record of one whole random game, plus the kinds a game of bots never
// yields (PlayerLeft, PlayerConnection, GameAbandoned).
std::vector<Change> SampleRecords() {
  std::vector<Change> records;
  GameState s{};
  ChangeBuffer out;
  const auto keep = [&] { records.insert(records.end(), out.begin(), out.end()); };
  RulesConfig config;
  config.play_all_tricks = true;
  config.first_hakem = FirstHakem::kSeededRandom;
  EXPECT_EQ(CreateGame(s, 0xFFFFFFFFFFFFull, "ROOM-42!", ~0ull, config, out), CommandResult::kOk);
  keep();
  out.Clear();
  EXPECT_EQ(Join(s, 2, 0xDEADBEEFCAFEull, out), CommandResult::kOk);
  keep();
  out.Clear();
  EXPECT_EQ(SetConnected(s, 2, false, out), CommandResult::kOk);
  keep();
  out.Clear();
  EXPECT_EQ(SetConnected(s, 2, true, out), CommandResult::kOk);
  keep();
  out.Clear();
  EXPECT_EQ(Leave(s, 2, out), CommandResult::kOk);
  keep();
  for (int seat = 0; seat < kSeats; ++seat) {
    out.Clear();
    EXPECT_EQ(Join(s, seat, 1 + seat, out), CommandResult::kOk);
    keep();
  }
  RandomBot bot(3);
  while (SeatToAct(s) >= 0) {
    out.Clear();
    EXPECT_EQ(Apply(s, bot.NextCommand(s), out), CommandResult::kOk);
    keep();
  }
  GameState g = SeatedGame(8);
  out.Clear();
  EXPECT_EQ(Abandon(g, out), CommandResult::kOk);
  keep();
  return records;
}

TEST(RecordCodecTest, EveryRecordTypeRoundTrips) {
  const std::vector<Change> records = SampleRecords();
  bool seen[kRecordTypeCount + 1] = {};
  flatbuffers::FlatBufferBuilder fbb(256);
  std::uint64_t ts = 1'700'000'000'000'000'000ull;
  for (const Change& c : records) {
    EncodeRecord(c, ++ts, fbb);
    Change back{};
    std::uint64_t ts_back = 0;
    ASSERT_EQ(DecodeRecord(fbb.GetBufferPointer(), fbb.GetSize(), &back, &ts_back),
              DecodeError::kOk)
        << RecordTypeName(c.type);
    EXPECT_TRUE(SameChange(c, back)) << RecordTypeName(c.type) << " seq " << c.game_seq;
    EXPECT_EQ(ts_back, ts);
    seen[static_cast<int>(c.type)] = true;
  }
  for (int t = 1; t <= kRecordTypeCount; ++t) {
    EXPECT_TRUE(seen[t]) << RecordTypeName(static_cast<RecordType>(t));
  }
}

TEST(RecordCodecTest, TurnDeadlineFieldsRoundTripAndAreAbsentWhenUnset) {
  GameState s{};
  ChangeBuffer out;
  ASSERT_EQ(CreateGame(s, 7, "r", 1, RulesConfig{}, out, 1500), CommandResult::kOk);
  Change created = out.items[0];
  Change play;
  std::memset(static_cast<void*>(&play), 0, sizeof play);  // as decoded: config zero too
  play.type = RecordType::kCardPlayed;
  play.game_id = 7;
  play.game_seq = 9;
  play.seat = 2;
  play.card = 11;
  play.suit = Suit::kNone;
  Change trump = play;
  trump.type = RecordType::kTrumpChosen;
  trump.card = kNoCard;
  trump.suit = Suit::kHearts;
  for (Change c : {created, play, trump}) {
    for (bool flag : {false, true}) {
      if (c.type != RecordType::kGameCreated) c.on_timeout = flag;
      flatbuffers::FlatBufferBuilder fbb;
      EncodeRecord(c, 1, fbb);
      Change back{};
      ASSERT_EQ(DecodeRecord(fbb.GetBufferPointer(), fbb.GetSize(), &back, nullptr),
                DecodeError::kOk);
      EXPECT_TRUE(SameChange(back, c)) << ChangeJson(c);
      const std::string json = ChangeJson(c);
      EXPECT_EQ(json.find("on_timeout") != std::string::npos, c.on_timeout) << json;
    }
  }
  EXPECT_NE(ChangeJson(created).find("\"turn_timeout_ms\": 1500"), std::string::npos)
      << ChangeJson(created);
  created.turn_timeout_ms = 0;
  EXPECT_EQ(ChangeJson(created).find("turn_timeout_ms"), std::string::npos);
}

TEST(RecordCodecTest, WireFormatHasTheAgreedIdentifierTagsAndAscendingCards) {
  Change c{};
  c.type = RecordType::kCardsDealt;
  c.game_id = 5;
  c.game_seq = 9;
  c.seat = 3;
  c.cards = testing::Cards({"AS", "2C", "TD", "KH", "3C"});
  flatbuffers::FlatBufferBuilder fbb;
  EncodeRecord(c, 77, fbb);
  ASSERT_TRUE(fb::ChangeRecordBufferHasIdentifier(fbb.GetBufferPointer()));
  const fb::ChangeRecord* rec = fb::GetChangeRecord(fbb.GetBufferPointer());
  EXPECT_EQ(rec->game_id(), 5u);
  EXPECT_EQ(rec->game_seq(), 9u);
  EXPECT_EQ(rec->ts_ns(), 77u);
  ASSERT_EQ(rec->body_type(), fb::Body::CardsDealt);
  const auto* cards = rec->body_as_CardsDealt()->cards();
  ASSERT_NE(cards, nullptr);
  const std::vector<std::uint8_t> got(cards->begin(), cards->end());
  using testing::C;
  EXPECT_EQ(got, (std::vector<std::uint8_t>{C("2C"), C("3C"), C("TD"), C("KH"), C("AS")}));
  EXPECT_EQ(rec->body_as_CardsDealt()->seat(), 3);
}

TEST(RecordCodecTest, EncodingWithAReusedBuilderDoesNotAllocate) {
  const std::vector<Change> records = SampleRecords();
  flatbuffers::FlatBufferBuilder fbb(1024);
  for (const Change& c : records) EncodeRecord(c, 1, fbb);  // grow once
  const long before = testing::AllocationCount();
  for (int round = 0; round < 10; ++round) {
    for (const Change& c : records) EncodeRecord(c, 1, fbb);
  }
  EXPECT_EQ(testing::AllocationCount() - before, 0);
}

TEST(RecordCodecTest, MisalignedBytesDecode) {
  Change c{};
  c.type = RecordType::kCardPlayed;
  c.game_id = 1;
  c.game_seq = 2;
  c.seat = 1;
  c.card = 51;
  flatbuffers::FlatBufferBuilder fbb;
  EncodeRecord(c, 3, fbb);
  std::vector<std::uint64_t> storage(fbb.GetSize() / 8 + 2);
  auto* misaligned = reinterpret_cast<std::uint8_t*>(storage.data()) + 1;
  std::memcpy(misaligned, fbb.GetBufferPointer(), fbb.GetSize());
  Change back{};
  ASSERT_EQ(DecodeRecord(misaligned, fbb.GetSize(), &back), DecodeError::kOk);
  EXPECT_EQ(back.card, 51);
}

// Builds a ChangeRecord by hand so fields can hold what EncodeRecord never
// writes.
template <typename BodyFn>
std::vector<std::uint8_t> Handmade(fb::Body tag, BodyFn body) {
  flatbuffers::FlatBufferBuilder fbb;
  const flatbuffers::Offset<void> b = body(fbb);
  fb::FinishChangeRecordBuffer(fbb, fb::CreateChangeRecord(fbb, 1, 1, 0, tag, b));
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

DecodeError Decode(const std::vector<std::uint8_t>& bytes) {
  Change c{};
  return DecodeRecord(bytes.data(), bytes.size(), &c);
}

TEST(RecordCodecTest, OutOfRangeFieldsGiveTypedErrors) {
  using FBB = flatbuffers::FlatBufferBuilder;
  EXPECT_EQ(Decode(Handmade(fb::Body::CardPlayed,
                            [](FBB& f) { return fb::CreateCardPlayed(f, 4, 0).Union(); })),
            DecodeError::kSeatOutOfRange);
  EXPECT_EQ(Decode(Handmade(fb::Body::CardPlayed,
                            [](FBB& f) { return fb::CreateCardPlayed(f, 0, 52).Union(); })),
            DecodeError::kCardOutOfRange);
  EXPECT_EQ(Decode(Handmade(fb::Body::CardsDealt,
                            [](FBB& f) {
                              const std::uint8_t cards[] = {1, 2, 200};
                              return fb::CreateCardsDealt(f, 0, f.CreateVector(cards, 3)).Union();
                            })),
            DecodeError::kCardOutOfRange);
  EXPECT_EQ(Decode(Handmade(fb::Body::CardsDealt,
                            [](FBB& f) {
                              const std::uint8_t cards[] = {1, 2, 1};
                              return fb::CreateCardsDealt(f, 0, f.CreateVector(cards, 3)).Union();
                            })),
            DecodeError::kDuplicateCard);
  EXPECT_EQ(Decode(Handmade(fb::Body::CardsDealt,
                            [](FBB& f) { return fb::CreateCardsDealt(f, 0).Union(); })),
            DecodeError::kMissingField);
  EXPECT_EQ(Decode(Handmade(fb::Body::TrumpChosen,
                            [](FBB& f) { return fb::CreateTrumpChosen(f, 0, 4).Union(); })),
            DecodeError::kSuitOutOfRange);
  EXPECT_EQ(Decode(Handmade(fb::Body::HandScored,
                            [](FBB& f) {
                              const fb::TeamScore p(1, 0);
                              return fb::CreateHandScored(f, 1, 0, 0, 2, 1, &p).Union();
                            })),
            DecodeError::kValueOutOfRange);
  EXPECT_EQ(Decode(Handmade(fb::Body::HandScored,
                            [](FBB& f) {
                              const fb::TeamScore p(1, 0);
                              return fb::CreateHandScored(f, 1, 9, 0, 0, 1, &p).Union();
                            })),
            DecodeError::kSeatOutOfRange);
  EXPECT_EQ(Decode(Handmade(fb::Body::TrickWon,
                            [](FBB& f) { return fb::CreateTrickWon(f, 1, 1).Union(); })),
            DecodeError::kMissingField);
  EXPECT_EQ(Decode(Handmade(fb::Body::GameCreated,
                            [](FBB& f) {
                              return fb::CreateGameCreated(f, f.CreateString("NINEBYTES")).Union();
                            })),
            DecodeError::kValueOutOfRange);
  EXPECT_EQ(Decode(Handmade(
                fb::Body::GameCreated,
                [](FBB& f) { return fb::CreateGameCreated(f, 0, 1, false, 2, 3, 7, 5).Union(); })),
            DecodeError::kValueOutOfRange);
}

TEST(RecordCodecTest, UnknownOrMissingBodiesGiveTypedErrors) {
  using FBB = flatbuffers::FlatBufferBuilder;
  EXPECT_EQ(Decode(Handmade(static_cast<fb::Body>(13),
                            [](FBB& f) { return fb::CreateCardPlayed(f, 1, 1).Union(); })),
            DecodeError::kUnknownBody);
  EXPECT_EQ(Decode(Handmade(fb::Body::NONE, [](FBB&) { return flatbuffers::Offset<void>(0); })),
            DecodeError::kMissingBody);
  EXPECT_EQ(
      Decode(Handmade(fb::Body::CardPlayed, [](FBB&) { return flatbuffers::Offset<void>(0); })),
      DecodeError::kMissingBody);
}

TEST(RecordCodecTest, MalformedBuffersFailVerification) {
  Change c{};
  c.type = RecordType::kCardPlayed;
  c.game_id = 1;
  c.game_seq = 2;
  c.seat = 1;
  c.card = 7;
  flatbuffers::FlatBufferBuilder fbb;
  EncodeRecord(c, 3, fbb);
  std::vector<std::uint8_t> good(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  Change out{};
  EXPECT_EQ(DecodeRecord(nullptr, 0, &out), DecodeError::kVerifyFailed);
  EXPECT_EQ(DecodeRecord(good.data(), 0, &out), DecodeError::kVerifyFailed);
  EXPECT_EQ(DecodeRecord(good.data(), 7, &out), DecodeError::kVerifyFailed);
  EXPECT_EQ(DecodeRecord(good.data(), good.size() / 2, &out), DecodeError::kVerifyFailed);
  std::vector<std::uint8_t> wrong_id = good;
  wrong_id[4] = 'X';  // the file identifier follows the root offset
  EXPECT_EQ(Decode(wrong_id), DecodeError::kVerifyFailed);
  std::vector<std::uint8_t> wild_root = good;
  wild_root[0] = 0xF0;
  wild_root[3] = 0x7F;
  EXPECT_EQ(Decode(wild_root), DecodeError::kVerifyFailed);
}

// Flips every byte of every sample record, and overwrites it with a few
// values: each result must be kOk or a typed error, and an kOk must come
// with sane fields. Under ASan this is also the no-crash check.
TEST(RecordCodecTest, CorruptedBytesNeverCrashAndGiveTypedErrors) {
  const std::vector<Change> records = SampleRecords();
  flatbuffers::FlatBufferBuilder fbb;
  long errors = 0;
  long decoded = 0;
  for (const Change& c : records) {
    EncodeRecord(c, 1, fbb);
    const std::vector<std::uint8_t> good(fbb.GetBufferPointer(),
                                         fbb.GetBufferPointer() + fbb.GetSize());
    for (std::size_t i = 0; i < good.size(); ++i) {
      for (const std::uint8_t v : {std::uint8_t(good[i] ^ 0xFF), std::uint8_t(0x00),
                                   std::uint8_t(0x80), std::uint8_t(good[i] + 1)}) {
        std::vector<std::uint8_t> bad = good;
        bad[i] = v;
        Change out{};
        const DecodeError e = DecodeRecord(bad.data(), bad.size(), &out);
        if (e == DecodeError::kOk) {
          ++decoded;
          ASSERT_GE(static_cast<int>(out.type), 1);
          ASSERT_LE(static_cast<int>(out.type), kRecordTypeCount);
          ASSERT_LT(out.seat, kSeats);
          ASSERT_TRUE(out.card == kNoCard || IsValidCard(out.card));
          ASSERT_EQ(out.cards & ~kFullDeck, 0u);
        } else {
          ++errors;
          ASSERT_STRNE(DecodeErrorName(e), "unknown");
        }
      }
    }
  }
  // Both outcomes happen: flipped payload bytes are often still valid values.
  EXPECT_GT(errors, 0);
  EXPECT_GT(decoded, 0);
}

TEST(RecordCodecTest, DecodeErrorNamesAreStable) {
  EXPECT_STREQ(DecodeErrorName(DecodeError::kOk), "ok");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kVerifyFailed), "verify_failed");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kUnknownBody), "unknown_body");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kMissingBody), "missing_body");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kSeatOutOfRange), "seat_out_of_range");
  EXPECT_STREQ(DecodeErrorName(DecodeError::kCardOutOfRange), "card_out_of_range");
}

}  // namespace
}  // namespace hokm::core
