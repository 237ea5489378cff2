// client.cc: RedisClient, one server or a Redis Cluster (see client.h).
#include "sidecar/redis/client.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <deque>
#include <optional>
#include <utility>

namespace hokm::sidecar {
namespace {

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), as Redis Cluster's
// key hashing specifies it.
constexpr std::array<std::uint16_t, 256> MakeCrc16Table() {
  std::array<std::uint16_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t crc = i << 8;
    for (int b = 0; b < 8; ++b) crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
    t[i] = static_cast<std::uint16_t>(crc);
  }
  return t;
}
constexpr std::array<std::uint16_t, 256> kCrc16 = MakeCrc16Table();

std::uint16_t Crc16(std::string_view s) {
  std::uint16_t crc = 0;
  for (unsigned char c : s)
    crc = static_cast<std::uint16_t>((crc << 8) ^ kCrc16[((crc >> 8) ^ c) & 0xff]);
  return crc;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The key a command is routed by (client.h); empty: none.
std::string_view CommandKey(std::span<const std::string_view> words) {
  if (words.size() < 2) return {};
  const std::string_view cmd = words[0];
  if (EqualsIgnoreCase(cmd, "EVAL") || EqualsIgnoreCase(cmd, "EVALSHA") ||
      EqualsIgnoreCase(cmd, "FCALL")) {
    return words.size() > 3 && words[2] != "0" ? words[3] : std::string_view();
  }
  if (EqualsIgnoreCase(cmd, "XREAD") || EqualsIgnoreCase(cmd, "XREADGROUP")) {
    for (std::size_t i = 1; i + 1 < words.size(); ++i)
      if (EqualsIgnoreCase(words[i], "STREAMS")) return words[i + 1];
    return {};
  }
  for (std::string_view keyless :
       {"PING", "INFO", "PUBLISH", "SCAN", "FLUSHALL", "FLUSHDB", "DBSIZE", "CLUSTER", "CLIENT",
        "SELECT", "AUTH", "KEYS", "RANDOMKEY", "WAIT", "SCRIPT", "CONFIG", "TIME", "SUBSCRIBE"}) {
    if (EqualsIgnoreCase(cmd, keyless)) return {};
  }
  return words[1];
}

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381": slot and address.
struct Redirect {
  bool ask = false;
  int slot = -1;
  std::string host;
  std::uint16_t port = 0;
};
std::optional<Redirect> ParseRedirect(std::string_view text) {
  Redirect r;
  if (text.substr(0, 6) == "MOVED ") {
    text.remove_prefix(6);
  } else if (text.substr(0, 4) == "ASK ") {
    r.ask = true;
    text.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const std::size_t space = text.find(' ');
  const std::size_t colon = text.rfind(':');
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space)
    return std::nullopt;
  int slot = 0;
  unsigned port = 0;
  if (std::from_chars(text.data(), text.data() + space, slot).ec != std::errc() ||
      std::from_chars(text.data() + colon + 1, text.data() + text.size(), port).ec != std::errc() ||
      slot < 0 || slot >= static_cast<int>(kRedisClusterSlots) || port == 0 || port > 65535) {
    return std::nullopt;
  }
  r.slot = slot;
  r.host.assign(text.substr(space + 1, colon - space - 1));
  r.port = static_cast<std::uint16_t>(port);
  return r;
}

// The RESP of ASKING, sent before a command an ASK redirected.
constexpr std::string_view kAsking = "*1\r\n$6\r\nASKING\r\n";

}  // namespace

std::uint16_t KeySlot(std::string_view key) {
  const std::size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const std::size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1)
      key = key.substr(open + 1, close - open - 1);
  }
  return static_cast<std::uint16_t>(Crc16(key) % kRedisClusterSlots);
}

const std::string& SlotTag(std::uint16_t slot) {
  // Built once: "t0", "t1", ... until every slot has a tag (about 170,000
  // CRCs of short strings, a few milliseconds).
  static const std::vector<std::string> tags = [] {
    std::vector<std::string> t(kRedisClusterSlots);
    std::uint32_t filled = 0;
    for (std::uint64_t i = 0; filled < kRedisClusterSlots; ++i) {
      std::string tag = "t" + std::to_string(i);
      std::string& at = t[KeySlot(tag)];
      if (at.empty()) {
        at = std::move(tag);
        ++filled;
      }
    }
    return t;
  }();
  return tags[slot % kRedisClusterSlots];
}

