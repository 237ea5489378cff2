// segment.cc: creating, attaching and checking the shared-memory segment
// (Boost.Interprocess shared_memory_object + mapped_region).
#include "shm/segment.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/permissions.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

namespace hokm::shm {

namespace bip = boost::interprocess;

struct Segment::Mapping {
  bip::shared_memory_object object;
  bip::mapped_region region;
};

namespace {

constexpr std::uint64_t AlignUp(std::uint64_t n, std::uint64_t a) { return (n + a - 1) / a * a; }

std::string ShmPath(const std::string& name) { return "/dev/shm/" + name; }

std::string HowToCreate(const std::string& name) {
  return "start hokm-engine --shm-name " + name + " (or with " + kSegmentNameEnv + "=" + name +
         ") to create it";
}

// How long ago the segment file was last written, in seconds (0 if unknown).
// An engine creating a segment sizes and stamps it within milliseconds.
long SecondsSinceWritten(const std::string& name) {
  struct stat st {};
  if (::stat(ShmPath(name).c_str(), &st) != 0) return 0;
  return static_cast<long>(std::time(nullptr) - st.st_mtime);
}
constexpr long kCreatingForAtMostS = 10;

// Unavailable while the segment may still be in its engine's hands,
// Corruption once it is too old for that.
Status NotYetASegment(const std::string& name, const std::string& what) {
  const long age = SecondsSinceWritten(name);
  if (age < kCreatingForAtMostS) {
    return Status::Unavailable("shared-memory segment '" + name + "' is still being created (" +
                               what + "); retry in a moment");
  }
  return Status::Corruption("shared memory '" + name + "' (" + ShmPath(name) + ") is " + what +
                            " and was last written " + std::to_string(age) +
                            " s ago: not a segment being created. Remove it (rm " + ShmPath(name) +
                            ") and " + HowToCreate(name));
}

Status CheckName(const std::string& name) {
  if (name.empty() || name.size() > 200 || name.find('/') != std::string::npos) {
    return Status::InvalidArgument("shared-memory name '" + name +
                                   "' is invalid: use 1-200 characters and no '/'");
  }
  return Status::Ok();
}

// The geometry fields of two headers agree.
bool SameLayout(const SegmentHeader& a, const SegmentHeader& b) {
  return a.total_bytes == b.total_bytes && a.table_capacity == b.table_capacity &&
         a.shard_count == b.shard_count && a.client_count == b.client_count &&
         a.command_ring_bytes == b.command_ring_bytes &&
         a.change_ring_bytes == b.change_ring_bytes &&
         a.response_ring_bytes == b.response_ring_bytes && a.node_id == b.node_id;
}

std::string Describe(const SegmentHeader& h) {
  return "node " + std::to_string(h.node_id) + ", capacity " + std::to_string(h.table_capacity) +
         ", shards " + std::to_string(h.shard_count) + ", clients " +
         std::to_string(h.client_count) + ", command ring " + std::to_string(h.command_ring_bytes) +
         " B, change ring " + std::to_string(h.change_ring_bytes) + " B, response ring " +
         std::to_string(h.response_ring_bytes) + " B";
}

bool RegionFits(const SegmentRegion& r, std::uint64_t total) {
  return r.offset >= sizeof(SegmentHeader) && r.offset <= total && r.bytes <= total - r.offset;
}

}  // namespace

std::string SegmentNameFrom(const std::string& flag_value) {
  if (!flag_value.empty()) return flag_value;
  if (const char* env = std::getenv(kSegmentNameEnv); env != nullptr && *env != '\0') return env;
  return kDefaultSegmentName;
}

Result<SegmentHeader> PlanLayout(const SegmentOptions& o) {
  if (Status s = CheckName(o.name); !s.ok()) return s;
  if (!GameTable::IsValidShape(o.table_capacity, o.shards) || o.shards > 1024) {
    return Status::InvalidArgument(
        "table capacity " + std::to_string(o.table_capacity) + " with " + std::to_string(o.shards) +
        " shards is invalid: capacity must be 1.." + std::to_string(kMaxTableCapacity) +
        " and shards 1..min(1024, capacity)");
  }
  auto check_ring = [](const char* what, std::uint64_t bytes) -> Status {
    if (!Ring::IsValidCapacity(bytes)) {
      return Status::InvalidArgument(std::string(what) + " size " + std::to_string(bytes) +
                                     " is invalid: use a power of two from " +
                                     std::to_string(Ring::kMinCapacity) + " to " +
                                     std::to_string(Ring::kMaxCapacity));
    }
    return Status::Ok();
  };
  if (Status s = check_ring("command ring", o.command_ring_bytes); !s.ok()) return s;
  if (Status s = check_ring("change ring", o.change_ring_bytes); !s.ok()) return s;
  if (Status s = check_ring("response ring", o.response_ring_bytes); !s.ok()) return s;
  if (o.node_id > kMaxNodeId) {
    return Status::InvalidArgument("node id " + std::to_string(o.node_id) + " is invalid: use 0.." +
                                   std::to_string(kMaxNodeId));
  }
  if (o.client_slots < 1 || o.client_slots > 4096) {
    return Status::InvalidArgument("client slots " + std::to_string(o.client_slots) +
                                   " is invalid: use 1..4096");
  }

  SegmentHeader h;
  std::memset(static_cast<void*>(&h), 0, sizeof(h));
  h.magic = kSegmentMagic;
  h.layout_version = kLayoutVersion;
  h.header_bytes = sizeof(SegmentHeader);
  h.table_capacity = o.table_capacity;
  h.shard_count = o.shards;
  h.client_count = o.client_slots;
  h.node_id = o.node_id;
  h.command_ring_bytes = o.command_ring_bytes;
  h.change_ring_bytes = o.change_ring_bytes;
  h.response_ring_bytes = o.response_ring_bytes;

  std::uint64_t offset = sizeof(SegmentHeader);
  h.table = {offset, GameTable::RequiredBytes(o.table_capacity, o.shards), 0};
  offset = AlignUp(offset + h.table.bytes, kRegionAlignment);
  const std::uint64_t command_stride =
      AlignUp(Ring::RequiredBytes(o.command_ring_bytes), kRegionAlignment);
  h.command_rings = {offset, command_stride * o.shards, command_stride};
  offset += h.command_rings.bytes;
  const std::uint64_t change_stride =
      AlignUp(Ring::RequiredBytes(o.change_ring_bytes), kRegionAlignment);
  h.change_rings = {offset, change_stride * o.shards, change_stride};
  offset += h.change_rings.bytes;
  const std::uint64_t client_stride =
      AlignUp(sizeof(ClientSlot) + Ring::RequiredBytes(o.response_ring_bytes), 128);
  h.clients = {offset, client_stride * o.client_slots, client_stride};
  offset = AlignUp(offset + h.clients.bytes, kRegionAlignment);
  const std::uint64_t counter_lines = 2 * std::uint64_t{o.shards} + kSidecarCounterLines;
  h.counters = {offset, counter_lines * sizeof(CounterLine), sizeof(CounterLine)};
  offset = AlignUp(offset + h.counters.bytes, kRegionAlignment);
  h.total_bytes = offset;
  return h;
}

Segment::Segment(std::string name, std::unique_ptr<Mapping> mapping)
    : name_(std::move(name)), mapping_(std::move(mapping)) {
  base_ = static_cast<std::byte*>(mapping_->region.get_address());
  size_ = mapping_->region.get_size();
  header_ = reinterpret_cast<SegmentHeader*>(base_);
  table_ = GameTable(base_ + header_->table.offset);
}

Segment::Segment(Segment&&) noexcept = default;
Segment& Segment::operator=(Segment&&) noexcept = default;
Segment::~Segment() = default;

Result<Segment> Segment::CreateNew(const SegmentOptions& options, const SegmentHeader& plan) {
  const std::string& name = options.name;
  auto mapping = std::make_unique<Mapping>();
  try {
    mapping->object = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write,
                                                bip::permissions(static_cast<int>(options.mode)));
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::already_exists_error) {
      return Status::AlreadyExists(
          "shared-memory segment '" + name + "' already exists (" + ShmPath(name) +
          "): another hokm-engine may be using it; stop it, remove the segment (rm " +
          ShmPath(name) + "), or start the engine so it re-attaches to it");
    }
    return Status::IoError("cannot create shared-memory segment '" + name + "': " + e.what());
  }
  // From here a failure removes the half-made segment.
  auto fail = [&](Status s) -> Result<Segment> {
    bip::shared_memory_object::remove(name.c_str());
    return s;
  };
  try {
    mapping->object.truncate(static_cast<bip::offset_t>(plan.total_bytes));
  } catch (const bip::interprocess_exception& e) {
    return fail(Status::IoError("cannot size shared-memory segment '" + name + "' to " +
                                std::to_string(plan.total_bytes) + " bytes: " + e.what()));
  }
  // Reserve the pages now: a full /dev/shm is a clear error here instead of
  // a SIGBUS in the middle of a game.
  const int fd = mapping->object.get_mapping_handle().handle;
  if (int err = ::posix_fallocate(fd, 0, static_cast<off_t>(plan.total_bytes));
      err != 0 && err != EOPNOTSUPP && err != EINVAL) {
    return fail(Status::IoError("not enough shared memory for segment '" + name + "' (" +
                                std::to_string(plan.total_bytes) +
                                " bytes): " + std::strerror(err) +
                                "; free space in /dev/shm (df /dev/shm) or "
                                "lower the table capacity / ring sizes"));
  }
  try {
    mapping->region = bip::mapped_region(mapping->object, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    return fail(Status::IoError("cannot map shared-memory segment '" + name + "': " + e.what()));
  }
  auto* base = static_cast<std::byte*>(mapping->region.get_address());
  auto* header = reinterpret_cast<SegmentHeader*>(base);
  // The pages are fresh zeros; format the regions, then the header, magic last.
  GameTable::Init(base + plan.table.offset, plan.table_capacity, plan.shard_count, plan.node_id);
  for (std::uint32_t s = 0; s < plan.shard_count; ++s) {
    Ring::Init(base + plan.command_rings.offset + s * plan.command_rings.stride,
               plan.command_ring_bytes);
    Ring::Init(base + plan.change_rings.offset + s * plan.change_rings.stride,
               plan.change_ring_bytes);
  }
  for (std::uint32_t c = 0; c < plan.client_count; ++c) {
    Ring::Init(base + plan.clients.offset + c * plan.clients.stride + sizeof(ClientSlot),
               plan.response_ring_bytes);
  }
  SegmentHeader h = plan;
  h.magic = 0;
  h.created_unix_ns = RealtimeNowNs();
  std::memcpy(static_cast<void*>(header), &h, sizeof(h));
  // Release: pairs with the acquire load of the magic in AttachExisting.
  Atomic(header->magic).store(kSegmentMagic, std::memory_order_release);
  return Segment(name, std::move(mapping));
}

