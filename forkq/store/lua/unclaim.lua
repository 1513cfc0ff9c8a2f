local ns, wid, expected_sha, queue, payload = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local claim = redis.call('GET', ns .. 'worker:' .. wid)
if not claim or redis.sha1hex(claim) ~= expected_sha then return 0 end
redis.call('SADD', ns .. 'queues', queue)
redis.call('LPUSH', ns .. 'queue:' .. queue, payload)
redis.call('DEL', ns .. 'worker:' .. wid)
return 1