struct RedisClient::Impl {
  struct Node {
    std::string host;
    std::uint16_t port = 0;
    RedisConnection conn;
    std::string where() const { return host + ":" + std::to_string(port); }
  };
  // A command from Append to GetReply: its RESP, its slot (-1: any node),
  // the node it went to, and its reply once read.
  struct Cmd {
    std::string resp;
    int slot = -1;
    int node = -1;
    bool sent = false;
    bool ask = false;   // resent after ASKING (an ASK redirect)
    bool done = false;  // reply read (null: its node failed)
    int redirects = 0;
    RedisReply reply;
  };
  // In a node's FIFO of replies to read: the ASKING before an ASK resend.
  static constexpr std::uint64_t kAskingReply = ~std::uint64_t{0};

  RedisUrl url;
  RedisConnectOptions options;
  bool cluster = false;
  bool open = false;
  bool map_stale = false;  // a MOVED was seen: read the slot map before the next flush
  std::vector<Node> nodes;
  std::array<std::int16_t, kRedisClusterSlots> owner{};  // slot -> index in nodes
  std::vector<int> masters;                              // nodes serving slots, map order

  std::deque<Cmd> cmds;                             // queued, sent or read, in Append order
  std::uint64_t front_id = 0;                       // id of cmds.front(); ids count every command
  std::uint64_t unsent_id = 0;                      // the first command SendPending has not seen
  std::vector<std::deque<std::uint64_t>> inflight;  // per node: ids whose replies are due
  std::string error;
  RedisClientStats stats;

  RedisUrl NodeUrl(const std::string& host, std::uint16_t port) const {
    RedisUrl u;
    u.host = host;
    u.port = port;
    u.username = url.username;
    u.password = url.password;
    u.db = cluster ? 0 : url.db;
    return u;
  }

  int NodeIndex(const std::string& host, std::uint16_t port) {
    for (std::size_t i = 0; i < nodes.size(); ++i)
      if (nodes[i].host == host && nodes[i].port == port) return static_cast<int>(i);
    nodes.push_back(Node{host, port, {}});
    inflight.resize(nodes.size());
    return static_cast<int>(nodes.size() - 1);
  }

  // Connects node i when it is not; false (error set) on failure.
  Status EnsureNode(int i) {
    Node& n = nodes[static_cast<std::size_t>(i)];
    if (n.conn.is_open()) return Status::Ok();
    Result<RedisConnection> c = RedisConnection::Connect(NodeUrl(n.host, n.port), options);
    if (!c.ok()) {
      ++stats.node_failures;
      error = c.status().message();
      return c.status();
    }
    n.conn = std::move(c).value();
    return Status::Ok();
  }

  // CLUSTER SLOTS from the first node that answers: the masters it knew,
  // then the seeds.
  Status ReadSlotMap() {
    std::vector<std::pair<std::string, std::uint16_t>> candidates;
    for (int m : masters) candidates.emplace_back(nodes[m].host, nodes[m].port);
    candidates.emplace_back(url.host, url.port);
    for (const RedisUrl::Seed& s : url.more_seeds) candidates.emplace_back(s.host, s.port);
    Status last = Status::Unavailable("redis cluster: no seed given");
    for (const auto& [host, port] : candidates) {
      const int i = NodeIndex(host, port);
      if (Status s = EnsureNode(i); !s.ok()) {
        last = s;
        continue;
      }
      RedisReply r = nodes[static_cast<std::size_t>(i)].conn.Command({"CLUSTER", "SLOTS"});
      if (!r) {
        last = Status::Unavailable("redis at " + host + ":" + std::to_string(port) +
                                   ": CLUSTER SLOTS failed: " + nodes[i].conn.Error());
        nodes[static_cast<std::size_t>(i)].conn.Close();
        continue;
      }
      if (IsErrorReply(r.get())) {
        return Status::InvalidArgument(
            "redis at " + host + ":" + std::to_string(port) +
            " is not a cluster node (CLUSTER SLOTS: " + std::string(ReplyString(r.get())) +
            "): give one server's URL without --redis-cluster");
      }
      if (Status s = ApplySlots(r.get(), host, port); !s.ok()) {
        last = s;
        continue;
      }
      ++stats.slot_map_reads;
      map_stale = false;
      return Status::Ok();
    }
    error = last.message();
    return last;
  }