Result<Segment> Segment::AttachExisting(const std::string& name) {
  auto mapping = std::make_unique<Mapping>();
  try {
    mapping->object = bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    if (e.get_error_code() == bip::not_found_error) {
      return Status::NotFound("no shared-memory segment '" + name + "' (" + ShmPath(name) +
                              "): " + HowToCreate(name));
    }
    return Status::IoError("cannot open shared-memory segment '" + name + "' (" + ShmPath(name) +
                           "): " + e.what() + "; run as the user that started hokm-engine");
  }
  bip::offset_t size = 0;
  if (!mapping->object.get_size(size) || size < static_cast<bip::offset_t>(sizeof(SegmentHeader))) {
    return NotYetASegment(name,
                          "shorter than a segment header (" + std::to_string(size) + " bytes)");
  }
  try {
    mapping->region = bip::mapped_region(mapping->object, bip::read_write);
  } catch (const bip::interprocess_exception& e) {
    return Status::IoError("cannot map shared-memory segment '" + name + "': " + e.what());
  }
  auto* header = static_cast<SegmentHeader*>(mapping->region.get_address());
  // Acquire: pairs with the release store of the magic in CreateNew.
  const std::uint64_t magic = Atomic(header->magic).load(std::memory_order_acquire);
  if (magic == 0) return NotYetASegment(name, "without a segment header (all zero)");
  if (magic != kSegmentMagic) {
    return Status::Corruption("shared memory '" + name + "' (" + ShmPath(name) +
                              ") is not a hokm segment (bad magic); remove it and " +
                              HowToCreate(name));
  }
  if (header->layout_version != kLayoutVersion) {
    return Status::VersionMismatch(
        "shared-memory segment '" + name + "' has layout version " +
        std::to_string(header->layout_version) + " but this build uses layout version " +
        std::to_string(kLayoutVersion) + ": stop every process attached to it, remove it (rm " +
        ShmPath(name) + ") and " + HowToCreate(name));
  }
  const std::uint64_t total = header->total_bytes;
  if (total != static_cast<std::uint64_t>(size) || header->header_bytes != sizeof(SegmentHeader) ||
      !RegionFits(header->table, total) || !RegionFits(header->command_rings, total) ||
      !RegionFits(header->change_rings, total) || !RegionFits(header->clients, total)) {
    return Status::Corruption("shared-memory segment '" + name +
                              "' has an inconsistent header (size " + std::to_string(size) +
                              ", header says " + std::to_string(total) + "); remove it and " +
                              HowToCreate(name));
  }
  // The header must describe what PlanLayout would make of its own fields.
  SegmentOptions replay;
  replay.name = name;
  replay.table_capacity = header->table_capacity;
  replay.shards = header->shard_count;
  replay.client_slots = header->client_count;
  replay.node_id = header->node_id;
  replay.command_ring_bytes = header->command_ring_bytes;
  replay.change_ring_bytes = header->change_ring_bytes;
  replay.response_ring_bytes = header->response_ring_bytes;
  Result<SegmentHeader> plan = PlanLayout(replay);
  if (!plan.ok() || !SameLayout(*plan, *header) ||
      std::memcmp(&plan->table, &header->table, 5 * sizeof(SegmentRegion)) != 0) {
    return Status::Corruption("shared-memory segment '" + name +
                              "' has an inconsistent layout; remove it and " + HowToCreate(name));
  }
  Segment segment(name, std::move(mapping));
  // Every ring must carry the capacity the header gives it.
  bool rings_ok = true;
  for (std::uint32_t i = 0; i < segment.shards(); ++i) {
    rings_ok = rings_ok &&
               segment.command_ring(i).trailer()->capacity == header->command_ring_bytes &&
               segment.change_ring(i).trailer()->capacity == header->change_ring_bytes;
  }
  for (std::uint32_t i = 0; i < segment.client_slots(); ++i) {
    rings_ok =
        rings_ok && segment.response_ring(i).trailer()->capacity == header->response_ring_bytes;
  }
  if (!rings_ok || segment.table().capacity() != header->table_capacity ||
      segment.table().shards() != header->shard_count ||
      segment.table().node() != header->node_id) {
    return Status::Corruption(
        "shared-memory segment '" + name +
        "' has a ring or table that does not match its header; remove it and " + HowToCreate(name));
  }
  return segment;
}

