// client.h: a Redis deployment, one server or a Redis Cluster, behind one
// pipelining API: every Redis user in hokm (the sink, hokmctl, loadgen's
// --verify and --baseline) talks to Redis through it.
//
// A RedisUrl with several seeds (redis://h1:p1,h2:p2) or with cluster set
// (--redis-cluster) is a cluster: the client reads the slot map (CLUSTER
// SLOTS) from the first seed that answers, keeps one connection
// (connection.h) per master it sends to, routes each command by its key's
// slot (CRC16 of the key's hash tag, KeySlot), pipelines per node (every
// node's commands are written before any reply is read, so the nodes work
// at once) and hands the replies back in the order the commands were
// queued. A MOVED reply updates the slot's owner and resends the command
// there (the whole slot map is read again before the next flush); an ASK
// reply resends it to the node named, after ASKING; at most
// kMaxRedirects times per command. One server is the same with one node
// owning every slot and no slot map.
//
// Failure: a node that cannot be reached, or whose connection fails, makes
// the replies of its commands null and drops its connection; the next
// flush reconnects (a cluster reads its slot map again first, so a
// promoted replica is found). Callers keep their semantics of a lost
// connection: the sink's breaker and spill queue see Unavailable.
//
// Thread safety: none; one client per thread.
//
// REQUIRES: SIGPIPE is ignored in the process (connection.h).
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "shm/status.h"
#include "sidecar/redis/connection.h"
#include "sidecar/url.h"

namespace hokm::sidecar {

inline constexpr std::uint32_t kRedisClusterSlots = 16384;

// The cluster slot of a key: CRC16 (XMODEM) of its hash tag (the bytes
// between the first '{' and the next '}', when not empty), else of the key,
// modulo 16384, as Redis Cluster computes it.
std::uint16_t KeySlot(std::string_view key);
// A short tag whose slot is `slot` ("{tag}" in a key puts it there).
const std::string& SlotTag(std::uint16_t slot);

// What a client did since it connected, for /metrics and tests.
struct RedisClientStats {
  std::uint64_t redirects_moved = 0;
  std::uint64_t redirects_ask = 0;
  std::uint64_t slot_map_reads = 0;
  std::uint64_t node_failures = 0;  // a node's connection lost or refused
};

class RedisClient {
 public:
  // Reads the slot map (a cluster) or connects (one server). Unavailable
  // when no seed answers, InvalidArgument when one refuses AUTH or SELECT,
  // when the URL names a cluster but the server is not one (or the other
  // way round: a single-server URL at a cluster node that does not serve
  // every slot), or when the cluster's slots are not all served.
  static Result<RedisClient> Connect(const RedisUrl& url, const RedisConnectOptions& options = {});

  RedisClient();  // closed
  RedisClient(RedisClient&&) noexcept;
  RedisClient& operator=(RedisClient&&) noexcept;
  ~RedisClient();

  // False once a node failed or Close was called, until Reopen.
  bool is_open() const;
  bool is_cluster() const;
  // Drops every connection and what is queued.
  void Close();
  // Connects again (a cluster: the slot map again, from the masters it knew
  // and the seeds). As Connect fails.
  Status Reopen();

  // Queues a command routed by its key: words[1] (EVAL/EVALSHA: words[3]
  // when it names a key; XREAD/XREADGROUP: the first key after STREAMS;
  // commands without a key go to any node).
  void Append(std::span<const std::string_view> words);
  void Append(std::initializer_list<std::string_view> words) {
    Append(std::span<const std::string_view>(words.begin(), words.size()));
  }
  // Queues one command already in RESP, routed by `key` (empty: any node).
  void AppendFormatted(std::string_view key, std::string_view resp);
  // The same, routed by a slot (KeySlot; -1: any node).
  void AppendFormattedToSlot(int slot, std::string_view resp);
  // Sends what is queued (all nodes, then reads every reply) and returns
  // the replies one by one, in the order queued. Null: the command's node
  // failed (see above) or nothing is queued.
  RedisReply GetReply();
  // Append + GetReply. Replies still pending from earlier Appends are
  // discarded first.
  RedisReply Command(std::span<const std::string_view> words);
  RedisReply Command(std::initializer_list<std::string_view> words) {
    return Command(std::span<const std::string_view>(words.begin(), words.size()));
  }

  // fn on a connection to every master (one server: that server), e.g.
  // SCAN, FLUSHALL, INFO; the first error stops and is returned.
  Status ForEachMaster(const std::function<Status(RedisConnection&, std::string_view where)>& fn);
  // One slot of every master (one server: slot 0), in the slot map's
  // order: "{SlotTag(slot)}" in a key lands on that master.
  std::vector<std::uint16_t> MasterSlots() const;
  // Every master's "host:port", in the same order.
  std::vector<std::string> MasterAddresses() const;
  std::size_t masters() const;

  // The last failure, for messages ("no reply" when none).
  std::string Error() const;
  // "127.0.0.1:6390", or "cluster of 3 masters (seeds 127.0.0.1:7000,...)".
  std::string Where() const;
  RedisClientStats stats() const;

  static constexpr int kMaxRedirects = 5;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hokm::sidecar
