// lua_scripts.h: the Redis sink's two scripts, for its conditional writes.
// The text lives in sidecar/redis/lua/*.lua; the build embeds it
// (hokm_embed_lua, cmake/HokmEmbedLua.cmake, writes its source into the
// build tree).
#pragma once

#include <string_view>

namespace hokm::sidecar {

// lua/rate_game.lua: a finished game's rating, once, by a marker key.
extern const std::string_view kRateGameScript;
// lua/leave_game.lua: a player leaving, while his hash names the game.
extern const std::string_view kLeaveGameScript;

}  // namespace hokm::sidecar
