-- seed_cas.lua: the Redis-centred baseline's write of a game (--baseline
-- seed): SET KEYS[1] to ARGV[2] with expiry ARGV[3] seconds only if the
-- stored state's seq is ARGV[1] (0: no state yet). Returns 1 if written,
-- 0 if another writer got there first.
local cur = redis.call('GET', KEYS[1])
local expected = tonumber(ARGV[1])
if cur then
  local seq = tonumber(string.match(cur, '^{"seq":(%d+)'))
  if seq ~= expected then return 0 end
elseif expected ~= 0 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
