-- SPDX-License-Identifier: MIT
--- scopelab.replay: record the event stream of an isolate, replay it elsewhere (issue 6, item 7).
--
--   local replay = require "scopelab.replay"
--   local iso, rec = replay.record{ young_size = 64 * 1024 }   -- iso: use it as an Isolate
--   ... the program under test, unchanged ...
--   rec:save("build/run.replay")           -- one event per line, readable
--   local r = replay.run("build/run.replay")
--   assert(r.ok, r.divergence)             -- same ids, moves and deaths, or where not
--
-- How. 'iso' is a proxy: every method of the Isolate and of the handles it gives out
-- (Locals, scopes, persistents, references, probes) goes through a forwarder that
-- appends an event { op, self, args, out } before calling the real method, so the
-- events a weak callback causes during a collection come after the event that
-- caused the collection, bracketed by 'callback' and 'callback_end'. Pure queries
-- (value, id, stats, snapshot, ...) are forwarded but not recorded: they change
-- nothing in the heap. Handles are numbered in the order they appear; arguments
-- refer to them by number ({ref = n}).
--
-- What is reproduced, and checked by replay.run:
--   ids     every Local and probe an event returns has the id it had (ids are
--           allocation numbers, so any extra or missing allocation shows at once)
--   moves   iso:moves() of both runs: the same (id, collection) list in order
--           (addresses differ between processes, so they are not compared)
--   deaths  the ids that a collection freed, per collection number, observed by
--           walking the heap after each event during which a collection ran
--   errors  an event that raised raises the same message
--   when    the event during which each collection ran ('gc' in the file)
--   sites   scopes and persistents get the same "file:line": the real method is
--           called from a chunk compiled under the recorded chunk name with the call
--           on the recorded line, so the binding's debug info sees the user's line
--
-- Limits. A method called in tail position ('return iso:integer(1)') raises its
-- errors without the "file:line:" an unrecorded call shows (the forwarder's frame
-- is gone). The recording keeps every handle it gave out reachable (the replay does
-- too), so Lua's collector never deletes a persistent at a moment the replay could
-- not know; delete or reset them explicitly. Tables returned by queries (weak_log)
-- hold the real handles, not proxies. Functions given as options ('warn') are not
-- written to the file. Weak callbacks are replayed as the events they caused, not
-- as the functions themselves.

local core = require "scopelab.core"
local literal = require "scopelab.literal"

local M = {}

local HEADER = "-- scopelab replay 1"

-- Methods that change nothing in the heap, the handle blocks or the scope stack.
local QUERY = {}
for name in ([[value kind id address generation is_valid is_open level depth site handles
  is_empty is_weak is_global count alive moves number_of_handles stats verify retainers
  snapshot handle_report persistent_report weak_log is_disposed is_deleted
  __len __tostring __eq]]):gmatch("%S+") do QUERY[name] = true end

-- Methods that record the Lua line calling them (l_callsite in the binding).
local SITED = {
  handle_scope = true, escapable_handle_scope = true, seal_handle_scope = true,
  persistent = true, global = true, reference = true,
}

local HANDLE_TYPES = {
  ["scopelab.Isolate"] = true, ["scopelab.Local"] = true, ["scopelab.Scope"] = true,
  ["scopelab.Persistent"] = true, ["scopelab.Reference"] = true, ["scopelab.Probe"] = true,
}

local function type_name(v)
  if type(v) ~= "userdata" then return nil end
  local mt = getmetatable(v)
  local name = type(mt) == "table" and rawget(mt, "__name") or nil
  return HANDLE_TYPES[name] and name or nil
end

local pack, unpack = table.pack, table.unpack

-- ------------------------------------------------------------------ call sites

-- The real method 'op' of 'raw'. "__close" is the one metamethod a recording makes
-- (a to-be-closed scope or isolate); any other name starting with '_' is refused, so
-- a replay cannot reach '__gc' or the metatable's other fields.
local function method_of(raw, op)
  if type(op) ~= "string" then return nil end
  if op == "__close" then return getmetatable(raw).__close end
  if not op:match("^%a[%w_]*$") then return nil end
  return raw[op]
end

-- The largest line number a recorded site may name: make_caller builds a chunk of
-- that many lines, so a forged one must not ask for gigabytes.
local MAX_LINE = 1000000

