// command_wire.h: hokm's commands on the shared-memory command channel
// (shm/command_channel.h carries them as opaque bytes): send a core::Command,
// read one from a request, read a core::CommandResult from a response.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/rules/command.h"
#include "shm/command_channel.h"

namespace hokm::core {

static_assert(sizeof(Command) <= shm::kCommandBytes);
static_assert(std::is_trivially_copyable_v<Command>);

// The game a command is for; shm::kAnyShard for kCreateGame (the channel
// sends new games round robin over the shards).
inline std::uint64_t RouteOf(const Command& command) {
  return command.type == CommandType::kCreateGame ? shm::kAnyShard : command.game_id;
}

// Sends `command` to its game's shard (CommandClient::TrySend).
inline shm::WriteResult SendCommand(shm::CommandClient& client, std::uint64_t request_id,
                                    const Command& command, shm::Wake wake = shm::Wake::kNow) {
  return client.TrySend(request_id, RouteOf(command), &command, sizeof(Command), wake);
}

inline Command CommandOf(const shm::CommandRequest& request) {
  Command command;
  std::memcpy(static_cast<void*>(&command), request.command, sizeof(Command));
  return command;
}

inline void SetCommand(shm::CommandRequest& request, const Command& command) {
  std::memcpy(request.command, &command, sizeof(Command));
}

// The result byte as sent; a value past the last CommandResult is possible
// only from a peer of another version (check against kCommandResultCount).
inline CommandResult ResultOf(const shm::CommandResponse& response) {
  return static_cast<CommandResult>(response.result);
}

// Answers a request (CommandPort::Respond).
inline shm::WriteResult Respond(shm::CommandPort& port, const shm::CommandRequest& request,
                                CommandResult result, std::uint64_t game_id, std::uint32_t game_seq,
                                shm::Wake wake = shm::Wake::kNow) {
  return port.Respond(request, static_cast<std::uint8_t>(result), game_id, game_seq, wake);
}

}  // namespace hokm::core
