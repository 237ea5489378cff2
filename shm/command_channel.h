// command_channel.h: the command path through the segment: wire structs for
// requests (client -> the shard's command ring) and responses (engine -> the
// client's response ring), a client-side CommandClient and an engine-side
// CommandPort.
//
// Wire formats (little endian, trivially copyable; ring record types below):
//
//   CommandRequest (64 bytes, record type kCommandRequestType)
//   0             4             8                     16                      64
//   +-------------+-------------+---------------------+------------------------+
//   | client_slot | client_epoch| request_id          | command (48, opaque)   |
//   +-------------+-------------+---------------------+------------------------+
//
//   CommandResponse (32 bytes, record type kCommandResponseType)
//   0                     8                     16           20            24  25      32
//   +---------------------+---------------------+------------+-------------+---+-------+
//   | request_id          | game_id             | game_seq   | client_epoch|res| pad   |
//   +---------------------+---------------------+------------+-------------+---+-------+
//
// The channel is mechanism only: a command is kCommandBytes opaque bytes
// and a result one byte, both chosen by the channel's user (hokm's:
// core::Command and core::CommandResult, typed by core/command_wire.h).
// The sender names the game a command is for, which picks its shard.
//
// Delivery: at most once. CommandPort::Poll commits a batch of requests
// before handing them to the engine, so an engine that dies mid-batch loses
// those requests (their clients see no response and may retry); it never
// applies a request twice.
//
// Waking: TrySend and Respond wake the ring's consumer if it announced that
// it parks (NotifyConsumer, wait_strategy.h); a consumer that waits with
// RingWaiter on CommandPort::reader() / response_reader() is woken by them.
// With Wake::kLater they only note the ring, and WakeShards / WakeClients
// wake each noted consumer once: a batch of commands or answers costs one
// fence and at most one wake-up per consumer, and the consumer wakes to
// the whole batch instead of to its first record.
//
// Flow control: a client keeps at most MaxInFlight() requests unanswered, so
// the engine's responses always fit in its response ring.
//
// Thread safety: a CommandClient belongs to one thread. Many clients (in
// many processes) send to the same command ring at once. A CommandPort is
// used by its shard's engine thread only; Respond may be called from any
// engine thread (response rings have many producers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "shm/ring.h"
#include "shm/segment.h"
#include "shm/status.h"
#include "shm/wait_strategy.h"

namespace hokm::shm {

inline constexpr std::int32_t kCommandRequestType = 1;

// When TrySend / Respond wake a parked consumer: at once, or at the next
// WakeShards / WakeClients.
enum class Wake : std::uint8_t { kNow, kLater };
inline constexpr std::int32_t kCommandResponseType = 2;

// The bytes of a command in a request.
inline constexpr std::size_t kCommandBytes = 48;
// The route of a command that makes a new game: any shard, round robin.
inline constexpr std::uint64_t kAnyShard = ~std::uint64_t{0};

struct CommandRequest {
  std::uint32_t client_slot;
  std::uint32_t client_epoch;                   // the slot's epoch when the client registered
  std::uint64_t request_id;                     // chosen by the client, echoed in the response
  alignas(8) std::byte command[kCommandBytes];  // the user's command type
};
static_assert(std::is_trivially_copyable_v<CommandRequest>);
static_assert(std::is_standard_layout_v<CommandRequest>);
static_assert(sizeof(CommandRequest) == 64);
static_assert(offsetof(CommandRequest, command) == 16);

struct CommandResponse {
  std::uint64_t request_id;
  std::uint64_t game_id;       // the game the command applied to (new id for kCreateGame)
  std::uint32_t game_seq;      // the game's seq after the command (0 if none)
  std::uint32_t client_epoch;  // copied from the request
  std::uint8_t result;         // the user's result code
  std::uint8_t reserved[7];
};
static_assert(std::is_trivially_copyable_v<CommandResponse>);
static_assert(std::is_standard_layout_v<CommandResponse>);
static_assert(sizeof(CommandResponse) == 32);
static_assert(offsetof(CommandResponse, result) == 24);

// A client process's (or thread's) end of the command path.
class CommandClient {
 public:
  // Claims a free client slot (or one whose owner process died) for this
  // process. kUnavailable if every slot is held by a live process.
  // `segment` must outlive the client.
  static Result<CommandClient> Register(const Segment& segment);

  CommandClient(CommandClient&& other) noexcept;
  CommandClient& operator=(CommandClient&& other) noexcept;
  CommandClient(const CommandClient&) = delete;
  CommandClient& operator=(const CommandClient&) = delete;
  // Gives the slot back.
  ~CommandClient();