-- A function that calls f(raw, ...) from line 'line' of a chunk named 'src', so
-- lua_getstack(L, 1) in the binding sees that file and line: scopes and persistents
-- get the user's site, and an error raised there starts with the user's "file:line:".
-- Cached per site. Not a tail call: that would drop the frame the binding reads.
local function make_caller(cache, src, line)
  local key = src .. "\0" .. line
  local f = cache[key]
  if f then return f end
  local code = string.rep("\n", line - 1) ..
    "local f, raw = ...; local r = table.pack(f(raw, select(3, ...))); " ..
    "return table.unpack(r, 1, r.n)"
  f = assert(load(code, src, "t", { table = table, select = select }))
  cache[key] = f
  return f
end

-- Every other method is called straight from pcall: a C function called from C
-- gets no position in its error message, and the forwarder adds the user's one
-- with error(msg, 2), so the user sees what an unrecorded call would have shown.

-- ------------------------------------------------------------------ observer

-- Watches one raw isolate for collections and the objects they freed. Called after
-- every event; walks the heap only when the collection count changed.
local function observer(iso)
  local o = { deaths = {}, live = {}, alloc = 0, collections = 0, moves = nil }
  -- Returns the collection count when collections ran since the last call, else nil.
  function o.after()
    if o.moves or iso:is_disposed() then return nil end
    local st = iso:stats()
    if st.collections == o.collections then return nil end
    local now, dead = {}, {}
    for _, obj in ipairs(iso:snapshot().objects) do now[obj.id] = true end
    for id in pairs(o.live) do if not now[id] then dead[#dead + 1] = id end end
    for id = o.alloc + 1, st.allocations do               -- born since the last walk
      if not now[id] and not o.live[id] then dead[#dead + 1] = id end
    end
    table.sort(dead)                                      -- pairs() order is not stable
    for _, id in ipairs(dead) do
      o.deaths[#o.deaths + 1] = { id = id, collection = st.collections }
    end
    o.live, o.alloc, o.collections = now, st.allocations, st.collections
    return st.collections
  end
  -- Takes the move log; after this the observer is done (the isolate may go away).
  function o.finish()
    if o.moves then return end
    o.after()
    o.moves = {}
    if not iso:is_disposed() then
      for i, m in ipairs(iso:moves()) do o.moves[i] = { id = m.id, collection = m.collection } end
    end
  end
  function o.outcome()
    local moves = o.moves
    if not moves then
      o.after()
      moves = {}
      if not iso:is_disposed() then
        for i, m in ipairs(iso:moves()) do moves[i] = { id = m.id, collection = m.collection } end
      end
    end
    return { moves = moves, deaths = o.deaths }
  end
  return o
end

-- ------------------------------------------------------------------ serialising

local line_of = literal.encode

-- Options as written: functions (the 'warn' option) cannot be, and are left out.
local function plain_options(opts)
  local o = {}
  for k, v in pairs(opts) do
    if type(v) ~= "function" then
      if type(v) == "table" then
        local l = {}
        for i, x in ipairs(v) do l[i] = x end
        v = l
      end
      o[k] = v
    end
  end
  return o
end

-- ------------------------------------------------------------------ recording

local Recording = {}
Recording.__index = Recording

--- replay.record([opts]) -> iso, rec: a recording proxy of a new isolate made with
-- 'opts' (plus the module defaults of scopelab.set_defaults, so the file says exactly
-- what ran) and the recording. 'record_moves' is always on.
function M.record(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #1 to 'record' (table expected, got %s)"):format(type(opts)), 2)
  end
  local ok, scopelab = pcall(require, "scopelab")
  local effective = ok and scopelab.defaults and scopelab.defaults() or {}
  for k, v in pairs(opts or {}) do effective[k] = v end
  effective.record_moves = true
  local raw_iso = core.isolate(effective)

  local rec = setmetatable({
    options = plain_options(effective), log = {}, objects = {}, refs = {},
    proxies = {}, callers = {}, iso = raw_iso, obs = observer(raw_iso),
  }, Recording)

  local RAW = {}                           -- the key of a proxy's real object
  local metas = {}                         -- type name -> proxy metatable
  local wrap

  local function unwrap(v)
    if type(v) == "table" and rawget(v, RAW) ~= nil then return rawget(v, RAW) end
    return v
  end

  local function encode(v)
    if type(v) == "table" and rawget(v, RAW) ~= nil then return { ref = rec.refs[rawget(v, RAW)] } end
    if type(v) == "function" then return { fn = true } end
    if type(v) == "userdata" then
      local r = rec.refs[v]
      if r then return { ref = r } end
      error("a handle that was not made through the recording cannot be recorded", 3)
    end
    if type(v) == "table" then                         -- option tables: plain values only
      local c = {}
      for k, x in pairs(v) do c[k] = encode(x) end
      return c
    end
    return v
  end

  -- The weak callback the real persistent gets: brackets what 'fn' does.
  local function weak_callback(fn)
    return function(raw_p)
      local ref = rec.refs[raw_p]
      rec.log[#rec.log + 1] = { op = "callback", self = ref }
      local okc, err = pcall(fn, wrap(raw_p))
      local close = { op = "callback_end", self = ref }
      if not okc then close.err = tostring(err) end
      rec.log[#rec.log + 1] = close
      if not okc then error(err, 0) end
    end
  end

  local function forwarder(name)
    return function(self, ...)
      local raw = unwrap(self)
      local n = select("#", ...)
      local args = pack(...)
      for i = 1, n do
        local a = args[i]
        if type(a) == "function" and name == "set_weak" then args[i] = weak_callback(a)
        else args[i] = unwrap(a) end
      end
      local f = method_of(raw, name)
      if type(f) ~= "function" then
        error(("attempt to call a nil value (method '%s')"):format(name), 2)
      end
      if QUERY[name] then
        local res = pack(pcall(f, raw, unpack(args, 1, n)))
        if not res[1] then error(res[2], 2) end
        return unpack(res, 2, res.n)
      end
      local enc = { n = n }
      for i = 1, n do enc[i] = encode((select(i, ...))) end
      local ev = { op = name, self = rec.refs[raw], args = enc }
      local call = nil
      if SITED[name] then
        local info = debug.getinfo(2, "Sl")
        if info and info.currentline and info.currentline > 0 then
          ev.src, ev.line = info.source, info.currentline
          call = make_caller(rec.callers, ev.src, ev.line)
        end
      end
      rec.log[#rec.log + 1] = ev
      if raw == raw_iso and (name == "dispose" or name == "__close") then rec.obs.finish() end
      local res
      if call then res = pack(pcall(call, f, raw, unpack(args, 1, n)))
      else res = pack(pcall(f, raw, unpack(args, 1, n))) end
      if not res[1] then
        ev.err = tostring(res[2])
        ev.gc = rec.obs.after()
        error(res[2], call and 0 or 2)
      end
      for i = 2, res.n do
        local v = res[i]
        local tn = type_name(v)
        if tn then
          res[i] = wrap(v)
          ev.out = ev.out or {}
          ev.out[i - 1] = rec.refs[v]
          if tn == "scopelab.Local" or tn == "scopelab.Probe" then
            ev.ids = ev.ids or {}
            ev.ids[i - 1] = v:id()
          end
        end
      end
      ev.gc = rec.obs.after()
      return unpack(res, 2, res.n)
    end
  end

  local function meta_for(tn)
    local mt = metas[tn]
    if mt then return mt end
    local methods = {}
    mt = {
      __name = tn,
      __index = function(_, k)
        local f = methods[k]
        if f == nil and type(k) == "string" then
          f = forwarder(k)
          methods[k] = f
        end
        return f
      end,
      __tostring = function(p) return tostring(unwrap(p)) end,
      __len = function(p) return #unwrap(p) end,
      __eq = function(a, b) return unwrap(a) == unwrap(b) end,
      __close = function(p, err) return forwarder("__close")(p, err) end,
    }
    metas[tn] = mt
    return mt
  end

  -- The proxy of a real handle, made once and numbered in order of appearance.
  wrap = function(raw)
    local p = rec.proxies[raw]
    if p then return p end
    rec.objects[#rec.objects + 1] = raw
    rec.refs[raw] = #rec.objects
    p = setmetatable({ [RAW] = raw }, meta_for(type_name(raw)))
    rec.proxies[raw] = p
    return p
  end

  return wrap(raw_iso), rec
end

--- The events so far (a list of tables; see the file format in the header).
function Recording:events() return self.log end

--- { options, events, outcome = { moves, deaths, ids } } as it stands now.
function Recording:data()
  local out = self.obs.outcome()
  local ids = {}
  for _, ev in ipairs(self.log) do
    if ev.ids then for _, id in pairs(ev.ids) do ids[#ids + 1] = id end end
  end
  out.ids = ids
  return { options = self.options, events = self.log, outcome = out }
end

--- The file text: a header line, the options, one event per line, the outcome.
function Recording:text()
  local d = self:data()
  local lines = { HEADER, line_of({ options = d.options }) }
  for _, ev in ipairs(d.events) do lines[#lines + 1] = line_of(ev) end
  lines[#lines + 1] = line_of({ outcome = d.outcome })
  return table.concat(lines, "\n") .. "\n"
end

function Recording:save(path)
  if type(path) ~= "string" then
    error(("bad argument #1 to 'save' (string expected, got %s)"):format(type(path)), 2)
  end
  local f, err = io.open(path, "w")
  if not f then error("cannot save replay (" .. tostring(err) .. ")", 2) end
  f:write(self:text())
  f:close()
  return path
end

-- ------------------------------------------------------------------ loading

-- Why an event read from a file cannot be replayed, or nil. Only the fields replay.run
-- reads are checked; a value of the wrong type there would make it raise mid-replay.
local function event_problem(ev)
  if type(ev.op) ~= "string" then return "op must be a string, got " .. type(ev.op) end
  if ev.op ~= "__close" and not ev.op:match("^%a[%w_]*$") then
    return ("op '%s' is not a method a recording makes"):format(ev.op)
  end
  if math.type(ev.self) ~= "integer" then return "self must be an integer, got " .. type(ev.self) end
  for _, f in ipairs { "args", "out", "ids" } do
    if ev[f] ~= nil and type(ev[f]) ~= "table" then
      return ("%s must be a table, got %s"):format(f, type(ev[f]))
    end
  end
  if ev.src ~= nil or ev.line ~= nil then
    if type(ev.src) ~= "string" then return "src must be a string, got " .. type(ev.src) end
    if math.type(ev.line) ~= "integer" or ev.line < 1 or ev.line > MAX_LINE then
      return ("line must be an integer from 1 to %d, got %s"):format(MAX_LINE, tostring(ev.line))
    end
  end
  if ev.err ~= nil and type(ev.err) ~= "string" then return "err must be a string, got " .. type(ev.err) end
  if ev.gc ~= nil and math.type(ev.gc) ~= "integer" then return "gc must be an integer, got " .. type(ev.gc) end
  return nil
end

--- replay.parse(text) -> { options, events, outcome }. Each line is a Lua table
-- constructor read by scopelab.literal, a parser of data that never calls 'load':
-- a replay file holds data only (no call, loop or string method can run), and an
-- event's op must name a method a recording makes.
function M.parse(text, name)
  name = name or "replay"
  local lines = {}
  for l in text:gmatch("[^\n]+") do lines[#lines + 1] = l end
  if lines[1] ~= HEADER then
    error(("%s is not a scopelab replay (first line must be %q)"):format(name, HEADER), 2)
  end
  local d = { events = {} }
  for i = 2, #lines do
    local ok, v = pcall(literal.decode, lines[i])
    if ok and type(v) ~= "table" then ok, v = false, "a table expected, got " .. type(v) end
    if ok and v.options == nil and v.outcome == nil then
      local problem = event_problem(v)
      if problem then ok, v = false, problem end
    end
    if not ok then
      error(("%s:%d: bad replay line (%s)"):format(name, i, tostring(v)), 2)
    end
    if v.options then d.options = v.options
    elseif v.outcome then d.outcome = v.outcome
    else d.events[#d.events + 1] = v end
  end
  if type(d.options) ~= "table" then error(name .. " has no options line", 2) end
  return d
end

function M.load(path)
  local f, err = io.open(path, "r")
  if not f then error("cannot load replay (" .. tostring(err) .. ")", 2) end
  local text = f:read("a")
  f:close()
  return M.parse(text, path)
end

-- ------------------------------------------------------------------ replaying

local function same_list(what, want, got)
  for i = 1, math.max(#want, #got) do
    local a, b = want[i], got[i]
    if not a or not b or a.id ~= b.id or a.collection ~= b.collection then
      local function show(x) return x and ("id %d in collection %d"):format(x.id, x.collection)
        or "none" end
      return ("%s #%d: recorded %s, replayed %s (%d recorded, %d replayed)"):format(
        what, i, show(a), show(b), #want, #got)
    end
  end
  return nil
end

--- replay.run(source) -> result. 'source' is a file name, the table of replay.load
-- or a recording. Replays every event against a fresh isolate made with the recorded
-- options (the module defaults are not applied: the file has the effective ones).
--   result.ok          true when ids, errors, moves and deaths all match
--   result.divergence  the first difference, naming the event, or nil
--   result.isolate     the replayed isolate, left open for inspection
--   result.outcome     { moves, deaths, ids } of the replay
--   result.events      events replayed
function M.run(source)
  local d
  if type(source) == "string" then d = M.load(source)
  elseif getmetatable(source) == Recording then d = source:data()
  elseif type(source) == "table" and source.events then d = source
  else
    error(("bad argument #1 to 'run' (file name, replay data or recording expected, got %s)")
      :format(type(source)), 2)
  end
  local opts = plain_options(d.options)
  opts.record_moves = true
  local iso = core.isolate(opts)
  local obs = observer(iso)
  local objs, callers, ids_at = { iso }, {}, {}    -- ids_at[event index] = ids it returned
  local events, pos, divergence, done = d.events, 1, nil, 0
  local step

  local function diverge(i, msg)
    if not divergence then divergence = ("event %d (%s): %s"):format(i, events[i] and
      events[i].op or "end", msg) end
  end

  local function decode(v, cb)
    if type(v) ~= "table" then return v end
    if v.ref then return objs[v.ref] end
    if v.fn then return cb end
    local c = {}
    for k, x in pairs(v) do c[k] = decode(x, cb) end
    return c
  end

  -- The weak callback of persistent number 'ref': replays what the recorded one did.
  local function callback_for(ref)
    return function()
      local i = pos
      local ev = events[i]
      if not ev or ev.op ~= "callback" or ev.self ~= ref then
        diverge(i, ("the weak callback of handle %d ran here, but not in the recording"):format(ref))
        return
      end
      pos = pos + 1
      while not divergence and events[pos] and events[pos].op ~= "callback_end" do step() end
      local close = events[pos]
      pos = pos + 1
      if close and close.err then error(close.err, 0) end
    end
  end

  step = function()
    local i = pos
    local ev = events[i]
    pos = pos + 1
    local problem = event_problem(ev)          -- data given as a table is not parsed
    if problem then diverge(i, problem) return end
    if ev.op == "callback" or ev.op == "callback_end" then
      diverge(i, "the recording ran a weak callback here, the replay did not")
      return
    end
    local raw = objs[ev.self]
    if raw == nil then diverge(i, ("handle %s was never made"):format(tostring(ev.self))) return end
    local args = ev.args or { n = 0 }
    local n = args.n or #args
    local a = {}
    for k = 1, n do a[k] = decode(args[k], callback_for(ev.self)) end
    local f = method_of(raw, ev.op)
    if type(f) ~= "function" then diverge(i, ("no method '%s'"):format(ev.op)) return end
    if raw == iso and (ev.op == "dispose" or ev.op == "__close") then obs.finish() end
    done = done + 1
    local res
    if ev.src and ev.line then
      res = pack(pcall(make_caller(callers, ev.src, ev.line), f, raw, unpack(a, 1, n)))
    else
      res = pack(pcall(f, raw, unpack(a, 1, n)))
    end
    if ev.err then
      if res[1] then diverge(i, ("recorded the error %q, replay raised none"):format(ev.err))
      elseif tostring(res[2]) ~= ev.err then
        diverge(i, ("recorded the error %q, replay raised %q"):format(ev.err, tostring(res[2])))
      end
    elseif not res[1] then
      diverge(i, ("replay raised %q, the recording did not"):format(tostring(res[2])))
    else
      for k, ref in pairs(ev.out or {}) do
        local v = res[k + 1]
        objs[ref] = v
        local want = ev.ids and ev.ids[k]
        if want then
          local okid, got = pcall(function() return v:id() end)
          ids_at[i] = ids_at[i] or {}
          ids_at[i][#ids_at[i] + 1] = okid and got or nil
          if not okid or got ~= want then
            diverge(i, ("result %d has id %s, recorded id %d"):format(k, tostring(got), want))
          end
        end
      end
    end
    local gc = obs.after()
    if gc ~= ev.gc then
      local function when(c) return c and ("collection %d had run"):format(c) or "no collection ran" end
      diverge(i, ("in the recording %s by its end, in the replay %s"):format(when(ev.gc), when(gc)))
    end
  end

  while not divergence and pos <= #events do step() end
  local outcome = obs.outcome()
  outcome.ids = {}                     -- in file order, as Recording:data lists them
  for i = 1, #events do
    for _, id in ipairs(ids_at[i] or {}) do outcome.ids[#outcome.ids + 1] = id end
  end
  if not divergence and d.outcome then
    local msg = same_list("move", d.outcome.moves or {}, outcome.moves)
      or same_list("death", d.outcome.deaths or {}, outcome.deaths)
    if msg then divergence = "after the last event: " .. msg end
  end
  return { ok = divergence == nil, divergence = divergence, isolate = iso,
           outcome = outcome, events = done }
end

return M
