// public_state.h: the sidecar's view of a game's public state
// (core/records/public_state.h, moved down so that the engine renders it
// too), and reading it back from its JSON, which needs nlohmann-json and so
// stays out of hokm::core.
//
// Thread safety: plain values and a pure function.
#pragma once

#include <optional>
#include <string_view>

#include "core/records/public_state.h"

namespace hokm::sidecar {

using core::PhaseName;
using core::PublicState;

// The inverse of PublicState::AppendJson; nullopt when json is not such an
// object (Redis holds what anyone wrote).
std::optional<PublicState> PublicStateFromJson(std::string_view json);

}  // namespace hokm::sidecar