  // [[start, end, [host, port, id], replicas...], ...]
  Status ApplySlots(const redisReply* r, const std::string& from_host, std::uint16_t from_port) {
    std::array<std::int16_t, kRedisClusterSlots> map;
    map.fill(-1);
    std::vector<int> found;
    std::uint32_t covered = 0;
    const auto bad = [&] {
      return Status::Internal("redis at " + from_host + ":" + std::to_string(from_port) +
                              ": unexpected CLUSTER SLOTS reply");
    };
    if (r->type != REDIS_REPLY_ARRAY) return bad();
    for (std::size_t k = 0; k < r->elements; ++k) {
      const redisReply* e = r->element[k];
      if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
          e->element[0]->type != REDIS_REPLY_INTEGER ||
          e->element[1]->type != REDIS_REPLY_INTEGER || e->element[2]->type != REDIS_REPLY_ARRAY ||
          e->element[2]->elements < 2 || e->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
        return bad();
      const long long lo = e->element[0]->integer, hi = e->element[1]->integer;
      if (lo < 0 || hi >= kRedisClusterSlots || lo > hi) return bad();
      std::string host(ReplyString(e->element[2]->element[0]));
      if (host.empty() || host == "?") host = from_host;  // "the address you reached me at"
      const long long port = e->element[2]->element[1]->integer;
      if (port <= 0 || port > 65535) return bad();
      const int node = NodeIndex(host, static_cast<std::uint16_t>(port));
      if (std::find(found.begin(), found.end(), node) == found.end()) found.push_back(node);
      for (long long s = lo; s <= hi; ++s) {
        if (map[static_cast<std::size_t>(s)] < 0) ++covered;
        map[static_cast<std::size_t>(s)] = static_cast<std::int16_t>(node);
      }
    }
    if (covered != kRedisClusterSlots) {
      return Status::Unavailable("redis cluster (asked " + from_host + ":" +
                                 std::to_string(from_port) + ") serves " + std::to_string(covered) +
                                 " of 16384 slots: the cluster is down or still forming");
    }
    owner = map;
    masters = std::move(found);
    return Status::Ok();
  }

  Status Open() {
    if (cluster) {
      if (Status s = ReadSlotMap(); !s.ok()) return s;
    } else {
      nodes.clear();
      inflight.clear();
      masters = {NodeIndex(url.host, url.port)};
      owner.fill(0);
      if (Status s = EnsureNode(0); !s.ok()) return s;
    }
    open = true;
    return Status::Ok();
  }

  void CloseAll() {
    for (Node& n : nodes) n.conn.Close();
    front_id += cmds.size();
    unsent_id = front_id;
    cmds.clear();
    for (auto& f : inflight) f.clear();
    open = false;
  }

  Cmd& At(std::uint64_t id) { return cmds[static_cast<std::size_t>(id - front_id)]; }

  // A node failed: the commands whose replies it owed end with a null
  // reply; its connection is dropped, and the client is not open any more
  // (client.h: the caller reopens).
  void NodeFailed(int node, std::string_view what) {
    Node& n = nodes[static_cast<std::size_t>(node)];
    error = "redis at " + n.where() + ": " + std::string(what) + ": " + n.conn.Error();
    n.conn.Close();
    ++stats.node_failures;
    open = false;
    for (std::uint64_t id : inflight[static_cast<std::size_t>(node)]) {
      if (id != kAskingReply) At(id).done = true;
    }
    inflight[static_cast<std::size_t>(node)].clear();
  }

  bool NothingInFlight() const {
    for (const auto& f : inflight)
      if (!f.empty()) return false;
    return true;
  }

  // Writes command id to its node (after ASKING when it was redirected so).
  // False when the node failed.
  bool Put(std::uint64_t id) {
    Cmd& c = At(id);
    if (!EnsureNode(c.node).ok()) {
      c.done = true;  // null reply
      open = false;
      return false;
    }
    RedisConnection& conn = nodes[static_cast<std::size_t>(c.node)].conn;
    auto& fifo = inflight[static_cast<std::size_t>(c.node)];
    if (c.ask) {
      if (!conn.AppendFormatted(kAsking)) return false;
      fifo.push_back(kAskingReply);
    }
    if (!conn.AppendFormatted(c.resp)) return false;
    fifo.push_back(id);
    c.sent = true;
    return true;
  }

