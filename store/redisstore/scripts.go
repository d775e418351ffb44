package redisstore

import "github.com/redis/go-redis/v9"

// Every script that writes first compares the caller's fence (ARGV[1])
// with the account's fencing token (KEYS[1]) and returns -1, writing
// nothing, when the caller's is older.
const fenceCheck = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < cur then return -1 end
`

// applyState sets nset field/value pairs starting at ARGV[i], deletes the
// ndel fields after them, then refreshes the state TTL and the
// conversation's last write time, or forgets the conversation when no
// field is left. It returns the index after what it read.
const applyState = `
local function applyState(stateKey, convsKey, conv, ttl, now, i)
  local nset = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, nset do
    redis.call('HSET', stateKey, ARGV[i], ARGV[i + 1])
    i = i + 2
  end
  local ndel = tonumber(ARGV[i])
  i = i + 1
  for _ = 1, ndel do
    redis.call('HDEL', stateKey, ARGV[i])
    i = i + 1
  end
  -- A field just set: the state exists without asking.
  if nset > 0 or redis.call('EXISTS', stateKey) == 1 then
    if tonumber(ttl) > 0 then redis.call('PEXPIRE', stateKey, ttl) end
    redis.call('ZADD', convsKey, now, conv)
  else
    redis.call('ZREM', convsKey, conv)
  end
  return i
end
`

// appendScript writes one poll batch.
// KEYS fence, inbox, queued, session, then done:<event> per entry, then
// mark:sent:<op> per sent operation.
// ARGV fence, group, entries, sent, mark TTL ms, session JSON ("": none),
// then eventID, conversation, payload per entry.
// Returns the new stream IDs ("" for each skipped entry) followed by the
// stream's length, or -1 when fenced.
var appendScript = redis.NewScript(fenceCheck + `
local n, nsent = tonumber(ARGV[3]), tonumber(ARGV[4])
if n > 0 and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[2], ARGV[2], '0', 'MKSTREAM')
end
local out = {}
for i = 1, n do
  local a = 4 + 3 * i
  local eid, conv, payload = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local id = ''
  if eid == '' or (redis.call('EXISTS', KEYS[4 + i]) == 0 and redis.call('HEXISTS', KEYS[3], eid) == 0) then
    id = redis.call('XADD', KEYS[2], '*', 'e', eid, 'c', conv, 'p', payload)
    if eid ~= '' then redis.call('HSET', KEYS[3], eid, id) end
  end
  out[i] = id
end
for i = 1, nsent do
  redis.call('SET', KEYS[4 + n + i], '1', 'PX', ARGV[5])
end
if ARGV[6] ~= '' then redis.call('SET', KEYS[4], ARGV[6]) end
out[n + 1] = redis.call('XLEN', KEYS[2])
return out
`)

// completeScript applies a group of completions in order.
// KEYS fence, inbox, queued, convs, then done:<event> and state:<conv> per
// completion.
// ARGV fence, group, doneTTL ms, stateTTL ms, now ms, then per completion:
// entryID, eventID, conversation, forget (1/0), nset, set pairs..., ndel,
// deleted fields...
// Returns the number of completions applied (those already done are
// not), or -1 when fenced.
var completeScript = redis.NewScript(fenceCheck + applyState + `
local i, applied = 6, 0
for c = 1, (#KEYS - 4) / 2 do
  local doneKey, stateKey = KEYS[3 + 2 * c], KEYS[4 + 2 * c]
  local entry, eid, conv, forget = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3] == '1'
  i = i + 4
  local skip = eid ~= '' and redis.call('EXISTS', doneKey) == 1
  if entry ~= '' then
    redis.call('XACK', KEYS[2], ARGV[2], entry)
    redis.call('XDEL', KEYS[2], entry)
  end
  if skip then
    -- already done: skip its state change
    local nset = tonumber(ARGV[i])
    i = i + 1 + 2 * nset
    i = i + 1 + tonumber(ARGV[i])
  else
    if eid ~= '' then
      redis.call('HDEL', KEYS[3], eid)
      redis.call('SET', doneKey, '1', 'PX', ARGV[3])
    end
    if conv ~= '' then
      i = applyState(stateKey, KEYS[4], conv, ARGV[4], ARGV[5], i)
      if forget then
        redis.call('DEL', stateKey)
        redis.call('ZREM', KEYS[4], conv)
      end
    else
      i = i + 2 -- an entry without conversation changes no state
    end
    applied = applied + 1
  end
