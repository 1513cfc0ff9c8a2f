-- One SCAN step over the namespace's keys, for the dashboard's keys page: the names come back
-- joined by newlines in one reply (31,000 names parse as one string in about a millisecond;
-- as 31,000 replies they cost redis-py's parser ~50 ms), and any name holding a newline as
-- its own reply after it, so every name arrives exact.
--   ARGV: cursor, MATCH pattern, COUNT.
-- Returns {next cursor, names joined by "\n", names with a newline...}.
local step = redis.call('SCAN', ARGV[ARG.cursor], 'MATCH', ARGV[ARG.pattern],
                       'COUNT', ARGV[ARG.count])
local plain, out = {}, {step[1], ''}
for _, name in ipairs(step[2]) do
  if string.find(name, '\n', 1, true) then
    out[#out + 1] = name
  else
    plain[#plain + 1] = name
  end
end
out[2] = table.concat(plain, '\n')
return out
