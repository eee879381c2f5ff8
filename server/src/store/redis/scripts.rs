//! The Lua scripts the Redis backend and the leases run. Each runs
//! atomically inside Redis and touches only keys of one visit (one hash
//! tag), all passed in `KEYS`.
//!
//! Every script that changes a visit on behalf of its owner starts by
//! comparing the visit's lease with the caller's fence (`NODE/EPOCH`) and
//! returns `fenced` without writing anything when they differ: a node that
//! was paused or cut off past its lease can never write after another node
//! took the visit over.
//!
//! Scripts answer with plain values, never error replies, so one refused
//! command in a pipelined batch does not fail the others.

/// Functions shared by the scripts that store resume tokens.
const RESUME_FUNCTIONS: &str = r#"
local function expire_at_least(key, at)
  local t = redis.call('EXPIRETIME', key)
  if t == -1 or t < at then redis.call('EXPIREAT', key, at) end
end
-- KEYS: resume hash, by-participant hash. One live token per participant.
local function put_resume(resume, rtp, h, json, pid, exp, ip)
  local old = redis.call('HGET', rtp, pid)
  if old then redis.call('HDEL', resume, 'r:' .. old, 'i:' .. old) end
  redis.call('HSET', resume, 'r:' .. h, json)
  if ip ~= '' then redis.call('HSET', resume, 'i:' .. h, ip) end
  redis.call('HSET', rtp, pid, h)
  expire_at_least(resume, exp)
  expire_at_least(rtp, exp)
end
"#;

/// `KEYS`: jti key, resume, rtp. `ARGV`: jti expiry (unix ms), token hash,
/// record JSON, participant, session expiry (unix s), IP.
/// Answers 1 (fresh: token stored) or 0 (a replay: nothing stored).
pub fn admit() -> String {
    format!(
        "{RESUME_FUNCTIONS}
if not redis.call('SET', KEYS[1], '1', 'NX', 'PXAT', ARGV[1]) then return 0 end
put_resume(KEYS[2], KEYS[3], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6])
return 1"
    )
}

/// `KEYS`: jti key. `ARGV`: expiry (unix ms). Answers 1 if fresh, 0 if used.
pub const CLAIM_JTI: &str = r#"
if redis.call('SET', KEYS[1], '1', 'NX', 'PXAT', ARGV[1]) then return 1 end
return 0"#;

/// `KEYS`: resume, rtp. `ARGV`: token hash, record JSON, participant,
/// session expiry (unix s), IP.
pub fn put_resume() -> String {
    format!(
        "{RESUME_FUNCTIONS}
put_resume(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5])
return 1"
    )
}

/// `KEYS`: resume, rtp. `ARGV`: token hash, now (unix s), successor hash
/// (empty: only take), the successor's IP. Consumes the token; if it was
/// live, stores the successor for the same record. Answers nil (unknown,
/// used or expired) or `{record JSON, IP it was last used from}`.
pub fn take_resume() -> String {
    format!(
        "{RESUME_FUNCTIONS}
local rec = redis.call('HGET', KEYS[1], 'r:' .. ARGV[1])
if not rec then return false end
local ip = redis.call('HGET', KEYS[1], 'i:' .. ARGV[1])
redis.call('HDEL', KEYS[1], 'r:' .. ARGV[1], 'i:' .. ARGV[1])
local r = cjson.decode(rec)
if redis.call('HGET', KEYS[2], r.participant) == ARGV[1] then
  redis.call('HDEL', KEYS[2], r.participant)
end
if tonumber(r.exp) <= tonumber(ARGV[2]) then return false end
if ARGV[3] ~= '' then
  put_resume(KEYS[1], KEYS[2], ARGV[3], rec, r.participant, tonumber(r.exp), ARGV[4])
end
return {{rec, ip or ''}}"
    )
}

/// `KEYS`: lease, seq, log. `ARGV`: fence, ts (unix ms), sender,
/// recipients (JSON array), kind, body, retention (ms). Assigns the next
/// seq and stores the message as stream entry `SEQ-0`. Answers
/// `{'ok', seq}` or `{'fenced'}`.
pub const APPEND: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'fenced'} end
local seq = redis.call('INCR', KEYS[2])
redis.call('XADD', KEYS[3], seq .. '-0', 'ts', ARGV[2], 'from', ARGV[3], 'to', ARGV[4],
  'kind', ARGV[5], 'body', ARGV[6])
redis.call('PEXPIRE', KEYS[3], ARGV[7])
return {'ok', seq}"#;

/// `KEYS`: lease, participants, ended, seq, log, cursors, resume, rtp.
/// `ARGV`: fence, then operations: `save ID JSON`, `forget ID`, `end`,
/// `acked ID UPTO`. Applies them in order. Answers `ok` or `fenced`.
pub const VISIT_WRITES: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'fenced' end
local parts, ended, seqk, log, cursors, resume, rtp =
  KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local function last_seq() return tonumber(redis.call('GET', seqk) or '0') end
