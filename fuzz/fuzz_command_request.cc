// fuzz_command_request.cc: command requests as any process attached to the
// segment can write them, through the real engine: each record goes into
// shard 0's command ring and Engine::ServeOnce reads, applies and answers
// it. The change ring and the response rings are drained after each one.
//
// Invariants: every change record the engine publishes passes the sidecar's
// verification and CheckRecord (whatever the command said); every response
// names a known result; after the input's games are abandoned the game
// table is empty again (state does not leak from one input to the next).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/engine.h"
#include "core/records/change_batch.h"
#include "fuzz/command_input.h"
#include "fuzz/fuzz_check.h"
#include "shm/command_channel.h"
#include "sidecar/record_batch.h"

namespace {

using hokm::shm::RingReader;
using hokm::shm::RingRecord;

struct Harness {
  std::unique_ptr<hokm::Engine> engine;
  std::unique_ptr<RingReader> changes;
  std::vector<RingReader> responses;

  Harness() {
    hokm::EngineOptions options;
    options.shm_name = "hokm-fuzz-" + std::to_string(::getpid());
    options.capacity = 64;
    options.shards = 1;
    options.ring_bytes = 1u << 16;
    options.command_ring_bytes = 1u << 14;
    options.client_slots = 2;
    options.reuse_existing = false;
    auto engine_or = hokm::Engine::Open(options);
    if (!engine_or.ok()) {
      std::fprintf(stderr, "fuzz_command_request: %s\n", engine_or.status().message().c_str());
      std::abort();
    }
    engine = std::move(engine_or).value();
    // The mapping stays; the name goes, so nothing is left in /dev/shm.
    (void)hokm::shm::Segment::Remove(options.shm_name);
    changes = std::make_unique<RingReader>(engine->segment().change_ring(0));
    for (std::uint32_t c = 0; c < engine->segment().client_slots(); ++c) {
      responses.emplace_back(engine->segment().response_ring(c));
    }
  }

  // Reads every published change batch; notes the games created.
  void DrainChanges(std::vector<std::uint64_t>& games) {
    while (changes->Peek(
               [&](const RingRecord& r) {
                 HOKM_FUZZ_CHECK(r.type == hokm::core::kChangeBatchType,
                                 "the engine publishes change batches only");
                 hokm::sidecar::ForEachChangeRecord(
                     r.type, r.payload, r.next_position, [&](const hokm::sidecar::RecordRef& ref) {
                       HOKM_FUZZ_CHECK(ref.record != nullptr, "engine records verify");
                       const char* why = hokm::sidecar::CheckRecord(*ref.record);
                       if (why != nullptr) std::fprintf(stderr, "CheckRecord: %s\n", why);
                       HOKM_FUZZ_CHECK(why == nullptr, "engine records pass CheckRecord");
                       if (ref.record->body_type() == hokm::fb::Body::GameCreated) {
                         games.push_back(ref.record->game_id());
                       }
                     });
               },
               64) != 0) {
      changes->Commit();
    }
    HOKM_FUZZ_CHECK(!changes->corrupted(), "the engine's change ring parses");
  }

  void DrainResponses() {
    for (RingReader& reader : responses) {
      while (reader.Peek(
                 [&](const RingRecord& r) {
                   HOKM_FUZZ_CHECK(r.type == hokm::shm::kCommandResponseType &&
                                       r.payload.size() == sizeof(hokm::shm::CommandResponse),
                                   "responses are CommandResponses");
                   hokm::shm::CommandResponse response;
                   std::memcpy(&response, r.payload.data(), sizeof response);
                   HOKM_FUZZ_CHECK(static_cast<int>(hokm::core::ResultOf(response)) <
                                       hokm::core::kCommandResultCount,
                                   "a response names a known result");
                 },
                 64) != 0) {
        reader.Commit();
      }
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Harness h;
  hokm::Engine& engine = *h.engine;
  hokm::shm::Ring ring = engine.segment().command_ring(0);
  std::vector<std::uint64_t> games;

  std::size_t at = 0;
  for (int n = 0; at < size && n < hokm::fuzz::kMaxRecordsPerInput; ++n) {
    const std::uint8_t tag = data[at++];
    std::int32_t type = hokm::shm::kCommandRequestType;
    std::size_t length = sizeof(hokm::shm::CommandRequest);
    if (tag >= hokm::fuzz::kRawRecordTag) {
      type = tag - hokm::fuzz::kRawRecordTag;
      length = at < size ? data[at++] : 0;
    }
    std::uint8_t record[256] = {};
    const std::size_t take = std::min(length, size - at);
    std::memcpy(record, data + at, take);
    at += take;
    if (type == hokm::shm::kCommandRequestType && length == sizeof(hokm::shm::CommandRequest)) {
      hokm::shm::CommandRequest request;
      std::memcpy(&request, record, sizeof request);
      hokm::core::Command command = hokm::core::CommandOf(request);
      if (command.game_id < hokm::fuzz::kGameIndexLimit && command.game_id < games.size()) {
        command.game_id = games[command.game_id];
        hokm::core::SetCommand(request, command);
        std::memcpy(record, &request, sizeof request);
      }
    }
    HOKM_FUZZ_CHECK(ring.TryWrite(type, record, length) == hokm::shm::WriteResult::kOk,
                    "the drained command ring takes a record");
    (void)engine.ServeOnce(0);
    h.DrainChanges(games);
    h.DrainResponses();
  }

  // Leave an empty table for the next input.
  for (const std::uint64_t game : games) {
    hokm::core::Command abandon{};
    abandon.type = hokm::core::CommandType::kAbandon;
    abandon.game_id = game;
    (void)engine.Apply(0, abandon);
  }
  std::vector<std::uint64_t> none;
  h.DrainChanges(none);
  HOKM_FUZZ_CHECK(engine.segment().table().Live() == 0, "no game outlives its input");
  return 0;
}
