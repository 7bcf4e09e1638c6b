-- SPDX-License-Identifier: MIT
-- Why is it still alive? A cache that forgets to Reset, found with retainers, snapshots and persistent_report
-- luacheck: read globals claim
local scopelab = require "scopelab"
local N = 200

-- class SessionCache {
--   std::vector<Global<Array>> entries_;          // one per session, meant to be Reset on logout
--   void Login(Local<Array> s)  { entries_.emplace_back(isolate, s); }
--   void Logout(int i)          { /* forgot: entries_[i].Reset(); */ }
-- };
local iso <close> = scopelab.isolate { young_size = 64 * 1024, gc_interval = 0 }
local cache = {}
local token                                        -- a probe on one session's token string

local function login(i)
  local scope <close> = iso:handle_scope()
  local session = iso:array(3)
  session:set(1, iso:integer(i))
  session:set(2, iso:string("token-" .. i))
  cache[i] = iso:persistent(session)               -- the line persistent_report will name
  if i == N // 2 then token = iso:probe(session:get(2)) end
end

local function logout(i, fixed)
  if fixed then cache[i]:reset() end               -- the fix: Global::Reset()
end

local function run(fixed)
  iso:collect("full")
  local before = iso:snapshot()
  for i = 1, N do login(i) end
  for i = 1, N do logout(i, fixed) end
  iso:collect("full")
  return scopelab.diff(before, iso:snapshot())
end

-- 1. The leak: every session logged out, yet the heap kept them.
local leak = run(false)
print(leak)
claim.equal(3 * N, leak.added.count, "after every logout and a full GC all 3 objects of each session remain")
claim.equal(N, leak.added.kinds.array.count, "one array per session is still in the heap")
claim.equal("persistent", leak.grown[1], "the root kind that grew is 'persistent'")
claim.equal(N, leak.roots.persistent.delta, "by exactly one persistent handle per session")

-- 2. Why is this token alive? The path names the root and each step.
local path = iso:retainers(token)
print("why alive: " .. tostring(path))
claim.equal("persistent", path.root.kind, "the token is held by a persistent handle")
-- The site is file:line; read that line of this very file back.
local function line_of(site)
  local n = tonumber(site and site:match("why_alive%.lua:(%d+)$"))
  local here = debug.getinfo(1, "S").source:match("^@(.*)$")
  local i = 0
  for text in io.lines(here) do
    i = i + 1
    if i == n then return text end
  end
end
claim((line_of(path.root.site) or ""):find("cache[i] = iso:persistent(session)", 1, true) ~= nil,
  "created at the line that fills the cache (" .. tostring(path.root.site) .. ")")
claim.equal(2, #path.steps, "through one array: persistent -> array -> string")
claim.equal(2, path.steps[2].index, "at index 2 of the session array")
claim.equal(token:id(), path.steps[2].id, "ending at the token itself")

-- 3. Which line leaks? persistent_report groups live persistents by creation line.
local report = iso:persistent_report()
print(report)
claim.equal(1, #report, "a single creation line holds every live persistent")
claim.equal(N, report[1].count, "and it holds one per session")
claim.equal(path.root.site, report[1].site, "the same line the retaining path named")

-- 4. The fix: Reset on logout. Same workload, nothing left.
for i = 1, N do cache[i]:delete() end
iso:collect("full")
local fixed = run(true)
print(fixed)
claim.equal(0, fixed.added.count, "with Reset on logout no session object survives the full GC")
claim.equal(0, #fixed.grown, "and no root kind grew")
claim.equal(0, iso:persistent_report().total, "no live persistent handle remains")
claim.collected(token, "the token probed in the leaking run is gone too")
