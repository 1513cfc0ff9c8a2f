-- Shared Lua helpers: JSON string quoting the way Ruby writes it (raw UTF-8, "/" unescaped),
-- and the checks that keep every claim strict JSON in valid UTF-8: resque-web answers 500 to a
-- worker:<id> it cannot parse, and Redis's cjson accepts more than JSON does.
local esc = {['"']='\\"', ['\\']='\\\\', ['\n']='\\n', ['\r']='\\r', ['\t']='\\t',
             ['\b']='\\b', ['\f']='\\f'}
local function jstr(s)
  return '"' .. s:gsub('[%z\1-\31"\\]', function(c)
    return esc[c] or string.format('\\u%04x', c:byte()) end) .. '"'
end
local function jbytes(s)  -- any bytes as a JSON string, high bytes as \u00XX (latin-1, lossless)
  return '"' .. s:gsub('[%z\1-\31"\\\128-\255]', function(c)
    return esc[c] or string.format('\\u%04x', c:byte()) end) .. '"'
end
-- UTF-8 as JSON and Ruby require it: shortest forms, no surrogates, nothing past U+10FFFF,
-- and every high byte inside a well-formed sequence.
local function utf8_ok(s)
  if not s:find('[\128-\255]') then return true end
  local _, high = s:gsub('[\128-\255]', '')
  local covered = 0
  for seq in s:gmatch('[\192-\255][\128-\191]*') do
    local lead, second, n = seq:byte(1), seq:byte(2), #seq
    if lead < 0xC2 or lead > 0xF4 then return false end
    if n ~= (lead < 0xE0 and 2 or lead < 0xF0 and 3 or 4) then return false end
    if (lead == 0xE0 and second < 0xA0) or (lead == 0xED and second > 0x9F) or
       (lead == 0xF0 and second < 0x90) or (lead == 0xF4 and second > 0x8F) then
      return false
    end
    covered = covered + n
  end
  return covered == high
end
local function jtext(s) if utf8_ok(s) then return jstr(s) end return jbytes(s) end
-- What cjson takes and JSON refuses, beyond the numbers decode_invalid_numbers(false) stops:
-- 1. and -.5, raw control characters inside strings; and, where that setting cannot be
-- changed, NaN, Infinity and hex too (`words`). Strings are cut out first: escapes, then
-- the quoted runs, so only JSON's own tokens are left to look at.
local function tokens_ok(s, words)
  if not words and not s:find('[%z\1-\31]') and not s:find('%d%.[^%d]') and
     not s:find('%d%.$') and not s:find('%-%.') then
    return true
  end
  local raw_control = false
  local bare = s:gsub('\\.', ''):gsub('"[^"]*"', function(str)
    if str:find('[%z\1-\31]') then raw_control = true end
    return '""'
  end)
  if raw_control or bare:find('%d%.[^%d]') or bare:find('%d%.$') or bare:find('%-%.') then
    return false
  end
  if words then
    for w in bare:gmatch('%a+') do
      if w ~= 'true' and w ~= 'false' and w ~= 'null' and w ~= 'e' and w ~= 'E' then
        return false
      end
    end
  end
  return true
end
-- True if `s` is one JSON object that Ruby's JSON, Python's and resque-web all read.
local function strict_object(s)
  if not s:find('^%s*{') then return false end
  local got, old = pcall(cjson.decode_invalid_numbers)
  local strict = got and pcall(cjson.decode_invalid_numbers, false)
  local ok, decoded = pcall(cjson.decode, s)
  if strict then cjson.decode_invalid_numbers(old) end
  return ok and type(decoded) == 'table' and utf8_ok(s) and tokens_ok(s, not strict)
end
-- Lua's < compares strings with strcoll, and redis-server sets LC_COLLATE from its
-- environment (systemd passes the system's LANG): queue order must be byte order whatever
-- the server's locale. Where < already is byte order (C, POSIX, C.UTF-8: upper case before
-- lower, punctuation not ignored) the plain sort is kept: it is ~5x faster.
local function byte_sort(names)
  if 'B' < 'a' and 'a-b' < 'a_' and 'a_c' < 'ab' and 'z' < '\195\169' then
    table.sort(names)
    return
  end
  local keyed = {}
  for i, s in ipairs(names) do
    local b = {}
    for j = 1, #s, 4000 do  -- string.byte returns at most ~8000 values at once
      local part = {s:byte(j, math.min(j + 3999, #s))}
      for k = 1, #part do b[j + k - 1] = part[k] end
    end
    keyed[i] = {s, b}
  end
  table.sort(keyed, function(p, q)
    local x, y = p[2], q[2]
    for i = 1, math.min(#x, #y) do
      if x[i] ~= y[i] then return x[i] < y[i] end
    end
    return #x < #y
  end)
  for i, k in ipairs(keyed) do names[i] = k[1] end
end