  std::uint32_t slot() const { return slot_; }
  std::uint32_t epoch() const { return epoch_; }
  std::uint32_t in_flight() const { return in_flight_; }
  std::uint32_t MaxInFlight() const { return max_in_flight_; }

  // The shard a command for `game_id` goes to: the game's shard, or round
  // robin for kAnyShard, a new game (created in the shard that receives it).
  std::uint32_t ShardFor(std::uint64_t game_id);

  // Sends the command (`bytes` <= kCommandBytes, zero-padded) for `game_id`
  // (kAnyShard: a new game) to its shard and wakes the shard if it parks. kFull:
  // the command ring is full or MaxInFlight() requests are unanswered;
  // nothing was sent. kTooLarge: bytes > kCommandBytes.
  WriteResult TrySend(std::uint64_t request_id, std::uint64_t game_id, const void* command,
                      std::size_t bytes, Wake wake = Wake::kNow);
  // Wakes the shards sent to with Wake::kLater since the last call.
  void WakeShards();
  // Takes the next response to this client, if any. Never blocks.
  [[nodiscard]] bool TryReceive(CommandResponse& out);
  // Forgets unanswered requests (after an engine restart lost them).
  void AbandonInFlight() { in_flight_ = 0; }
  // Forgets `n` unanswered requests that the caller knows were lost (taken
  // by an engine that died before answering them), keeping the rest.
  void ForgetInFlight(std::uint32_t n) { in_flight_ = n < in_flight_ ? in_flight_ - n : 0; }
  // The response ring's reader, for RingWaiter::Wait (and its ring for the
  // RingWaiter itself).
  const RingReader& response_reader() const { return responses_; }

 private:
  CommandClient(const Segment& segment, std::uint32_t slot, std::uint32_t epoch);
  void Release();

  const Segment* segment_ = nullptr;
  std::uint32_t slot_ = 0;
  std::uint32_t epoch_ = 0;
  std::uint32_t in_flight_ = 0;
  std::uint32_t max_in_flight_ = 0;
  std::uint32_t next_create_shard_ = 0;
  std::uint64_t shards_to_wake_ = 0;  // bit s: shard s (shards beyond 63 are woken at once)
  RingReader responses_;
};

// The engine's end of one shard's command ring.
class CommandPort {
 public:
  static constexpr std::size_t kMaxBatch = 64;

  // `segment` must outlive the port. REQUIRES: shard < segment.shards().
  CommandPort(const Segment& segment, std::uint32_t shard);

  // Takes up to max_requests (<= kMaxBatch) requests, commits them, then
  // calls handler(const CommandRequest&) for each in order. Returns how many.
  // Records of an unknown type or size are skipped and counted.
  template <typename Handler>
  std::size_t Poll(Handler&& handler, std::size_t max_requests = kMaxBatch) {
    CommandRequest batch[kMaxBatch];
    std::size_t n = 0;
    if (max_requests > kMaxBatch) max_requests = kMaxBatch;
    reader_.Peek(
        [&](const RingRecord& record) {
          if (record.type != kCommandRequestType ||
              record.payload.size() != sizeof(CommandRequest)) {
            ++malformed_;
            return;
          }
          std::memcpy(&batch[n++], record.payload.data(), sizeof(CommandRequest));
        },
        max_requests);
    reader_.Commit();
    for (std::size_t i = 0; i < n; ++i) handler(static_cast<const CommandRequest&>(batch[i]));
    return n;
  }

  // Sends the response to the request's client and wakes the client if it
  // parks. Dropped (kOk, counted) if the client slot changed hands since the
  // request; kFull only if the client broke flow control.
  WriteResult Respond(const CommandRequest& request, std::uint8_t result, std::uint64_t game_id,
                      std::uint32_t game_seq, Wake wake = Wake::kNow);
  // Wakes the clients answered with Wake::kLater since the last call.
  void WakeClients();

  std::uint64_t malformed() const { return malformed_; }
  std::uint64_t dropped_responses() const { return dropped_responses_; }
  const Ring& ring() const { return reader_.ring(); }
  // For RingWaiter::Wait.
  const RingReader& reader() const { return reader_; }

 private:
  const Segment* segment_;
  RingReader reader_;
  std::vector<std::uint32_t> clients_to_wake_;  // reserved for every slot: never grows
  std::vector<std::uint8_t> client_noted_;      // per slot: in clients_to_wake_
  std::uint64_t malformed_ = 0;
  std::uint64_t dropped_responses_ = 0;
};

}  // namespace hokm::shm
