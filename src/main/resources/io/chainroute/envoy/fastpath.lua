-- chainroute's in-Envoy fast path (envoy/FastPathFilter renders this file; the tables below are
-- chainroute's, compiled from each chain adapter's FastPathTable, and the bounds are chainroute's
-- routing/FastPathBounds, sent over ECDS when they move). It routes only a request it is certain
-- about: one JSON-RPC 2.0 call, strictly valid JSON, ASCII only, a method in the chain's table
-- whose block parameter is written exactly as a head tag (head pool) or as a canonical hex number
-- inside the chain's published bounds (head or archive pool). Anything else (batches, numbers
-- near the bounds or past their lifetime, hashes, escapes, other methods, bad input) is left
-- untouched for ext_proc.
local TABLES = __TABLES__
local TAGS = __TAGS__
-- [chain] = { ttl = seconds, [kind] = { head_from, archive_to } }; {} in the bootstrap's default.
local BOUNDS = __BOUNDS__
local SERIAL = __SERIAL__
-- When this worker loaded these bounds: they hold for their ttl from then (no clock is shared with
-- chainroute). Without os.time the bounds are never used.
local clock = os and os.time
local LOADED = clock and clock()
local MAX_BODY = __MAX_BODY__
local MAX_ECHO_ID = __MAX_ECHO_ID__
local POOL_HEADER = "__POOL_HEADER__"
local FAST_HEADER = "__FAST_HEADER__"
local NS = "__NAMESPACE__"

local find, sub, byte = string.find, string.sub, string.byte

local function ws(s, i)
  local _, e = find(s, "^[ \t\r\n]*", i)
  return e + 1
end

-- A string starting at s[i] == '"': the index after its closing quote and whether it has escapes.
local function str(s, i)
  local j, esc = i + 1, false
  while true do
    local k = find(s, '["\\%z\1-\31]', j)
    if not k then return nil end
    local c = byte(s, k)
    if c == 34 then return k + 1, esc end
    if c ~= 92 then return nil end
    esc = true
    local n = byte(s, k + 1)
    if n == 117 then
      if not find(s, "^%x%x%x%x", k + 2) then return nil end
      j = k + 6
    elseif n == 34 or n == 92 or n == 47 or n == 98 or n == 102 or n == 110 or n == 114
        or n == 116 then
      j = k + 2
    else
      return nil
    end
  end
end

local function num(s, i)
  local _, e = find(s, "^-?%d+", i)
  if not e or find(s, "^-?0%d", i) then return nil end
  local _, f = find(s, "^%.%d+", e + 1)
  if f then e = f end
  local _, x = find(s, "^[eE][+-]?%d+", e + 1)
  if x then e = x end
  return e + 1
end