Result<Segment> Segment::Create(const SegmentOptions& options) {
  Result<SegmentHeader> plan = PlanLayout(options);
  if (!plan.ok()) return plan.status();
  Result<Segment> created = CreateNew(options, *plan);
  if (created.ok() || !options.reuse_existing ||
      created.status().code() != Status::Code::kAlreadyExists) {
    return created;
  }
  return OpenOrCreate(options);
}

Result<Segment> Segment::OpenOrCreate(const SegmentOptions& options) {
  Result<SegmentHeader> plan = PlanLayout(options);
  if (!plan.ok()) return plan.status();
  // Two rounds: a segment removed or created by someone else between our
  // attempts is looked at once more.
  for (int round = 0; round < 2; ++round) {
    Result<Segment> attached = AttachExisting(options.name);
    if (attached.ok()) {
      if (!SameLayout(attached->header(), *plan)) {
        return Status::InvalidArgument(
            "shared-memory segment '" + options.name + "' exists with another layout (" +
            Describe(attached->header()) + ") than asked for (" + Describe(*plan) +
            "): start with the same options, or stop every process using it and remove it (rm " +
            ShmPath(options.name) + ")");
      }
      return attached;
    }
    if (attached.status().code() != Status::Code::kNotFound) return attached;
    Result<Segment> created = CreateNew(options, *plan);
    if (created.ok() || created.status().code() != Status::Code::kAlreadyExists) return created;
  }
  return Status::Unavailable("shared-memory segment '" + options.name +
                             "' keeps appearing and disappearing; is another engine starting?");
}

