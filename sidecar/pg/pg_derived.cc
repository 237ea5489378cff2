// pg_derived.cc: the derived rows of each record type (see pg_derived.h).
#include "sidecar/pg/pg_derived.h"

#include "core/records/record_types.h"
#include "sidecar/pg/pg_text.h"

namespace hokm::sidecar {

namespace fb = hokm::fb;

void DerivedRows::Add(const fb::ChangeRecord& r) {
  const auto open = [](std::string& list) -> std::string& {
    list.append(list.empty() ? "(" : ",(");
    return list;
  };
  const auto num = [](std::string& list, std::uint64_t v) -> std::string& {
    AppendPgInt(v, list);
    list.push_back(',');
    return list;
  };
  const auto close_ts = [&](std::string& list) {
    list.push_back('\'');
    AppendPgTimestamp(r.ts_ns(), list);
    list.append("')");
  };
  // v(game_id, seq, type, seat, player_id, ts) of kDeriveSeats.
  const auto seat_row = [&](core::RecordType type, std::uint8_t seat, std::uint64_t player) {
    std::string& l = num(num(num(num(num(open(seats), r.game_id()), r.game_seq()),
                                 static_cast<std::uint64_t>(core::RecordTag(type))),
                             seat),
                         player);
    close_ts(l);
  };
  const std::uint64_t g = r.game_id();
  (void)core::VisitRecord(
      r, core::Overloaded{
             [&](const fb::GameCreated& b) {
               std::string& l = num(open(created), g);
               AppendPgQuoted(b.room() ? std::string_view(b.room()->c_str(), b.room()->size())
                                       : std::string_view(),
                              l);
               l.push_back(',');
               num(l, b.seed());
               std::string config = "{\"play_all_tricks\":";
               config += b.play_all_tricks() ? "true" : "false";
               config += ",\"kot_points_hakem_team\":" + std::to_string(b.kot_points_hakem_team());
               config += ",\"kot_points_opponents\":" + std::to_string(b.kot_points_opponents());
               config += ",\"target_points\":" + std::to_string(b.target_points());
               config += ",\"first_hakem\":" + std::to_string(b.first_hakem()) + "}";
               AppendPgQuoted(config, l);
               l.push_back(',');
               close_ts(l);
             },
             [&](const fb::PlayerJoined& b) {
               seat_row(core::RecordType::kPlayerJoined, b.seat(), b.player_id());
             },
             [&](const fb::PlayerLeft& b) {
               seat_row(core::RecordType::kPlayerLeft, b.seat(), b.player_id());
             },
             [&](const fb::PlayerConnection& b) {
               // v(game_id, seq, seat, player_id, connected, ts) of kDeriveConnections.
               std::string& l = num(num(num(open(connections), g), r.game_seq()), b.seat());
               num(l, b.player_id()).append(b.connected() ? "true," : "false,");
               close_ts(l);
             },
             [&](const fb::HakemChosen& b) {
               if (b.hand_no() <= 1) {
                 AppendPgInt(g, open(first_hakem));
                 first_hakem.push_back(')');
               }
             },
             [&](const fb::HandScored& b) {
               std::string& l = num(
                   num(num(num(num(num(num(open(hands), g), r.game_seq()), b.hand_no()), b.hakem()),
                           b.trump()),
                       b.winner_team()),
                   b.points_awarded());
               l.append(b.kot() ? "true," : "false,");
               num(num(l, b.points() ? b.points()->a() : 0), b.points() ? b.points()->b() : 0);
               if (const auto it = last_trick.find(g);
                   it != last_trick.end() && it->second->game_seq() + 1 == r.game_seq()) {
                 const fb::TeamScore* tricks = it->second->body_as_TrickWon()->tricks();
                 num(num(l, tricks ? tricks->a() : 0), tricks ? tricks->b() : 0);
               } else {
                 l.append("NULL::integer,NULL::integer,");
               }
               close_ts(l);
             },
             [&](const fb::TrickWon&) { last_trick[g] = &r; },
             [&](const fb::GameFinished& b) {
               std::string& l = num(num(num(num(open(finished), g), b.winner_team()),
                                        b.points() ? b.points()->a() : 0),
                                    b.points() ? b.points()->b() : 0);
               close_ts(l);
             },
             [&](const fb::GameAbandoned& b) {
               std::string& l = num(num(num(open(abandoned), g), b.points() ? b.points()->a() : 0),
                                    b.points() ? b.points()->b() : 0);
               close_ts(l);
             },
             [](const auto&) {},  // card plays, deals and the like derive nothing
         });
}

}  // namespace hokm::sidecar
