-- ARGV: ns, wid, started ('' = beat only), the process's start stamp (proc/pidstart.py)
local ns, wid, started = ARGV[ARG.ns], ARGV[ARG.wid], ARGV[ARG.started]
local stamp = ARGV[ARG.stamp] or ''
local secs = tonumber(redis.call('TIME')[1])
-- civil date from days since the epoch (proleptic Gregorian), all in UTC
local days, rem = math.floor(secs / 86400), secs % 86400
local z = days + 719468
local era = math.floor(z / 146097)
local doe = z - era * 146097
local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
                        - math.floor(doe / 146096)) / 365)
local y = yoe + era * 400
local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
local mp = math.floor((5 * doy + 2) / 153)
local d = doy - math.floor((153 * mp + 2) / 5) + 1
local m = mp < 10 and mp + 3 or mp - 9
if m <= 2 then y = y + 1 end
local iso = string.format('%04d-%02d-%02dT%02d:%02d:%02d+00:00', y, m, d,
                          math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60)
redis.call('HSET', ns .. 'workers:heartbeat', wid, iso)
local registered = 1
if started ~= '' then
  registered = redis.call('SADD', ns .. 'workers', wid) == 0 and 1 or 0
  if registered == 0 then
    redis.call('SET', ns .. 'worker:' .. wid .. ':started', started)
    if stamp ~= '' then redis.call('SET', ns .. 'forkq:pidstart:' .. wid, stamp) end
  end
end
return {iso, secs, registered}
