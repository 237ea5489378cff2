// public_state.cc: a public state read back from its JSON with
// nlohmann-json, only when a sink or a tool learns a game it has not
// written (the writing side is core/records/public_state.cc).
#include "sidecar/public_state.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace hokm::sidecar {

std::optional<PublicState> PublicStateFromJson(std::string_view json) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  PublicState s;
  try {
    s.seq = j.at("seq").get<std::uint64_t>();
    s.updated_ms = j.at("updated_ms").get<std::uint64_t>();
    const std::string phase = j.at("phase").get<std::string>();
    const auto* name =
        std::find_if(std::begin(core::kPublicPhaseNames), std::end(core::kPublicPhaseNames),
                     [&](const char* n) { return phase == n; });
    if (name == std::end(core::kPublicPhaseNames)) return std::nullopt;
    s.phase = static_cast<PublicState::Phase>(name - std::begin(core::kPublicPhaseNames));
    const std::string room = j.at("room").get<std::string>();
    if (room.size() > s.room.size()) return std::nullopt;
    s.room_size = static_cast<std::uint8_t>(room.size());
    std::copy(room.begin(), room.end(), s.room.begin());
    s.target = j.at("target").get<std::uint8_t>();
    const auto small = [&](const nlohmann::json& v) -> std::int8_t {
      if (v.is_null()) return PublicState::kNone;
      const int x = v.get<int>();
      if (x < 0 || x > 127) throw std::out_of_range("small");
      return static_cast<std::int8_t>(x);
    };
    for (const char* k : {"seats", "table", "tricks", "points"}) {
      if (!j.at(k).is_array()) return std::nullopt;
    }
    if (j["seats"].size() != 4 || j["table"].size() != 4 || j["tricks"].size() != 2 ||
        j["points"].size() != 2)
      return std::nullopt;
    for (std::size_t i = 0; i < 4; ++i) {
      s.seats[i] = j["seats"][i].get<std::uint64_t>();
      s.table[i] = small(j["table"][i]);
    }
    for (std::size_t i = 0; i < 2; ++i) {
      s.tricks[i] = j["tricks"][i].get<std::uint8_t>();
      s.points[i] = j["points"][i].get<std::uint8_t>();
    }
    s.hakem = small(j.at("hakem"));
    s.trump = small(j.at("trump"));
    s.turn = small(j.at("turn"));
    s.leader = small(j.at("leader"));
    s.winner = small(j.at("winner"));
    s.trick_no = j.at("trick_no").get<std::uint8_t>();
    s.hand = j.at("hand").get<std::uint16_t>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return s;
}

}  // namespace hokm::sidecar
