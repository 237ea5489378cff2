-- rate_game.lua: a finished game's rating, once (sidecar/rating.h).
-- KEYS: the game's rated marker, the leaderboard. ARGV: marker TTL ms,
-- base, step, winner team, the players of seats 0..3 (0 = empty). The
-- marker makes a replay harmless.
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
local base, step, winner = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
for s = 0, 3 do
  local pid = ARGV[5 + s]
  if pid ~= '0' then
    local delta = step
    if s % 2 ~= winner then delta = -step end
    if redis.call('ZSCORE', KEYS[2], pid) then
      redis.call('ZINCRBY', KEYS[2], delta, pid)
    else
      redis.call('ZADD', KEYS[2], base + delta, pid)
    end
  end
end
return 1