Result<Segment> Segment::Attach(const std::string& name) {
  if (Status s = CheckName(name); !s.ok()) return s;
  return AttachExisting(name);
}

Status Segment::Remove(const std::string& name) {
  if (Status s = CheckName(name); !s.ok()) return s;
  if (!bip::shared_memory_object::remove(name.c_str()) && errno != ENOENT) {
    return Status::IoError("cannot remove shared-memory segment '" + name + "' (" + ShmPath(name) +
                           "): " + std::strerror(errno));
  }
  return Status::Ok();
}

Ring Segment::command_ring(std::uint32_t shard) const {
  return Ring(base_ + header_->command_rings.offset + shard * header_->command_rings.stride,
              header_->command_ring_bytes);
}

Ring Segment::change_ring(std::uint32_t shard) const {
  return Ring(base_ + header_->change_rings.offset + shard * header_->change_rings.stride,
              header_->change_ring_bytes);
}

ClientSlot& Segment::client(std::uint32_t client) const {
  return *reinterpret_cast<ClientSlot*>(base_ + header_->clients.offset +
                                        client * header_->clients.stride);
}

Ring Segment::response_ring(std::uint32_t client) const {
  return Ring(
      base_ + header_->clients.offset + client * header_->clients.stride + sizeof(ClientSlot),
      header_->response_ring_bytes);
}

