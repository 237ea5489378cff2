-- rate_game.lua: a finished game's rating in one leaderboard shard, once
-- (sidecar/rating.h; the keys are sidecar/redis/keys.h's: both in the
-- shard's slot, so a Redis Cluster runs it). KEYS: the shard's rated zset,
-- the shard's leaderboard. ARGV: game, ended ms, marker TTL ms, base, then
-- a (player, delta) pair per seated player of the game in this shard. The
-- game in the rated zset makes a replay harmless; games rated longer ago
-- than the TTL are trimmed from it.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local ended = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (ended - tonumber(ARGV[3])))
redis.call('ZADD', KEYS[1], ended, ARGV[1])
local base = tonumber(ARGV[4])
for i = 5, #ARGV - 1, 2 do
  local pid, delta = ARGV[i], tonumber(ARGV[i + 1])
  if redis.call('ZSCORE', KEYS[2], pid) then
    redis.call('ZINCRBY', KEYS[2], delta, pid)
  else
    redis.call('ZADD', KEYS[2], base + delta, pid)
  end
end
return 1
