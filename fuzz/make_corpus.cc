// make_corpus.cc: hokm-fuzz-corpus, the seed generator. Plays a game with
// the real rules and bots, encodes its records with the real codec and
// frames, writes them into a real ring and a real spill queue, and saves
// each fuzz target's seeds under <out>/<target>/ (default fuzz/corpus).
// Deterministic: the same build writes the same bytes.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "core/command_wire.h"
#include "core/records/change_batch.h"
#include "core/records/record_codec.h"
#include "core/rules/bots.h"
#include "core/rules/rules.h"
#include "fuzz/command_input.h"
#include "fuzz/ring_input.h"
#include "shm/command_channel.h"
#include "shm/ring.h"
#include "sidecar/spill_queue.h"

namespace {

namespace fs = std::filesystem;
namespace core = hokm::core;
using Bytes = std::vector<std::uint8_t>;

constexpr std::uint64_t kTsNs = 1'790'000'000'123'456'789ull;

fs::path g_out;

void Save(const std::string& target, const std::string& name, const Bytes& bytes) {
  const fs::path dir = g_out / target;
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "hokm-fuzz-corpus: cannot write %s\n", (dir / name).c_str());
    std::exit(1);
  }
}

void Save(const std::string& target, const std::string& name, const std::string& text) {
  Save(target, name, Bytes(text.begin(), text.end()));
}

// One command of the scripted game and the records it produced.
struct Step {
  core::Command command;
  std::vector<core::Change> changes;
};

// A game of four GreedyBots until it finishes (or max_steps commands).
std::vector<Step> PlayGame(std::size_t max_steps) {
  std::vector<Step> steps;
  core::GameState state{};
  core::ChangeBuffer out;
  auto apply = [&](const core::Command& cmd) {
    out.Clear();
    if (core::Apply(state, cmd, out) != core::CommandResult::kOk) {
      std::fprintf(stderr, "hokm-fuzz-corpus: the scripted game made an illegal move\n");
      std::exit(1);
    }
    steps.push_back({cmd, std::vector<core::Change>(out.begin(), out.end())});
  };
  core::Command create{};
  create.type = core::CommandType::kCreateGame;
  create.game_id = 1;
  create.seed = 42;
  create.config = core::RulesConfig{};
  std::memcpy(create.room, "fuzz", 4);
  apply(create);
  for (std::uint8_t seat = 0; seat < 4; ++seat) {
    core::Command join{};
    join.type = core::CommandType::kJoin;
    join.game_id = 1;
    join.seat = seat;
    join.player_id = 100 + seat;
    apply(join);
  }
  core::GreedyBot bot;
  while (core::SeatToAct(state) >= 0 && steps.size() < max_steps) {
    core::Command cmd = bot.NextCommand(state);
    cmd.game_id = 1;
    apply(cmd);
  }
  return steps;
}

