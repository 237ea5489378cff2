// record_test.cc: verification and the semantic check of change records,
// and the JSON both stores receive (valid, exact, one shape per type).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "core/records/record_types.h"
#include "sidecar/record_batch.h"
#include "sidecar/record_json.h"
#include "tests/sidecar/test_records.h"

namespace hokm::sidecar {
namespace {

using namespace hokm::sidecar::testing;
using nlohmann::json;

RecordRef Ref(const OwnedRecord& r) {
  return VerifyRecord(r.bytes.data(), static_cast<std::uint32_t>(r.bytes.size()), 7);
}

json Body(const OwnedRecord& r) {
  const RecordRef ref = Ref(r);
  EXPECT_NE(ref.record, nullptr);
  std::string out;
  AppendBodyJson(*ref.record, out);
  return json::parse(out);
}

TEST(RecordCheckTest, VerifiedRecordKeepsItsBytesAndPosition) {
  const OwnedRecord r = CardPlayed(5, 9, 1, 2, 51);
  const RecordRef ref = Ref(r);
  ASSERT_NE(ref.record, nullptr);
  EXPECT_EQ(ref.bytes, r.bytes.data());
  EXPECT_EQ(ref.size, r.bytes.size());
  EXPECT_EQ(ref.position, 7u);
  EXPECT_EQ(ref.record->game_seq(), 9u);
  EXPECT_EQ(CheckRecord(ref), nullptr);
}

TEST(RecordCheckTest, CorruptBytesFailVerificationAndTheCheckSaysSo) {
  OwnedRecord r = CardPlayed(5, 9, 1, 2, 51);
  r.bytes[0] = 0xFF;  // root offset far outside the buffer
  r.bytes[1] = 0xFF;
  const RecordRef ref = Ref(r);
  EXPECT_EQ(ref.record, nullptr);
  EXPECT_STREQ(CheckRecord(ref), "failed FlatBuffers verification");
  EXPECT_EQ(VerifyRecord(nullptr, 0, 1).record, nullptr);
  const std::uint8_t three[3] = {1, 2, 3};
  EXPECT_EQ(VerifyRecord(three, 3, 1).record, nullptr);
}

TEST(RecordCheckTest, RecordWithoutIdentifierStillVerifies) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(fb::CreateChangeRecord(fbb, 3, 1, 1, fb::Body::CardPlayed,
                                    fb::CreateCardPlayed(fbb, 0, 0).Union()));
  EXPECT_NE(VerifyRecord(fbb.GetBufferPointer(), fbb.GetSize(), 1).record, nullptr);
}

struct BadRecord {
  const char* name;
  OwnedRecord record;
};

TEST(RecordCheckTest, RefusesWhatTheStoresCannotHold) {
  const std::vector<BadRecord> bad = {
      {"game id 0", CardPlayed(0, 1, 1, 0, 0)},
      {"game id above bigint", CardPlayed(1ull << 63, 1, 1, 0, 0)},
      {"seq 0", CardPlayed(1, 0, 1, 0, 0)},
      {"ts above bigint", CardPlayed(1, 1, 1ull << 63, 0, 0)},
      {"no body", MakeRecord(1, 1, 1, fb::Body::NONE, nullptr)},
      {"type without table", MakeRecord(1, 1, 1, fb::Body::CardPlayed, nullptr)},
      {"unknown type", MakeRecord(1, 1, 1, static_cast<fb::Body>(40),
                                  [](flatbuffers::FlatBufferBuilder& fbb) {
                                    return fb::CreateCardPlayed(fbb, 0, 0).Union();
                                  })},
      {"seat 4", CardPlayed(1, 1, 1, 4, 0)},
      {"card 52", CardPlayed(1, 1, 1, 0, 52)},
      {"suit 4", TrumpChosen(1, 1, 1, 0, 4)},
      {"dealt card 60", CardsDealt(1, 1, 1, 0, {1, 2, 60})},
      {"14 cards", CardsDealt(1, 1, 1, 0, std::vector<std::uint8_t>(14, 1))},
      {"player 0", PlayerJoined(1, 1, 1, 0, 0)},
      {"player above bigint", PlayerJoined(1, 1, 1, 0, ~0ull)},
      {"winner team 2", GameFinished(1, 1, 1, 2, 7, 0)},
      {"hand winner 2", HandScored(1, 1, 1, 1, 0, 0, 2, 1, 1, 0, false)},
      {"room of 9 bytes", GameCreated(1, 1, 1, "ABCDEFGHI")},
      {"room not UTF-8", GameCreated(1, 1, 1, std::string("A\xFF", 2))},
      {"room overlong UTF-8", GameCreated(1, 1, 1, std::string("\xC0\xAF", 2))},
      {"room with NUL", GameCreated(1, 1, 1, std::string("A\0B", 3))},
  };
  for (const auto& [name, record] : bad) {
    const RecordRef ref = Ref(record);
    if (ref.record == nullptr) continue;  // the builder's output did not even verify: refused too
    EXPECT_NE(CheckRecord(ref), nullptr) << name;
  }
}

TEST(RecordCheckTest, AcceptsEveryTypeAtItsLimits) {
  const std::vector<OwnedRecord> good = {
      GameCreated((1ull << 63) - 1, 1, 1,
                  "\xD8\xA7\xD9\x84\xD9\x81\x41"),  // Persian letters + 'A', 7 bytes
      PlayerJoined(1, 2, 1, 3, (1ull << 63) - 1),
      PlayerLeft(1, 3, 1, 3, 9),
      HakemChosen(1, 4, 1, 3, 65535),
      TrumpChosen(1, 5, 1, 3, 3),
      CardsDealt(1, 6, 1, 3, std::vector<std::uint8_t>(13, 51)),
      CardPlayed(1, 7, 1, 3, 51),
      TrickWon(1, 8, 1, 3, 13, 7, 6),
      HandScored(1, 9, 1, 2, 3, 3, 1, 3, 0, 3, true),
      GameFinished(1, 10, 1, 1, 2, 7),
      GameAbandoned(1, 11, 1, 4, 1, 1),
      PlayerConnection(1, 12, 1, 3, 5, false)};
  for (const OwnedRecord& r : good) {
    EXPECT_EQ(CheckRecord(Ref(r)), nullptr) << core::RecordTypeName(r.type);
  }
}

TEST(RecordJsonTest, BodyHasTheSchemaFieldNames) {
  EXPECT_EQ(Body(CardPlayed(1, 1, 1, 2, 37)), json({{"seat", 2}, {"card", 37}}));
  EXPECT_EQ(Body(TrickWon(1, 1, 1, 3, 5, 2, 3)),
            json({{"seat", 3}, {"trick_no", 5}, {"tricks", {{"a", 2}, {"b", 3}}}}));
  EXPECT_EQ(Body(CardsDealt(1, 1, 1, 0, {4, 5, 50})), json({{"seat", 0}, {"cards", {4, 5, 50}}}));
  EXPECT_EQ(Body(HandScored(1, 1, 1, 3, 1, 2, 0, 2, 5, 1, true)),
            json({{"hand_no", 3},
                  {"hakem", 1},
                  {"trump", 2},
                  {"winner_team", 0},
                  {"points_awarded", 2},
                  {"points", {{"a", 5}, {"b", 1}}},
                  {"kot", true}}));
  EXPECT_EQ(Body(PlayerConnection(1, 1, 1, 1, 77, false)),
            json({{"seat", 1}, {"player_id", 77}, {"connected", false}}));
  EXPECT_EQ(Body(GameAbandoned(1, 1, 1, 2, 3, 4)),
            json({{"hand_no", 2}, {"points", {{"a", 3}, {"b", 4}}}}));
}

TEST(RecordJsonTest, SixtyFourBitValuesAreExact) {
  const json created = Body(GameCreated(1, 1, 1, "r", 18446744073709551615ull));
  EXPECT_EQ(created["seed"].get<std::uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(created["room"], "r");
  EXPECT_EQ(created["target_points"], 7);
  const json joined = Body(PlayerJoined(1, 1, 1, 0, 9223372036854775807ull));
  EXPECT_EQ(joined["player_id"].get<std::uint64_t>(), 9223372036854775807ull);
}

TEST(RecordJsonTest, EventCarriesSeqAndTypeName) {
  const OwnedRecord r = CardPlayed(1, 42, 1, 1, 12);
  std::string out;
  AppendEventJson(*Ref(r).record, out);
  EXPECT_EQ(out, R"({"seq":42,"type":"CardPlayed","seat":1,"card":12})");
}

TEST(RecordJsonTest, StringsAreEscaped) {
  std::string out;
  AppendJsonString(std::string("a\"b\\c\n\x01\xD8\xA7", 9), out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\u000a\\u0001\xD8\xA7\"");
  EXPECT_EQ(json::parse(out).get<std::string>(), std::string("a\"b\\c\n\x01\xD8\xA7", 9));
}

TEST(RecordJsonTest, EveryTypeOfAScriptedGameIsValidJson) {
  const ScriptedGame g = ScriptGame(77, {1, 2, 3, 4}, 5, 1'700'000'000'000'000'000ull);
  std::set<fb::Body> seen;
  for (const OwnedRecord& r : g.records) {
    const RecordRef ref = Ref(r);
    ASSERT_NE(ref.record, nullptr);
    ASSERT_EQ(CheckRecord(ref), nullptr);
    std::string event;
    AppendEventJson(*ref.record, event);
    const json e = json::parse(event);
    EXPECT_EQ(e["seq"], r.seq);
    EXPECT_EQ(e["type"], core::RecordTypeName(r.type));
    seen.insert(r.type);
  }
  EXPECT_GE(seen.size(), 9u);
  EXPECT_EQ(g.records.back().type, fb::Body::GameFinished);
  EXPECT_EQ(g.records.back().seq, g.records.size());
}

}  // namespace
}  // namespace hokm::sidecar