  // Sends every command not sent yet, each to its slot's master; every
  // node's pipeline is written before any reply is read, so the nodes
  // work at once. Replies are read as GetReply asks for them.
  void SendPending() {
    if (cluster && map_stale && NothingInFlight() && !ReadSlotMap().ok()) open = false;
    std::vector<char> touched(nodes.size(), 0);
    const std::uint64_t end = front_id + cmds.size();
    for (std::uint64_t id = std::max(unsent_id, front_id); id < end; ++id) {
      Cmd& c = At(id);
      if (c.sent || c.done) continue;
      c.node = c.slot < 0 ? masters.front() : owner[static_cast<std::size_t>(c.slot)];
      if (static_cast<std::size_t>(c.node) >= touched.size()) touched.resize(nodes.size(), 0);
      if (!Put(id)) {
        if (nodes[static_cast<std::size_t>(c.node)].conn.is_open())
          NodeFailed(c.node, "queueing a command failed");
        continue;
      }
      touched[static_cast<std::size_t>(c.node)] = 1;
    }
    unsent_id = end;
    for (std::size_t n = 0; n < touched.size(); ++n) {
      if (touched[n] && nodes[n].conn.is_open() && !nodes[n].conn.Flush())
        NodeFailed(static_cast<int>(n), "sending a pipeline failed");
    }
  }

  // Reads the next reply node n owes, and follows it when it is a
  // redirect (the command is resent, its reply read later).
  void ReadOne(int n) {
    auto& fifo = inflight[static_cast<std::size_t>(n)];
    RedisConnection& conn = nodes[static_cast<std::size_t>(n)].conn;
    RedisReply r = conn.GetReply();
    if (!r) {
      NodeFailed(n, "reading a reply failed");
      return;
    }
    const std::uint64_t id = fifo.front();
    fifo.pop_front();
    if (id == kAskingReply) return;  // ASKING's +OK
    Cmd& c = At(id);
    std::optional<Redirect> redirect;
    if (IsErrorReply(r.get()) && c.redirects < kMaxRedirects)
      redirect = ParseRedirect(ReplyString(r.get()));
    if (!redirect) {
      c.reply = std::move(r);
      c.done = true;
      return;
    }
    ++c.redirects;
    c.ask = redirect->ask;
    c.node = NodeIndex(redirect->host, redirect->port);
    if (redirect->ask) {
      ++stats.redirects_ask;
    } else {
      ++stats.redirects_moved;
      owner[static_cast<std::size_t>(redirect->slot)] = static_cast<std::int16_t>(c.node);
      map_stale = true;  // read whole before a later send
    }
    RedisConnection& to = nodes[static_cast<std::size_t>(c.node)].conn;
    if (!Put(id)) {
      if (to.is_open()) NodeFailed(c.node, "queueing a redirected command failed");
      return;
    }
    if (!nodes[static_cast<std::size_t>(c.node)].conn.Flush())
      NodeFailed(c.node, "sending a redirected command failed");
  }

  // Reads until command id has its reply.
  void Await(std::uint64_t id) {
    while (!At(id).done) {
      const int n = At(id).node;
      if (n < 0 || inflight[static_cast<std::size_t>(n)].empty()) {
        At(id).done = true;  // never sent (its node failed): null
        break;
      }
      ReadOne(n);
    }
  }

  void Queue(int slot, std::string_view resp) {
    Cmd c;
    c.resp.assign(resp);
    c.slot = slot;
    cmds.push_back(std::move(c));
  }
};

RedisClient::RedisClient() = default;
RedisClient::RedisClient(RedisClient&&) noexcept = default;
RedisClient& RedisClient::operator=(RedisClient&&) noexcept = default;
RedisClient::~RedisClient() = default;

Result<RedisClient> RedisClient::Connect(const RedisUrl& url, const RedisConnectOptions& options) {
  RedisClient c;
  c.impl_ = std::make_unique<Impl>();
  Impl& m = *c.impl_;
  m.url = url;
  m.options = options;
  m.cluster = url.cluster || !url.more_seeds.empty();
  if (m.cluster && url.db != 0)
    return Status::InvalidArgument("redis cluster: only database 0 exists (the URL names " +
                                   std::to_string(url.db) + ")");
  if (Status s = m.Open(); !s.ok()) return s;
  if (!m.cluster) {
    // One seed that is a cluster node: routed as a cluster, or its MOVED
    // replies would be errors.
    RedisReply info = m.nodes[0].conn.Command({"INFO", "cluster"});
    if (!info) return Status::Unavailable("redis at " + url.HostPort() + ": INFO failed");
    if (ReplyString(info.get()).find("cluster_enabled:1") != std::string_view::npos) {
      if (url.db != 0)
        return Status::InvalidArgument("redis at " + url.HostPort() +
                                       " is a cluster node: only database 0 exists");
      m.cluster = true;
      m.masters.clear();
      if (Status s = m.Open(); !s.ok()) return s;
    }
  }
  return c;
}

