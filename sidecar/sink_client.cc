// sink_client.cc: the Redis and PostgreSQL clients of the workers (see
// sink_client.h).
#include "sidecar/sink_client.h"

#include "sidecar/log.h"
#include "sidecar/metrics.h"

namespace hokm::sidecar {

RedisSinkClient::RedisSinkClient(RedisUrl url, RedisSinkOptions options,
                                 std::shared_ptr<const StoreRebuildSource> source)
    : url_(std::move(url)), options_(std::move(options)), source_(std::move(source)) {}

std::string RedisSinkClient::StatsText() const {
  // Zeros before the first connect: a counter is on every page.
  return RedisSinkStatsText(sink_ ? sink_->stats() : RedisSinkStats{});
}

Status RedisSinkClient::Apply(std::span<const RecordRef> records) {
  if (!sink_) {
    auto connected = RedisSink::Connect(url_, options_);
    if (!connected.ok()) return connected.status();
    sink_ = std::make_unique<RedisSink>(std::move(connected).value());
    Log("redis: connected to %s", url_.Redacted().c_str());
  }
  Status s = sink_->Write(records);
  const RedisSinkStats after = sink_->stats();
  if (after.rebuilds != rebuilds_seen_) {
    rebuilds_seen_ = after.rebuilds;
    Log("redis: a master failed over, or a hokm:marker key was missing (Redis lost data): "
        "rewrote %llu game(s), live ones from the segment and those that ended within their TTL "
        "from postgres, in %.1f ms (rebuild %llu)",
        static_cast<unsigned long long>(after.rebuilt_games - rebuilt_seen_),
        static_cast<double>(after.last_rebuild_us) / 1000.0,
        static_cast<unsigned long long>(after.rebuilds));
    if (!source_->last_error().empty())
      Log("redis: rebuild without ended games and ratings: %s", source_->last_error().c_str());
    if (source_->unreplayable() != 0)
      Log("redis: rebuild left out %llu ended game(s) whose records in postgres do not replay "
          "to their last seq",
          static_cast<unsigned long long>(source_->unreplayable()));
  }
  rebuilt_seen_ = after.rebuilt_games;
  return s;
}

namespace {
// Adds the counters PgSinkStatsText renders.
void AddRendered(PgSinkStats& into, const PgSinkStats& s) {
  into.rows_inserted += s.rows_inserted;
  into.moves_inserted += s.moves_inserted;
  into.transactions += s.transactions;
  into.dead_letters += s.dead_letters;
}
}  // namespace

PgSinkClient::PgSinkClient(PgUrl url, std::filesystem::path schema_dir,
                           std::string checkpoint_prefix)
    : url_(std::move(url)),
      schema_dir_(std::move(schema_dir)),
      prefix_(std::move(checkpoint_prefix)) {}

Status PgSinkClient::Write(std::span<const RecordRef> records, const WindowEntry& last) {
  if (!sink_) {
    auto connected = PgSink::Connect(url_);
    if (!connected.ok()) return connected.status();
    auto sink = std::make_unique<PgSink>(std::move(connected).value());
    if (Status s = sink->ApplySchema(schema_dir_); !s.ok()) return s;
    sink_ = std::move(sink);
    Log("postgres: connected to %s, schema applied from %s", url_.Redacted().c_str(),
        schema_dir_.c_str());
  }
  Status s = sink_->WriteBatch(records, prefix_ + std::to_string(last.shard), last.ref.position);
  if (!s.ok() && s.code() == Status::Code::kUnavailable) {
    // The next write connects a new sink, whose counters start at zero:
    // keep this one's, so the page's counters never go back.
    AddRendered(earlier_, sink_->stats());
    sink_.reset();
  }
  return s;
}

std::string PgSinkClient::StatsText() const {
  // The counters rendered (PgSinkStatsText) over every connection so far.
  PgSinkStats total = earlier_;
  if (sink_) AddRendered(total, sink_->stats());
  return PgSinkStatsText(total);
}

}  // namespace hokm::sidecar