end
return applied
`)

// expiredScript: KEYS convs; ARGV cutoff ms, state key prefix.
// Removes and returns the conversations last written at or before cutoff.
var expiredScript = redis.NewScript(`
local convs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, c in ipairs(convs) do
  redis.call('ZREM', KEYS[1], c)
  redis.call('DEL', ARGV[2] .. c)
end
return convs
`)

// saveSessionScript: KEYS fence, session; ARGV fence, JSON.
// setValueScript: KEYS fence, value; ARGV fence, value, ttl ms (0: none).
var setValueScript = redis.NewScript(fenceCheck + `
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1
`)

// deleteValueScript: KEYS fence, value; ARGV fence.
var deleteValueScript = redis.NewScript(fenceCheck + `
redis.call('DEL', KEYS[2])
return 1
`)

// setTimerScript: KEYS fence, timers, timerdata; ARGV fence, id, due ms, JSON.
var setTimerScript = redis.NewScript(fenceCheck + `
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[4])
return 1
`)

// dropTimerScript: KEYS fence, timers, timerdata; ARGV fence, id, due ms
// ("" drops whatever is due).
var dropTimerScript = redis.NewScript(fenceCheck + `
local due = redis.call('ZSCORE', KEYS[2], ARGV[2])
if due and (ARGV[3] == '' or tonumber(due) == tonumber(ARGV[3])) then
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
end
return 1
`)

// cancelTimersScript: KEYS fence, timers, timerdata; ARGV fence, prefix.
var cancelTimersScript = redis.NewScript(fenceCheck + `
local n = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if string.sub(id, 1, #ARGV[2]) == ARGV[2] then
    redis.call('ZREM', KEYS[2], id)
    redis.call('HDEL', KEYS[3], id)
    n = n + 1
  end
end
return n
`)

var saveSessionScript = redis.NewScript(fenceCheck + `
redis.call('SET', KEYS[2], ARGV[2])
return 1
`)

// acquireScript: KEYS fence, lease; ARGV owner, ttl ms.
// A new token is the larger of the last token plus one and the server's
// clock in milliseconds times 1000, so tokens keep growing across a Redis
// that restarted empty (the old holder's token is then refused) as long as
// the server clock does not step back by more than the time between the
// two acquisitions; up to 1000 acquisitions a millisecond stay ordered.
// Returns {token, 1} for a new lease, {token, 0} for a renewal by the same
// owner, {-1, pttl, value} when another owner holds it.
var acquireScript = redis.NewScript(`
local v = redis.call('GET', KEYS[2])
if v then
  local sep = string.find(v, ':', 1, true)
  if string.sub(v, sep + 1) ~= ARGV[1] then
    return {-1, redis.call('PTTL', KEYS[2]), v}
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return {tonumber(string.sub(v, 1, sep - 1)), 0}
end
local t = redis.call('TIME')
local tok = math.max(tonumber(redis.call('GET', KEYS[1]) or '0') + 1,
  (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)) * 1000)
redis.call('SET', KEYS[1], string.format('%d', tok))
redis.call('SET', KEYS[2], string.format('%d', tok) .. ':' .. ARGV[1], 'PX', ARGV[2])
return {tok, 1}
`)

// renewScript: KEYS lease; ARGV value, ttl ms. Returns 1 when renewed.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript: KEYS lease; ARGV value. Returns 1 when released.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)
