-- ARGV is named in scripts.ARGS (the prologue gives ARG.<name>)
local ns, wid, expected_sha = ARGV[ARG.ns], ARGV[ARG.wid], ARGV[ARG.claim_sha]
local queue, payload = ARGV[ARG.queue], ARGV[ARG.payload]
local claim = redis.call('GET', ns .. 'worker:' .. wid)
if not claim or redis.sha1hex(claim) ~= expected_sha then return 0 end
redis.call('SADD', ns .. 'queues', queue)
redis.call('LPUSH', ns .. 'queue:' .. queue, payload)
redis.call('DEL', ns .. 'worker:' .. wid)
return 1