local function literal(s, i, word)
  if sub(s, i, i + #word - 1) == word then return i + #word end
  return nil
end

-- Any JSON value at s[i]: the index after it, or nil when it is not strictly valid.
local function value(s, i, depth)
  local c = byte(s, i)
  if c == 34 then return (str(s, i)) end
  if c == 123 or c == 91 then
    if depth > 32 then return nil end
    local close = c == 123 and 125 or 93
    i = ws(s, i + 1)
    if byte(s, i) == close then return i + 1 end
    while true do
      if c == 123 then
        if byte(s, i) ~= 34 then return nil end
        i = str(s, i)
        if not i then return nil end
        i = ws(s, i)
        if byte(s, i) ~= 58 then return nil end
        i = ws(s, i + 1)
      end
      i = value(s, i, depth + 1)
      if not i then return nil end
      i = ws(s, i)
      local b = byte(s, i)
      if b == close then return i + 1 end
      if b ~= 44 then return nil end
      i = ws(s, i + 1)
    end
  end
  if c == 116 then return literal(s, i, "true") end
  if c == 102 then return literal(s, i, "false") end
  if c == 110 then return literal(s, i, "null") end
  if c == 45 or (c and c >= 48 and c <= 57) then return num(s, i) end
  return nil
end

local function bounds(chain)
  local b = BOUNDS[chain]
  if not b or not LOADED or clock() - LOADED >= b.ttl then return nil end
  return b
end

-- Canonical hex only (no leading zero, lower case, at most 13 digits: exact in a double).
local function canonical(text)
  return #text <= 15 and (text == "0x0" or find(text, "^0x[1-9a-f][0-9a-f]*$") ~= nil)
end

-- The pool for a block parameter written as text (a tag, or a number inside the bounds), or nil.
local function pool_at(text, m, limits)
  if TAGS[text] then return "head" end
  local r = m[3] and limits and limits[m[2]]
  if r and canonical(text) then
    local n = tonumber(sub(text, 3), 16)
    if n >= r[1] then return "head" end
    if n <= r[2] then return "archive" end
  end
  return nil
end

-- A log filter object at s[i] == '{': its fromBlock text ("latest" when absent), or nil unless
-- every key is fromBlock or toBlock (each a tag or a canonical number), address or topics.
local function filter_from(s, i)
  local from, seen = "latest", {}
  i = ws(s, i + 1)
  if byte(s, i) == 125 then return from end
  while true do
    if byte(s, i) ~= 34 then return nil end
    local e, esc = str(s, i)
    if not e or esc then return nil end
    local key = sub(s, i + 1, e - 2)
    if seen[key] then return nil end
    seen[key] = true
    i = ws(s, e)
    if byte(s, i) ~= 58 then return nil end
    local v = ws(s, i + 1)
    i = value(s, v, 0)
    if not i then return nil end
    if key == "fromBlock" or key == "toBlock" then
      if byte(s, v) ~= 34 then return nil end
      local text = sub(s, v + 1, i - 2)
      if not TAGS[text] and not canonical(text) then return nil end
      if key == "fromBlock" then from = text end
    elseif key ~= "address" and key ~= "topics" then
      return nil
    end
    i = ws(s, i)
    local b = byte(s, i)
    if b == 125 then return from end
    if b ~= 44 then return nil end
    i = ws(s, i + 1)
  end
end

-- The raw id text and the pool when the body is a call this table decides, else nil.
local function decide(s, methods, limits)
  if find(s, "[\128-\255]") then return nil end
  local i = ws(s, 1)
  if byte(s, i) ~= 123 then return nil end
  i = ws(s, i + 1)
  local seen, method, params, id = {}, nil, nil, nil
  while true do
    if byte(s, i) ~= 34 then return nil end
    local e, esc = str(s, i)
    if not e or esc then return nil end
    local key = sub(s, i + 1, e - 2)
    if seen[key] then return nil end
    seen[key] = true
    i = ws(s, e)
    if byte(s, i) ~= 58 then return nil end
    local v = ws(s, i + 1)
    i = value(s, v, 0)
    if not i then return nil end
    local first = byte(s, v)
    if key == "jsonrpc" then
      if sub(s, v, i - 1) ~= '"2.0"' then return nil end
    elseif key == "method" then
      if first ~= 34 then return nil end
      method = sub(s, v + 1, i - 2)
    elseif key == "id" then
      if first ~= 34 and first ~= 45 and not (first >= 48 and first <= 57) then return nil end
      id = sub(s, v, i - 1)
    elseif key == "params" then
      if first ~= 91 then return nil end
      params = v
    else
      return nil
    end
    i = ws(s, i)
    local b = byte(s, i)
    if b == 125 then break end
    if b ~= 44 then return nil end
    i = ws(s, i + 1)
  end
  if ws(s, i + 1) <= #s or not seen.jsonrpc or not id or not method or not params then
    return nil
  end
  local m = methods[method]
  if not m then return nil end
  local position = m[1]
  i = ws(s, params + 1)
  for k = 0, position do
    local c = byte(s, i)
    if c == 93 then return nil end
    local e = value(s, i, 0)
    if not e then return nil end
    if k == position then
      if m[4] then
        if c ~= 123 then return nil end
        local from = filter_from(s, i)
        if not from then return nil end
        local pool = pool_at(from, m, limits)
        if pool then return id, pool end
        return nil
      end
      if c ~= 34 then return nil end
      local pool = pool_at(sub(s, i + 1, e - 2), m, limits)
      if pool then return id, pool end
      return nil
    end
    i = ws(s, e)
    if byte(s, i) ~= 44 then return nil end
    i = ws(s, i + 1)
  end
  return nil
end

function envoy_on_request(handle)
  local chain = handle:metadata():get("chain")
  local methods = chain and TABLES[chain]
  if not methods then return end
  local headers = handle:headers()
  if headers:get(":method") ~= "POST" then return end
  local body = handle:body()
  if not body then return end
  local n = body:length()
  if n == 0 or n > MAX_BODY then return end
  local id, pool = decide(body:getBytes(0, n), methods, bounds(chain))
  if not id then return end
  -- A headers handle taken before body() is out of scope after it: take it again.
  headers = handle:headers()
  headers:replace(POOL_HEADER, pool)
  headers:replace(FAST_HEADER, pool)
  local meta = handle:streamInfo():dynamicMetadata()
  meta:set(NS, "pool", pool)
  meta:set(NS, "reason", "fast-path")
  if #id <= MAX_ECHO_ID then meta:set(NS, "id", id) end
  handle:clearRouteCache()
end