bool RedisClient::is_open() const { return impl_ && impl_->open; }
bool RedisClient::is_cluster() const { return impl_ && impl_->cluster; }

void RedisClient::Close() {
  if (impl_) impl_->CloseAll();
}

Status RedisClient::Reopen() {
  if (!impl_) return Status::InvalidArgument("redis client never connected");
  impl_->CloseAll();
  return impl_->Open();
}

void RedisClient::Append(std::span<const std::string_view> words) {
  std::string resp = "*" + std::to_string(words.size()) + "\r\n";
  for (std::string_view w : words) {
    resp += "$" + std::to_string(w.size()) + "\r\n";
    resp.append(w);
    resp += "\r\n";
  }
  const std::string_view key = CommandKey(words);
  impl_->Queue(key.empty() ? -1 : KeySlot(key), resp);
}

void RedisClient::AppendFormatted(std::string_view key, std::string_view resp) {
  impl_->Queue(key.empty() ? -1 : KeySlot(key), resp);
}

void RedisClient::AppendFormattedToSlot(int slot, std::string_view resp) {
  impl_->Queue(slot, resp);
}

RedisReply RedisClient::GetReply() {
  Impl& m = *impl_;
  if (m.cmds.empty()) return nullptr;
  if (m.unsent_id < m.front_id + m.cmds.size()) m.SendPending();
  m.Await(m.front_id);
  RedisReply r = std::move(m.cmds.front().reply);
  m.cmds.pop_front();
  ++m.front_id;
  return r;
}

RedisReply RedisClient::Command(std::span<const std::string_view> words) {
  while (!impl_->cmds.empty()) (void)GetReply();
  Append(words);
  return GetReply();
}

Status RedisClient::ForEachMaster(
    const std::function<Status(RedisConnection&, std::string_view where)>& fn) {
  Impl& m = *impl_;
  // The masters' connections carry no reply still due (fn talks on them).
  m.SendPending();
  for (std::size_t k = 0; k < m.cmds.size(); ++k) m.Await(m.front_id + k);
  if (!m.open || (m.cluster && m.map_stale)) {
    if (Status s = Reopen(); !s.ok()) return s;
  }
  for (int i : std::vector<int>(m.masters)) {
    if (Status s = m.EnsureNode(i); !s.ok()) return s;
    Impl::Node& n = m.nodes[static_cast<std::size_t>(i)];
    if (Status s = fn(n.conn, n.where()); !s.ok()) return s;
  }
  return Status::Ok();
}

std::vector<std::uint16_t> RedisClient::MasterSlots() const {
  std::vector<std::uint16_t> out;
  if (!impl_) return out;
  for (int node : impl_->masters) {
    for (std::uint32_t s = 0; s < kRedisClusterSlots; ++s) {
      if (impl_->owner[s] == node) {
        out.push_back(static_cast<std::uint16_t>(s));
        break;
      }
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> RedisClient::MasterAddresses() const {
  std::vector<std::string> out;
  if (!impl_) return out;
  for (std::uint16_t slot : MasterSlots()) out.push_back(impl_->nodes[impl_->owner[slot]].where());
  return out;
}

std::size_t RedisClient::masters() const { return impl_ ? impl_->masters.size() : 0; }

std::string RedisClient::Error() const {
  return impl_ && !impl_->error.empty() ? impl_->error : std::string("no reply");
}

std::string RedisClient::Where() const {
  if (!impl_) return "redis (not connected)";
  if (!impl_->cluster) return impl_->url.HostPort();
  return "redis cluster of " + std::to_string(impl_->masters.size()) + " masters (seeds " +
         impl_->url.Seeds() + ")";
}

RedisClientStats RedisClient::stats() const { return impl_ ? impl_->stats : RedisClientStats{}; }

}  // namespace hokm::sidecar