// The counter lines: engine shards, then sidecar shards, then the sidecar's
// own lines (PlanLayout sizes the region to match).
CounterView Segment::engine_counters(std::uint32_t shard) const {
  return CounterView(reinterpret_cast<CounterLine*>(base_ + header_->counters.offset) + shard);
}

CounterView Segment::sidecar_counters(std::uint32_t shard) const {
  return CounterView(reinterpret_cast<CounterLine*>(base_ + header_->counters.offset) +
                     header_->shard_count + shard);
}

CounterView Segment::sidecar_line(std::uint32_t line) const {
  return CounterView(reinterpret_cast<CounterLine*>(base_ + header_->counters.offset) +
                     2 * header_->shard_count + line);
}

Status Segment::ClaimEngine() {
  const auto self = static_cast<std::uint64_t>(::getpid());
  auto pid_ref = Atomic(header_->engine_pid);
  std::uint64_t current = pid_ref.load(std::memory_order_acquire);
  for (int attempt = 0; attempt < 64; ++attempt) {
    if (current == self) break;
    if (current != 0 && ProcessAlive(current)) {
      return Status::Unavailable("shared-memory segment '" + name_ +
                                 "' is in use by a running hokm-engine (pid " +
                                 std::to_string(current) + "); stop it first");
    }
    // Acq_rel: the new engine sees what the previous one wrote (it released
    // by its stores to the slots and rings, which it did before dying).
    if (pid_ref.compare_exchange_strong(current, self, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
      break;
    }
  }
  if (pid_ref.load(std::memory_order_acquire) != self) {
    return Status::Unavailable("could not claim shared-memory segment '" + name_ +
                               "' for this engine: it keeps changing hands");
  }
  Heartbeat();
  return Status::Ok();
}

void Segment::ReleaseEngine() {
  std::uint64_t self = static_cast<std::uint64_t>(::getpid());
  Atomic(header_->engine_pid).compare_exchange_strong(self, 0, std::memory_order_acq_rel);
}

pid_t Segment::engine_pid() const {
  return static_cast<pid_t>(Atomic(header_->engine_pid).load(std::memory_order_acquire));
}

void Segment::Heartbeat() {
  Atomic(header_->engine_heartbeat_ns).store(MonotonicNowNs(), std::memory_order_relaxed);
}

std::uint64_t Segment::engine_heartbeat_ns() const {
  return Atomic(header_->engine_heartbeat_ns).load(std::memory_order_relaxed);
}

bool ProcessAlive(std::uint64_t pid) {
  if (pid == 0 || pid > static_cast<std::uint64_t>(INT32_MAX)) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

bool Segment::EngineAlive() const { return ProcessAlive(static_cast<std::uint64_t>(engine_pid())); }

}  // namespace hokm::shm