-- Nobody is owed anything up to `upto` by `pid` any more; delete the
-- messages in (previous cursor, upto] that nobody is owed.
local function release(pid, upto)
  local last = last_seq()
  if upto > last then upto = last end
  local prev = tonumber(redis.call('HGET', cursors, pid) or '0')
  if upto <= prev then return end
  redis.call('HSET', cursors, pid, upto)
  local cache = {}
  local function cursor(r)
    local c = cache[r]
    if c == nil then
      c = tonumber(redis.call('HGET', cursors, r) or '0')
      cache[r] = c
    end
    return c
  end
  for _, e in ipairs(redis.call('XRANGE', log, (prev + 1) .. '-0', upto .. '-0')) do
    local seq = tonumber(string.match(e[1], '^(%d+)'))
    local f, to = e[2], {}
    for i = 1, #f, 2 do
      if f[i] == 'to' then to = cjson.decode(f[i + 1]) end
    end
    local owed = false
    for _, r in ipairs(to) do
      if cursor(r) < seq then owed = true; break end
    end
    if not owed then redis.call('XDEL', log, e[1]) end
  end
end
local i = 2
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'save' then
    redis.call('HSET', parts, ARGV[i + 1], ARGV[i + 2]); i = i + 3
  elseif op == 'forget' then
    local pid = ARGV[i + 1]
    release(pid, last_seq())
    redis.call('HDEL', parts, pid)
    local tok = redis.call('HGET', rtp, pid)
    if tok then redis.call('HDEL', resume, 'r:' .. tok, 'i:' .. tok) end
    redis.call('HDEL', rtp, pid)
    i = i + 2
  elseif op == 'end' then
    redis.call('SET', ended, '1')
    redis.call('DEL', parts, seqk, log, cursors, resume, rtp)
    i = i + 1
  elseif op == 'acked' then
    release(ARGV[i + 1], tonumber(ARGV[i + 2])); i = i + 3
  else
    return redis.error_reply('unknown visit write ' .. tostring(op))
  end
end
return 'ok'"#;

/// `KEYS`: log, cursors. `ARGV`: recipient, after. Answers the stream
/// entries after `after` (and after the recipient's cursor) addressed to
/// the recipient, in seq order.
pub const BACKLOG: &str = r#"
local after = tonumber(ARGV[2])
local c = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if c > after then after = c end
local out = {}
for _, e in ipairs(redis.call('XRANGE', KEYS[1], (after + 1) .. '-0', '+')) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'to' then
      for _, r in ipairs(cjson.decode(f[i + 1])) do
        if r == ARGV[1] then out[#out + 1] = e; break end
      end
    end
  end
end
return out"#;

/// `KEYS`: log. `ARGV`: cutoff (unix ms). Deletes messages stored before
/// the cutoff (they are in seq order, so oldest first); answers how many.
pub const TRIM_OLD: &str = r#"
local n = 0
while true do
  local batch = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 64)
  if #batch == 0 then return n end
  for _, e in ipairs(batch) do
    local f, ts = e[2], nil
    for i = 1, #f, 2 do
      if f[i] == 'ts' then ts = tonumber(f[i + 1]) end
    end
    if ts == nil or ts >= tonumber(ARGV[1]) then return n end
    redis.call('XDEL', KEYS[1], e[1]); n = n + 1
  end
end"#;

/// `KEYS`: lease, epoch. `ARGV`: node id, lease (ms). Takes the lease
/// under a new epoch if it is free or held under the caller's own node id
/// (by a previous process of that node). Answers `{1, 'NODE/EPOCH',
/// previous holder or nil}` (taken) or `{0, 'NODE/EPOCH'}` (another
/// node's).
pub const LEASE_ACQUIRE: &str = r#"
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^(.*)/%d+$') ~= ARGV[1] then return {0, cur} end
local e = redis.call('INCR', KEYS[2])
local v = ARGV[1] .. '/' .. e
redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
return {1, v, cur}"#;

/// `KEYS`: lease. `ARGV`: fence, lease (ms). Extends the lease if it is
/// still the caller's; answers 1, or 0 if it is not.
pub const LEASE_RENEW: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2]); return 1
end
return 0"#;

/// `KEYS`: lease. `ARGV`: fence. Deletes the lease if it is the caller's.
pub const LEASE_RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]); return 1 end
return 0"#;

/// `KEYS`: ended, participants. Answers `{ended (0 or 1), records}`.
pub const LOAD_VISIT: &str = r#"
return {redis.call('EXISTS', KEYS[1]), redis.call('HVALS', KEYS[2])}"#;