Bytes Encode(const core::Change& c) {
  flatbuffers::FlatBufferBuilder fbb;
  core::EncodeRecord(c, kTsNs, fbb);
  return Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

// The change batch payload the engine publishes for one command.
Bytes Batch(const std::vector<core::Change>& changes) {
  Bytes out(4096);
  std::size_t length = 0;
  for (const core::Change& c : changes) {
    const Bytes record = Encode(c);
    length = core::AppendFrame(reinterpret_cast<std::byte*>(out.data()), length, record.data(),
                               static_cast<std::uint32_t>(record.size()));
  }
  out.resize(length);
  return out;
}

void RecordSeeds(const std::vector<Step>& game) {
  std::map<int, bool> seen;
  for (const Step& step : game) {
    for (const core::Change& c : step.changes) {
      if (seen[static_cast<int>(c.type)]) continue;
      seen[static_cast<int>(c.type)] = true;
      Save("fuzz_record", std::string("record-") + core::RecordTypeName(c.type), Encode(c));
    }
  }
  core::Change abandoned{};
  abandoned.type = core::RecordType::kGameAbandoned;
  abandoned.game_id = 1;
  abandoned.game_seq = 999;
  abandoned.card = core::kNoCard;
  abandoned.suit = core::Suit::kNone;
  Save("fuzz_record", "record-GameAbandoned", Encode(abandoned));
  core::Change left = abandoned;
  left.type = core::RecordType::kPlayerLeft;
  left.seat = 3;
  left.player_id = 103;
  Save("fuzz_record", "record-PlayerLeft", Encode(left));
  core::Change connection = abandoned;
  connection.type = core::RecordType::kPlayerConnection;
  connection.seat = 2;
  connection.player_id = 102;
  Save("fuzz_record", "record-PlayerConnection", Encode(connection));
}

void ChangeBatchSeeds(const std::vector<Step>& game) {
  std::size_t largest = 0;
  for (std::size_t i = 0; i < game.size(); ++i) {
    if (game[i].changes.size() > game[largest].changes.size()) largest = i;
  }
  const std::map<std::string, std::size_t> picks = {{"batch-create", 0},
                                                    {"batch-join", 1},
                                                    {"batch-card", game.size() - 1},
                                                    {"batch-largest", largest}};
  for (const auto& [name, index] : picks) {
    Bytes seed = {0};  // first byte < 0xF0: the change-batch ring type
    const Bytes batch = Batch(game[index].changes);
    seed.insert(seed.end(), batch.begin(), batch.end());
    Save("fuzz_change_batch", name, seed);
  }
  Save("fuzz_change_batch", "batch-empty", Bytes{0});
  Bytes other = {0xF2};  // another ring record type
  const Bytes batch = Batch(game[1].changes);
  other.insert(other.end(), batch.begin(), batch.end());
  Save("fuzz_change_batch", "other-type", other);
}

// A 1 KiB ring as the engine leaves it, saved with its head and tail.
class RingImage {
 public:
  RingImage()
      : memory_(static_cast<std::byte*>(
            std::aligned_alloc(128, hokm::shm::Ring::RequiredBytes(kCap)))) {
    hokm::shm::Ring::Init(memory_, kCap, /*zero_data=*/true);
    ring_ = hokm::shm::Ring(memory_, kCap);
  }
  ~RingImage() { std::free(memory_); }
  hokm::shm::Ring& ring() { return ring_; }
  Bytes Save(const Bytes& script) const {
    Bytes out(hokm::fuzz::kRingPrefixBytes + kCap);
    const std::uint64_t head = ring_.HeadPosition();
    const std::uint64_t tail = ring_.TailPosition();
    std::memcpy(out.data(), &head, 8);
    std::memcpy(out.data() + 8, &tail, 8);
    std::memcpy(out.data() + 16, script.data(),
                std::min(script.size(), hokm::fuzz::kRingScriptBytes));
    std::memcpy(out.data() + hokm::fuzz::kRingPrefixBytes, memory_, kCap);
    return out;
  }

 private:
  static constexpr std::size_t kCap = hokm::fuzz::kRingCapacity;
  std::byte* memory_;
  hokm::shm::Ring ring_;
};

void RingSeeds(const std::vector<Step>& game) {
  // Peek 1..8 records, then alternately commit all, commit to a boundary, rewind.
  const Bytes script = {0x00, 0x08, 0x03, 0x11, 0x07, 0x18, 0x02, 0x08,
                        0x37, 0x10, 0x00, 0x08, 0x05, 0x28, 0x01, 0x08};
  std::vector<Bytes> small;  // batches that fit a 1 KiB ring's largest record
  for (const Step& step : game) {
    Bytes b = Batch(step.changes);
    if (b.size() <= hokm::fuzz::kRingCapacity / 8 - hokm::shm::Ring::kHeaderLength)
      small.push_back(b);
  }
  auto write = [](hokm::shm::Ring& ring, const Bytes& b) {
    if (ring.TryWrite(core::kChangeBatchType, b.data(), b.size()) != hokm::shm::WriteResult::kOk) {
      std::fprintf(stderr, "hokm-fuzz-corpus: a seed ring is full\n");
      std::exit(1);
    }
  };
  {
    RingImage image;
    for (std::size_t i = 0; i < 4 && i < small.size(); ++i) write(image.ring(), small[i]);
    Save("fuzz_ring_reader", "fresh", image.Save(script));
  }
  {
    // Consume most of a lap, then write across the end: a padding record at wrap.
    RingImage image;
    hokm::shm::RingReader reader(image.ring());
    std::size_t i = 0;
    while (image.ring().TailPosition() < 900) write(image.ring(), small[i++ % small.size()]);
    (void)reader.Peek([](const hokm::shm::RingRecord&) {}, 1000);
    reader.Commit();
    for (int k = 0; k < 3; ++k) write(image.ring(), small[i++ % small.size()]);
    Save("fuzz_ring_reader", "wrapped", image.Save(script));
  }
  {
    // A claim left open by a process that is gone, between two whole
    // records; and an aborted claim.
    RingImage image;
    write(image.ring(), small[0]);
    hokm::shm::RingClaim claim;
    if (image.ring().TryClaim(core::kChangeBatchType, small[1].size(), claim) !=
        hokm::shm::WriteResult::kOk)
      std::exit(1);
    std::memcpy(claim.data, small[1].data(), small[1].size());
    // Claimed by a pid above any pid_max (2^22): dead, and the same bytes every run.
    image.ring()
        .HeaderAt(claim.index)
        .store(hokm::shm::ring_detail::MakeHeader(
            -static_cast<std::int32_t>(hokm::shm::Ring::kHeaderLength + claim.length), 0x7FFFFFF0));
    hokm::shm::RingClaim aborted;
    if (image.ring().TryClaim(core::kChangeBatchType, 16, aborted) != hokm::shm::WriteResult::kOk)
      std::exit(1);
    image.ring().Abort(aborted);
    write(image.ring(), small[2 % small.size()]);
    Save("fuzz_ring_reader", "open-claim", image.Save(script));
  }
}

void CommandSeeds(const std::vector<Step>& game) {
  auto encode = [](const std::vector<core::Command>& commands) {
    Bytes out;
    for (core::Command cmd : commands) {
      hokm::shm::CommandRequest request;
      std::memset(static_cast<void*>(&request), 0, sizeof request);
      request.client_slot = 0;
      request.client_epoch = 0;
      request.request_id = out.size();
      cmd.game_id = 0;  // the first game this input creates (command_input.h)
      core::SetCommand(request, cmd);
      out.push_back(0);  // tag: a CommandRequest follows
      const auto* p = reinterpret_cast<const std::uint8_t*>(&request);
      out.insert(out.end(), p, p + sizeof request);
    }
    return out;
  };
  std::vector<core::Command> opening;
  for (std::size_t i = 0; i < game.size() && i < 16; ++i) opening.push_back(game[i].command);
  Save("fuzz_command_request", "opening", encode(opening));
  std::vector<core::Command> hand;
  for (std::size_t i = 0; i < game.size() && i < 60; ++i) hand.push_back(game[i].command);
  Save("fuzz_command_request", "first-hand", encode(hand));
  std::vector<core::Command> misc(game.begin() == game.end() ? 0 : 5);
  for (std::size_t i = 0; i < 5 && i < game.size(); ++i) misc[i] = game[i].command;
  core::Command cmd{};
  cmd.type = core::CommandType::kSetConnected;
  cmd.seat = 1;
  cmd.connected = false;
  misc.push_back(cmd);
  cmd.type = core::CommandType::kLeave;
  cmd.seat = 2;
  misc.push_back(cmd);
  cmd.type = core::CommandType::kAbandon;
  misc.push_back(cmd);
  Bytes seed = encode(misc);
  // A record of another type and size: skipped and counted by the engine.
  seed.insert(seed.end(), {hokm::fuzz::kRawRecordTag + 7, 3, 'x', 'y', 'z'});
  Save("fuzz_command_request", "leave-abandon-junk", seed);
}

Bytes ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void SpillSeeds(const std::vector<Step>& game) {
  const fs::path dir =
      fs::temp_directory_path() / ("hokm-fuzz-corpus-" + std::to_string(::getpid()));
  auto make = [&](std::uint64_t segment_bytes, std::size_t records) {
    fs::remove_all(dir);
    auto q = hokm::sidecar::SpillQueue::Open(dir, segment_bytes);
    if (!q.ok()) {
      std::fprintf(stderr, "hokm-fuzz-corpus: %s\n", q.status().message().c_str());
      std::exit(1);
    }
    std::size_t n = 0;
    for (const Step& step : game) {
      for (const core::Change& c : step.changes) {
        if (n == records) break;
        const Bytes r = Encode(c);
        (*q)->Append(r.data(), static_cast<std::uint32_t>(r.size()), 64 * (n + 1));
        if (!(*q)->Sync().ok()) std::exit(1);
        ++n;
      }
    }
  };
  auto seed = [](std::uint8_t flags, const std::string& cursor, const Bytes& second,
                 const Bytes& first) {
    Bytes out = {flags, static_cast<std::uint8_t>(cursor.size())};
    out.insert(out.end(), cursor.begin(), cursor.end());
    out.push_back(static_cast<std::uint8_t>(second.size()));
    out.push_back(static_cast<std::uint8_t>(second.size() >> 8));
    out.insert(out.end(), second.begin(), second.end());
    out.insert(out.end(), first.begin(), first.end());
    return out;
  };
  make(1u << 20, 8);
  const Bytes one = ReadAll(dir / "spill-00000001.log");
  Save("fuzz_spill_segment", "records", seed(0, "", {}, one));
  Bytes torn = one;
  torn.resize(torn.size() - 5);
  Save("fuzz_spill_segment", "torn-tail", seed(0, "", {}, torn));
  // A cursor past the first two frames (16-byte headers + records).
  const std::uint32_t first_len =
      one[0] | one[1] << 8 | one[2] << 16 | static_cast<std::uint32_t>(one[3]) << 24;
  const std::size_t second_at = 16 + first_len;
  const std::uint32_t second_len = one[second_at] | one[second_at + 1] << 8;
  Save("fuzz_spill_segment", "cursor",
       seed(1, "1 " + std::to_string(second_at + 16 + second_len) + "\n", {}, one));
  make(64, 3);  // one record per 64-byte segment: files 1..3
  Save("fuzz_spill_segment", "two-segments",
       seed(2 | 4, "", ReadAll(dir / "spill-00000002.log"), ReadAll(dir / "spill-00000001.log")));
  fs::remove_all(dir);
}

void UrlSeeds() {
  const char* redis[] = {"redis://127.0.0.1:6390/0", "redis://:secret@localhost",
                         "redis://user:p%40ss@[::1]:6379/15", "redis://cache.example.com:7000/"};
  const char* pg[] = {"postgresql://hokm:secret@127.0.0.1:5440/hokm",
                      "postgres://app@db.example.com/games?sslmode=disable&connect_timeout=5",
                      "postgresql://u%40x:p%2Fw@[::1]:5432/d%20b?application_name=hokm",
                      "postgresql://hokm@localhost/hokm?options=-c%20statement_timeout%3D5000",
                      "postgresql://u:pw@a:5432,b:5433/d?target_session_attrs=read-write",
                      "postgresql://u@%2Frun%2Fpostgresql/d",
                      "host=/tmp port=5440 user=hokm password='a b\\'c' sslmode=disable"};
  int i = 0;
  for (const char* u : redis) Save("fuzz_redis_url", "url-" + std::to_string(i++), std::string(u));
  i = 0;
  for (const char* u : pg) Save("fuzz_pg_url", "url-" + std::to_string(i++), std::string(u));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 ||
      (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0))) {
    std::printf(
        "usage: hokm-fuzz-corpus [OUT_DIR]\n"
        "Writes the fuzz targets' seed inputs to OUT_DIR/<target>/ (default fuzz/corpus),\n"
        "built from a scripted game with the real rules, codec, ring and spill queue.\n");
    return argc > 2 ? 2 : 0;
  }
  g_out = argc == 2 ? argv[1] : "fuzz/corpus";
  const std::vector<Step> game = PlayGame(1000);
  RecordSeeds(game);
  ChangeBatchSeeds(game);
  RingSeeds(game);
  CommandSeeds(game);
  SpillSeeds(game);
  UrlSeeds();
  std::printf("hokm-fuzz-corpus: seeds written under %s\n", g_out.c_str());
  return 0;
}
