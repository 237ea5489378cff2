-- leave_game.lua: a player leaving. KEYS: the player's hash. ARGV: game,
-- ts_ms, TTL ms. The hash is cleared only while it still names this game
-- (the player may have joined another since).
if redis.call('HGET', KEYS[1], 'game') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'game', '0', 'seat', '', 'connected', '0', 'last_seen', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
