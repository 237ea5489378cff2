// fuzz_record.cc: one change record's bytes through everything that reads
// them: the sidecar's VerifyRecord / CheckRecord and JSON renderers, and the
// core's DecodeRecord (aligned and misaligned) with a re-encode round trip.
//
// Invariants: the JSON of a record CheckRecord accepts parses as a JSON
// object; DecodeRecord answers the same for a misaligned copy; a decoded
// record re-encodes to bytes that decode and re-encode to themselves.
#include <flatbuffers/flatbuffers.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/records/record_codec.h"
#include "fuzz/fuzz_check.h"
#include "sidecar/record_batch.h"
#include "sidecar/record_json.h"

namespace {

using hokm::core::DecodeError;
using hokm::core::DecodeRecord;

bool IsJsonObject(const std::string& s) {
  const auto j = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
  return !j.is_discarded() && j.is_object();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 20)) return -1;
  // Ring payloads are 8-byte aligned; so is this copy (the input is not always).
  std::vector<std::uint64_t> aligned((size + 7) / 8 + 1);
  auto* bytes = reinterpret_cast<std::uint8_t*>(aligned.data());
  if (size != 0) std::memcpy(bytes, data, size);

  const auto ref = hokm::sidecar::VerifyRecord(bytes, static_cast<std::uint32_t>(size), 77);
  HOKM_FUZZ_CHECK(ref.bytes == bytes && ref.size == size && ref.position == 77,
                  "VerifyRecord keeps the bytes it was given");
  if (ref.record != nullptr && hokm::sidecar::CheckRecord(ref) == nullptr) {
    std::string body, event, pub;
    hokm::sidecar::AppendBodyJson(*ref.record, body);
    hokm::sidecar::AppendEventJson(*ref.record, event);
    hokm::sidecar::AppendPublicEventJson(*ref.record, pub);
    HOKM_FUZZ_CHECK(IsJsonObject(body), "body JSON of a checked record parses");
    HOKM_FUZZ_CHECK(IsJsonObject(event), "event JSON of a checked record parses");
    HOKM_FUZZ_CHECK(IsJsonObject(pub), "public event JSON of a checked record parses");
  }

  hokm::core::Change change;
  std::uint64_t ts_ns = 0;
  const DecodeError e = DecodeRecord(bytes, size, &change, &ts_ns);
  HOKM_FUZZ_CHECK(hokm::core::DecodeErrorName(e) != nullptr, "every DecodeError has a name");

  // The same bytes one byte off alignment: DecodeRecord copies, same answer.
  std::vector<std::uint8_t> shifted(size + 1);
  if (size != 0) std::memcpy(shifted.data() + 1, data, size);
  hokm::core::Change shifted_change;
  HOKM_FUZZ_CHECK(DecodeRecord(shifted.data() + 1, size, &shifted_change) == e,
                  "DecodeRecord answers a misaligned copy the same");

  if (e == DecodeError::kOk) {
    flatbuffers::FlatBufferBuilder fbb;
    hokm::core::EncodeRecord(change, ts_ns, fbb);
    const std::vector<std::uint8_t> once(fbb.GetBufferPointer(),
                                         fbb.GetBufferPointer() + fbb.GetSize());
    hokm::core::Change again;
    std::uint64_t again_ts = 0;
    HOKM_FUZZ_CHECK(DecodeRecord(once.data(), once.size(), &again, &again_ts) == DecodeError::kOk,
                    "a re-encoded record decodes");
    HOKM_FUZZ_CHECK(again_ts == ts_ns, "ts_ns survives the round trip");
    hokm::core::EncodeRecord(again, again_ts, fbb);
    HOKM_FUZZ_CHECK(fbb.GetSize() == once.size() &&
                        std::memcmp(fbb.GetBufferPointer(), once.data(), once.size()) == 0,
                    "decode and re-encode is a fixed point");
  }
  return 0;
}
