// command_channel.cc: client registration, sending and receiving commands.
#include "shm/command_channel.h"

#include <signal.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <string>

namespace hokm::shm {

namespace {

// Ring bytes one response takes.
constexpr std::uint64_t kResponseRecordBytes =
    ring_detail::Align(Ring::kHeaderLength + sizeof(CommandResponse));

}  // namespace

Result<CommandClient> CommandClient::Register(const Segment& segment) {
  const auto self = static_cast<std::uint64_t>(::getpid());
  for (std::uint32_t c = 0; c < segment.client_slots(); ++c) {
    ClientSlot& slot = segment.client(c);
    auto owner_ref = Atomic(slot.owner_pid);
    std::uint64_t owner = owner_ref.load(std::memory_order_acquire);
    if (owner != 0 && ProcessAlive(owner)) continue;
    // Acq_rel: pairs with the release in Release() (or the dead owner's
    // last stores), so we start after everything the previous owner did.
    if (!owner_ref.compare_exchange_strong(owner, self, std::memory_order_acq_rel,
                                           std::memory_order_relaxed)) {
      continue;
    }
    // The engine answers only requests carrying the current epoch, so
    // responses meant for a previous owner are dropped on both sides.
    const auto epoch =
        static_cast<std::uint32_t>(Atomic(slot.epoch).fetch_add(1, std::memory_order_acq_rel) + 1);
    return CommandClient(segment, c, epoch);
  }
  return Status::Unavailable("all " + std::to_string(segment.client_slots()) +
                             " client slots of shared-memory segment '" + segment.name() +
                             "' are held by running processes; stop one or create the segment "
                             "with more client slots");
}

CommandClient::CommandClient(const Segment& segment, std::uint32_t slot, std::uint32_t epoch)
    : segment_(&segment), slot_(slot), epoch_(epoch), responses_(segment.response_ring(slot)) {
  const std::uint64_t capacity = segment.header().response_ring_bytes;
  // Room for the records plus the padding of up to two wraps.
  max_in_flight_ =
      static_cast<std::uint32_t>((capacity - 2 * kResponseRecordBytes) / kResponseRecordBytes);
}

CommandClient::CommandClient(CommandClient&& other) noexcept
    : segment_(other.segment_),
      slot_(other.slot_),
      epoch_(other.epoch_),
      in_flight_(other.in_flight_),
      max_in_flight_(other.max_in_flight_),
      next_create_shard_(other.next_create_shard_),
      responses_(other.responses_) {
  other.segment_ = nullptr;
}

CommandClient& CommandClient::operator=(CommandClient&& other) noexcept {
  if (this != &other) {
    Release();
    segment_ = other.segment_;
    slot_ = other.slot_;
    epoch_ = other.epoch_;
    in_flight_ = other.in_flight_;
    max_in_flight_ = other.max_in_flight_;
    next_create_shard_ = other.next_create_shard_;
    responses_ = other.responses_;
    other.segment_ = nullptr;
  }
  return *this;
}

CommandClient::~CommandClient() { Release(); }

void CommandClient::Release() {
  if (segment_ == nullptr) return;
  std::uint64_t self = static_cast<std::uint64_t>(::getpid());
  // Release: pairs with the acquire CAS in Register of the next owner.
  Atomic(segment_->client(slot_).owner_pid)
      .compare_exchange_strong(self, 0, std::memory_order_release, std::memory_order_relaxed);
  segment_ = nullptr;
}

std::uint32_t CommandClient::ShardFor(std::uint64_t game_id) {
  const std::uint32_t shards = segment_->shards();
  if (game_id == kAnyShard) return next_create_shard_++ % shards;
  return GameTable::SlotOf(game_id) % shards;
}

WriteResult CommandClient::TrySend(std::uint64_t request_id, std::uint64_t game_id,
                                   const void* command, std::size_t bytes, Wake wake) {
  if (bytes > kCommandBytes) return WriteResult::kTooLarge;
  if (in_flight_ >= max_in_flight_) return WriteResult::kFull;
  CommandRequest request;
  std::memset(static_cast<void*>(&request), 0, sizeof(request));
  request.client_slot = slot_;
  request.client_epoch = epoch_;
  request.request_id = request_id;
  std::memcpy(request.command, command, bytes);
  const std::uint32_t shard = ShardFor(game_id);
  Ring ring = segment_->command_ring(shard);
  const WriteResult r = ring.TryWrite(kCommandRequestType, &request, sizeof(request));
  if (r == WriteResult::kOk) {
    if (wake == Wake::kLater && shard < 64) {
      shards_to_wake_ |= std::uint64_t{1} << shard;
    } else {
      NotifyConsumer(ring);
    }
    ++in_flight_;
  } else if (game_id == kAnyShard) {
    --next_create_shard_;  // try the same shard again next time
  }
  return r;
}

void CommandClient::WakeShards() {
  if (shards_to_wake_ == 0) return;
  PublishFence();
  for (std::uint64_t pending = shards_to_wake_; pending != 0; pending &= pending - 1) {
    WakeIfParked(segment_->command_ring(static_cast<std::uint32_t>(std::countr_zero(pending))));
  }
  shards_to_wake_ = 0;
}

bool CommandClient::TryReceive(CommandResponse& out) {
  for (;;) {
    bool got = false;
    const std::size_t seen = responses_.Peek(
        [&](const RingRecord& record) {
          if (record.type != kCommandResponseType ||
              record.payload.size() != sizeof(CommandResponse)) {
            return;
          }
          std::memcpy(&out, record.payload.data(), sizeof(out));
          got = out.client_epoch == epoch_;
        },
        1);
    if (seen == 0) return false;
    responses_.Commit();
    if (got) {
      if (in_flight_ > 0) --in_flight_;
      return true;
    }
  }
}

CommandPort::CommandPort(const Segment& segment, std::uint32_t shard)
    : segment_(&segment),
      reader_(segment.command_ring(shard)),
      client_noted_(segment.client_slots(), 0) {
  clients_to_wake_.reserve(segment.client_slots());
}

void CommandPort::WakeClients() {
  if (clients_to_wake_.empty()) return;
  PublishFence();
  for (const std::uint32_t client : clients_to_wake_) {
    WakeIfParked(segment_->response_ring(client));
    client_noted_[client] = 0;
  }
  clients_to_wake_.clear();
}

WriteResult CommandPort::Respond(const CommandRequest& request, std::uint8_t result,
                                 std::uint64_t game_id, std::uint32_t game_seq, Wake wake) {
  if (request.client_slot >= segment_->client_slots()) {
    ++dropped_responses_;
    return WriteResult::kOk;
  }
  ClientSlot& slot = segment_->client(request.client_slot);
  if (static_cast<std::uint32_t>(Atomic(slot.epoch).load(std::memory_order_acquire)) !=
      request.client_epoch) {
    ++dropped_responses_;
    return WriteResult::kOk;
  }
  CommandResponse response;
  std::memset(static_cast<void*>(&response), 0, sizeof(response));
  response.request_id = request.request_id;
  response.game_id = game_id;
  response.game_seq = game_seq;
  response.client_epoch = request.client_epoch;
  response.result = result;
  Ring ring = segment_->response_ring(request.client_slot);
  const WriteResult r = ring.TryWrite(kCommandResponseType, &response, sizeof(response));
  if (r == WriteResult::kOk) {
    if (wake == Wake::kNow) {
      NotifyConsumer(ring);
    } else if (client_noted_[request.client_slot] == 0) {
      client_noted_[request.client_slot] = 1;
      clients_to_wake_.push_back(request.client_slot);
    }
  }
  return r;
}

}  // namespace hokm::shm
