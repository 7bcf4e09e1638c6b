-- SPDX-License-Identifier: MIT
-- fuzz/fuzz.lua: the model-checked random-operation fuzzer (issue 5).
--
--   lua5.4 fuzz/fuzz.lua [--ops N] [--seed S] [--runs R] [--program-length K] [--quiet] [--stats]
--
-- Generates random programs (open/close/escape on scopes of every kind, values of
-- every kind (Smis and the read-only roots included), array set/get, objects
-- (properties, internal fields, aligned pointers), externals, functions and
-- iso:call with callbacks that allocate in their implicit scope, collect, raise
-- or leave a scope open, two-pass weak callbacks (first passes that reset, ask
-- for a second pass, try to allocate or leave their handle set) and tasks,
-- persistent new/reset/get/weak/clear/delete, weak
-- callbacks that allocate or collect, callbacks that close the caller's scope
-- (or close it and reopen and fill another) during an allocation and callbacks
-- that call the isolate's __gc by hand (refused), iso:array_of, finalizers that
-- dispose the isolate in the middle of any call, Node-API references (ref/unref/get/delete),
-- eternal handles, probes, minor/major/full collections, and misuse: stale
-- Locals, Locals of another isolate, out-of-order closes, double escapes,
-- deleted handles, wrong types and ranges, every use after dispose)
-- from a seed, runs each against a fresh isolate and against fuzz/model.lua, and
-- compares after every step: the error raised (its class and the operation named
-- in the message), results, handle counts, weak-callback order; after every step
-- that collected (explicitly or inside an allocation under the program's stress
-- options), which objects are alive (every object has a hidden probe) and their
-- generation; on reads, values, kinds and identities. Everything is determined
-- by (seed, program number): the same command finds the same divergence.
--
-- On a divergence the program is cut at the failing step, shrunk (chunks of steps
-- removed while it still diverges) and printed as a standalone Lua script that
-- replays it against scopelab; the exit status is then 1.
--
-- R runs (default 1) use seeds S, S+1, ...; N operations are split over them.
-- --skip OP[,OP...] leaves operations out of the generated programs
-- ('weak_closes_caller' also the weak callbacks that close a scope, kinds 4 and 5).
package.path = "./fuzz/?.lua;./lua/?.lua;./lua/?/init.lua;" .. package.path
package.cpath = "./build/?.so;" .. package.cpath

local scopelab = require "scopelab"
local Model = require "model"

local NL, NS, NP, NW, NR = 12, 6, 5, 4, 3  -- registers: Locals, scopes, persistents,
                                           -- probes, Node-API references

-- ------------------------------------------------------------------ errors

-- The text every error class must contain (after "'op'").
local ERRORS = {
  noscope = "no handle scope is open",
  sealed = "the innermost scope is a seal scope",
  stale = "handle from a closed scope",
  foreign = "handle from another isolate",
  order = "is not the innermost",
  not_escapable = "scope is not escapable",
  escape_closed = "is closed)",
  escaped_twice = "has already escaped a value",
  range = "out of range",
  not_array = "(array expected",
  cb_closed = "a weak callback closed the scope the new handle was made in",
  array_value = "(an array has no Lua value)",
  deleted = "(persistent handle is deleted)",
  empty_weak = "(persistent handle is empty)",
  probe_deleted = "(probe is deleted)",
  eternal_range = "no eternal handle",
  ref_deleted = "(reference is deleted)",
  ref_zero = "(reference count is already 0)",
  not_object = "(object expected, got ",
  string_key = "(string expected, got number)",
  int_key = "(integer expected, got string)",
  holds_ptr = "holds an aligned pointer)",
  smi_heap = "(a Smi is not a heap object)",
  not_function = "(function expected, got ",
  left_open = "(the callback left ",   -- then the count the model gives (RUN.call)
  not_reset = "Handle not reset in first callback",
  object_value = "(an object has no Lua value)",
  function_value = "(a function has no Lua value)",
  external_value = "(an external has no Lua value)",
}

-- ------------------------------------------------------------------ generation

local function pick(t) return t[math.random(#t)] end

local function gen_options()
  return {
    young_size = pick { 4096, 8192, 65536 },
    block_size = pick { 2, 3, 16, 1022 },
    promote_after = math.random(1, 3),
    gc_interval = pick { 0, 0, 1, 3, 10, 50 },
    gc_interval_kind = pick { "alternate", "minor", "major" },
    stress_compaction = math.random(2) == 1,
    verify_heap = math.random(3) == 1,
  }
end

local function reg(n) return math.random(n) end
-- A Local operand: a register, sometimes nil (0) or a Local of another isolate (-1).
local function operand()
  local r = math.random(40)
  if r == 1 then return -1 elseif r <= 3 then return 0 end
  return reg(NL)
end

local STRINGS = { "", "a", "scopelab", string.rep("x", 40), string.rep("yz", 90) }
local KEYS = { "a", "b", "c", "", "a key longer than sixty-four bytes, which the core copies out first" }

-- Registers 1..4 mostly hold arrays and objects, 11..12 functions, and scope
-- registers 5..6 escapable scopes, so that set/get, calls and escape meet the
-- right kind more often than chance would.
local function areg() return math.random(4) == 1 and reg(NL) or math.random(4) end
local function sreg() return math.random(6) == 1 and reg(NL) or math.random(5, NL - 2) end
local function elem_index() return math.random(8) == 1 and math.random(0, 10) or math.random(1, 3) end
local function field_index() return math.random(8) == 1 and math.random(0, 4) or math.random(1, 2) end
-- Functions mostly live in registers 11 and 12.
local function freg() return math.random(8) == 1 and reg(NL) or math.random(NL - 1, NL) end
local function operands(n)
  local a = {}
  for i = 1, n do a[i] = operand() end
  return a
end

-- Operations left out of the programs (--skip).
local SKIP = {}

-- name, weight, generator
local GEN = {
  { "open", 5, function()
      return { kind = pick { "handle", "handle", "handle", "handle", "seal" }, s = math.random(4) }
    end },
  { "open_esc", 2, function() return { kind = "escapable", s = math.random(5, 6) } end },
  { "close", 1, function() return { s = reg(NS) } end },
  { "close_top", 3, function() return {} end },
  { "escape", 3, function()
      return { s = math.random(4) == 1 and reg(NS) or math.random(5, 6), l = operand(), d = reg(NL) }
    end },
  { "int", 10, function() return { d = sreg(), v = math.random(-1000000, 1000000) } end },
  { "num", 3, function() return { d = sreg(), v = math.random() * 1000 - 500 } end },
  { "str", 4, function() return { d = sreg(), v = pick(STRINGS) } end },
  { "arr", 8, function() return { d = areg(), n = math.random(0, 6) } end },
  { "arr_of", 3, function()
      local e = {}
      for i = 1, math.random(0, 10) do e[i] = operand() end
      return { d = areg(), e = e }
    end },
  { "set", 12, function() return { a = areg(), i = elem_index(), v = operand() } end },
  { "get", 7, function() return { a = areg(), i = elem_index(), d = sreg() } end },
  { "read", 5, function() return { l = reg(NL) } end },
  { "eq", 2, function() return { a = reg(NL), b = reg(NL) } end },
  { "pnew", 3, function() return { p = reg(NP), l = operand() } end },
  { "preset", 2, function() return { p = reg(NP), l = operand() } end },
  { "pget", 3, function() return { p = reg(NP), d = reg(NL) } end },
  { "pweak", 3, function()
      local kinds = SKIP.weak_closes_caller and { 0, 1, 1, 2, 3, 6 } or { 0, 1, 1, 2, 3, 4, 5, 6 }
      return { p = reg(NP), cb = pick(kinds), cs = math.random(1, 4) }
    end },
  { "pclear", 1, function() return { p = reg(NP) } end },
  { "pdelete", 1, function() return { p = reg(NP) } end },
  { "pempty", 1, function() return { p = reg(NP) } end },
  { "rnew", 2, function() return { r = reg(NR), l = reg(NL), count = math.random(0, 2) } end },
  { "rref", 2, function() return { r = reg(NR) } end },
  { "runref", 3, function() return { r = reg(NR) } end },
  { "rget", 2, function() return { r = reg(NR), d = reg(NL) } end },
  { "rdelete", 1, function() return { r = reg(NR) } end },
  { "eternal", 1, function() return { l = reg(NL) } end },
  { "eget", 1, function() return { i = math.random(1, 4), d = reg(NL) } end },
  { "probe", 2, function() return { w = reg(NW), l = operand() } end },
  { "wget", 1, function() return { w = reg(NW), d = reg(NL) } end },
  { "walive", 1, function() return { w = reg(NW) } end },
  { "wdelete", 1, function() return { w = reg(NW) } end },
  { "gc", 4, function() return { kind = pick { "minor", "minor", "major", "full" } } end },
  { "smi", 4, function() return { d = sreg(), v = math.random(-1000000, 1000000) } end },
  { "root", 2, function() return { d = reg(NL), k = math.random(1, 4) } end },
  { "obj", 5, function() return { d = areg(), n = pick { 0, 1, 2, 2 } } end },
  { "oset", 7, function() return { o = areg(), k = pick(KEYS), v = operand() } end },
  { "oget", 4, function() return { o = areg(), k = pick(KEYS), d = sreg() } end },
  { "ohas", 1, function() return { o = areg(), k = pick(KEYS) } end },
  { "odel", 2, function() return { o = areg(), k = pick(KEYS) } end },
  { "okeys", 1, function() return { o = areg() } end },
  { "fset", 2, function() return { o = areg(), i = field_index(), v = operand() } end },
  { "fget", 2, function() return { o = areg(), i = field_index(), d = sreg() } end },
  { "fptr", 1, function() return { o = areg(), i = field_index() } end },
  { "ext", 1, function() return { d = sreg() } end },
  { "func", 4, function()
      return { d = freg(), body = math.random(0, 5), data = operand() }
    end },
  { "call", 6, function()
      return { f = freg(), recv = operand(), a = operands(math.random(0, 3)), d = sreg() }
    end },
  { "pweak2", 2, function() return { p = reg(NP), f = pick { 1, 1, 2, 3, 4 } } end },
  { "post", 1, function() return {} end },
  { "tasks", 1, function() return {} end },
  { "bad", 1, function() return { k = math.random(1, 6) } end },
  { "check", 2, function() return {} end },
  -- a composite: a weak persistent to an object that is garbage once its scope closes
  { "weak_garbage", 3, function()
      local r, p = math.random(5, NL), reg(NP)
      return { multi = {
        { op = "open", kind = "handle", s = 4 },
        pick { { op = "arr", d = r, n = 1 }, { op = "int", d = r, v = 1 }, { op = "str", d = r, v = "s" } },
        { op = "pnew", p = p, l = r },
        { op = "pweak", p = p, cb = pick { 1, 1, 2, 3 } },
        { op = "close", s = 4 },
      } }
    end },
  -- a composite: a function called a few times from the scope that made it
  { "call_sequence", 3, function()
      local f = math.random(NL - 1, NL)
      local m = { { op = "open", kind = "handle", s = 4 },
                  { op = "func", d = f, body = math.random(0, 5), data = operand() } }
      for _ = 1, math.random(1, 3) do
        m[#m + 1] = { op = "call", f = f, recv = operand(), a = operands(math.random(0, 2)),
                      d = math.random(5, NL - 2) }
      end
      m[#m + 1] = { op = "close", s = 4 }
      return { multi = m }
    end },
  -- a composite: a wrapper whose two-pass weak callback runs once its scope closes
  { "twopass_garbage", 3, function()
      local r, p = math.random(5, NL), reg(NP)
      return { multi = {
        { op = "open", kind = "handle", s = 4 },
        { op = "obj", d = r, n = 2 },
        { op = "fptr", o = r, i = 1 },
        { op = "pnew", p = p, l = r },
        { op = "pweak2", p = p, f = pick { 1, 1, 2, 3, 4 } },
        { op = "close", s = 4 },
      } }
    end },
  -- a composite: a weak callback closes (or closes, reopens and fills) the scope the
  -- next allocations are made in, when a collection inside one of them runs it
  { "weak_closes_caller", 2, function()
      local r, p = math.random(5, NL), reg(NP)
      local alloc = pick { { op = "int", d = r, v = 2 }, { op = "str", d = r, v = "t" },
                           { op = "arr", d = r, n = 2 }, { op = "arr_of", d = r, e = { r, 0, r } } }
      return { multi = {
        { op = "open", kind = "handle", s = 4 },
        { op = "int", d = r, v = 1 },
        { op = "pnew", p = p, l = r },
        { op = "pweak", p = p, cb = pick { 4, 5 }, cs = 3 },
        { op = "close", s = 4 },
        { op = "open", kind = "handle", s = 3 },
        { op = "int", d = r, v = 3 },
        alloc,
        { op = "gc", kind = "major" },
        alloc,
      } }
    end },
}
local function gen_op()
  local total = 0
  for _, g in ipairs(GEN) do total = total + (SKIP[g[1]] and 0 or g[2]) end
  local r = math.random(total)
  for _, g in ipairs(GEN) do
    r = r - (SKIP[g[1]] and 0 or g[2])
    if r <= 0 then
      local op = g[3]()
      op.op = g[1] == "open_esc" and "open" or g[1]
      return op
    end
  end
end

local function gen_program(seed, index, length)
  math.randomseed(seed, index)
  local p = { opts = gen_options(), ops = {}, seed = seed, index = index }
  -- one program in four ends by disposing the isolate, then keeps using it; one
  -- in eight arms a finalizer that disposes it at whatever call runs it
  local tail = math.random(4) == 1 and math.min(40, length // 2) or 0
  local fin = not SKIP.fin_dispose and math.random(8) == 1 and math.random(length // 2, length) or -1
  while #p.ops < length do
    local op = #p.ops == length - tail and { op = "dispose" }
      or #p.ops == fin and { op = "fin_dispose" } or gen_op()
    if op.multi then
      for _, o in ipairs(op.multi) do
        if #p.ops < length and not SKIP[o.op] then p.ops[#p.ops + 1] = o end
      end
    else
      p.ops[#p.ops + 1] = op
    end
  end
  return p
end

-- ------------------------------------------------------------------ execution

-- One run of a program: the real isolate, the model, and the registers of both.
local function new_state(prog)
  local st = {
    iso = scopelab.isolate(prog.opts), m = Model.new(prog.opts),
    L = {}, ML = {}, S = {}, MS = {}, P = {}, MP = {}, W = {}, MW = {}, R = {}, MR = {},
    real_scope = {},          -- model scope -> real scope
    tracked = {},             -- { mobj, probe } for every object the model thinks alive
    log = {},                 -- tags logged by the real weak callbacks
    ntags = 0, minor = 0, major = 0,
    events = {}, nevent = 0,  -- collection counts seen at each sync point (see sync)
    cb_allocs = {},           -- { id, probe } of objects allocated by real callbacks
    cb_scopes = {},           -- scopes reopened by real callbacks (kind 5), in order
  }
  st.other = scopelab.isolate()
  st.other_scope = st.other:handle_scope()
  st.F = st.other:integer(7)
  st.MF = { foreign = true }
  st.nb = st.iso:native_alloc(64, "fuzz")   -- what aligned pointers and externals hold
  st.ntasks = 0
  return st
end

local function dispose(st)
  st.iso:dispose()
  st.other:dispose()
end

-- The Local operand 'r' of both sides: real, model (nil, false for register 0).
local function loc(st, r)
  if r == -1 then return st.F, st.MF end
  if r == 0 then return nil, false end
  return st.L[r], st.ML[r]
end

local function fmt(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

-- What the run exercised: per operation name, successes and expected errors.
local COUNT = {}
-- fin: programs whose isolate a finalizer (fin_dispose) disposed mid-step
local TOTALS = { objects = 0, minor = 0, major = 0, callbacks = 0, fin = 0 }

-- Compares a pcall result with the model's error class ('cls' nil: success).
local function expect(opname, cls, ok, err)
  local c = COUNT[opname] or { 0, 0 }
  COUNT[opname] = c
  if ok then c[1] = c[1] + 1 else c[2] = c[2] + 1 end
  if cls then c[cls] = (c[cls] or 0) + 1 end
  if cls == nil then
    if not ok then return "unexpected error: " .. tostring(err) end
    return nil
  end
  if ok then return ("expected error '%s' from '%s', got success"):format(cls, opname) end
  err = tostring(err)
  if not err:find(ERRORS[cls], 1, true) or not err:find("'" .. opname .. "'", 1, true) then
    return ("expected error '%s' from '%s', got: %s"):format(cls, opname, err)
  end
  return nil
end

-- Collections are observed, not predicted: whether a young space fills depends
-- on object sizes the model does not know. The real side syncs (reads the
-- collection counters) right after every call that may collect returns and at the
-- start of every weak callback, giving an ordered stream of "this many minor and
-- major collections since the last sync". The model replays an operation that
-- may collect (an allocation or a collect, at top level or inside a callback) as:
--   its collections = the next event (the first callback's start if callbacks ran,
--   else the sync after the call); then the callbacks, each but the first starting
--   with an event that must be empty; then, if callbacks ran, the sync after the
--   call, which must be empty too.
local function sync(st)
  local s = st.iso:stats()
  st.events[#st.events + 1] = { s.minor_collections - st.minor, s.major_collections - st.major }
  st.minor, st.major = s.minor_collections, s.major_collections
end

local function consume(st)
  st.nevent = st.nevent + 1
  local e = st.events[st.nevent]
  if not e then
    st.desync = st.desync or "the model replayed more collection points than the isolate had"
    return 0, 0
  end
  return e[1], e[2]
end

local function consume_empty(st, where)
  local a, b = consume(st)
  if a ~= 0 or b ~= 0 then
    st.desync = st.desync or ("%d minor and %d major collections %s"):format(a, b, where)
  end
end

local model_allocate, model_collect

-- An integer allocated inside a weak callback (or a call's callback) with value
-- 'v' (model side), matched with the real one (see real_cb_alloc).
local function model_cb_alloc(st, v)
  local ml, mcls = model_allocate(st, "integer", v)
  local real = table.remove(st.cb_allocs, 1)
  if real == nil then
    st.desync = st.desync or "the model replayed an allocation of a callback the isolate did not make"
  end
  if ml and real then
    ml.obj.rid = real[1]
    st.tracked[#st.tracked + 1] = { ml.obj, real[2] }
  elseif ml or real then
    st.desync = st.desync or ("an allocation inside a callback failed on one side only (%s)")
      :format(ml and ("real: " .. tostring(st.cb_alloc_err)) or ("model: " .. tostring(mcls)))
  end
  return ml and real and ml
end

-- The body of a weak callback of kind 'cb', on the model side (a table for the
-- kinds that name a scope register: { k = 4 or 5, s = register }).
local function model_callback(st, i, p, cb)
  if i > 1 then consume_empty(st, "between two weak callbacks") end
  if cb == 2 then
    local s = st.m:open("handle")
    local ml = model_cb_alloc(st, p.tag)
    if ml then st.m:reset(p, ml) end
    st.m:close(s)
  elseif cb == 3 then
    model_collect(st, "minor")
  elseif type(cb) == "table" then
    local ms = st.MS[cb.s]
    if ms then st.m:close(ms) end
    if cb.k == 5 then
      ms = st.m:open("handle")
      st.MS[cb.s] = ms
      st.real_scope[ms] = table.remove(st.cb_scopes, 1)
      model_cb_alloc(st, p.tag)
    end
  end
end

local function model_callbacks(st)
  local ran = st.m:run_callbacks(function(i, p, cb) model_callback(st, i, p, cb) end)
  if ran > 0 then consume_empty(st, "after the weak callbacks") end
end

-- A failed allocation runs the callbacks its collections queued too (only a
-- first pass that left its handle set fails an allocation that collected).
function model_allocate(st, kind, value, n)
  local dm, dM = consume(st)
  local ml, cls = st.m:allocate(kind, value, n, dm, dM)
  if cls and cls ~= "not_reset" and (dm > 0 or dM > 0) then
    st.desync = st.desync or "collected although the allocation failed"
  end
  if ml or cls == "not_reset" then model_callbacks(st) end
  return ml, cls
end

-- A forced collection: its collections (first passes at the end of each), the
-- single-pass callbacks, then every second pass queued so far. Returns
-- "not_reset" when a first pass of its own collections left its handle set.
function model_collect(st, kind)
  local dm, dM = consume(st)
  local want_m, want_M = kind == "major" and 0 or 1, kind == "minor" and 0 or 1
  if dm ~= want_m or dM ~= want_M then
    st.desync = st.desync or ("collect('%s') ran %d minor and %d major collections"):format(kind, dm, dM)
  end
  if kind ~= "major" then st.m:collect("minor") end
  if kind ~= "minor" then st.m:collect("major") end
  -- Taken before the callbacks: a collection inside one does not answer for
  -- the first passes of this one (nor this one for its).
  local kept = st.m:take_not_reset()
  model_callbacks(st)
  st.m:run_second_passes()
  if kept then return "not_reset" end
end

-- The body of a weak callback of kind 'cb' on the real side: 1 logs, 2 also
-- allocates in a scope of its own and re-targets its (emptied) handle to the new
-- object, 3 also runs a minor collection (whose callbacks run inside it).
local function real_cb_alloc(st, tag)
  local ok, h = pcall(st.iso.integer, st.iso, tag)
  sync(st)
  if not ok then                         -- a place in the queue all the same
    st.cb_allocs[#st.cb_allocs + 1] = false
    st.cb_alloc_err = h
    return nil
  end
  st.cb_allocs[#st.cb_allocs + 1] = { h:id(), st.iso:probe(h) }
  return h
end

-- 4 closes the scope in register 'cs' (the caller's, when it is the innermost:
-- the allocation that ran the callback must then fail), 5 also opens a handle
-- scope into that register and allocates in it, 6 calls the isolate's __gc by
-- hand, which must be refused (it would dispose the isolate under the core).
local function real_callback(st, tag, cb, cs)
  local log = st.log
  return function(p)
    sync(st)
    log[#log + 1] = tag
    if cb == 2 then
      local s = st.iso:handle_scope()
      local h = real_cb_alloc(st, tag)
      if h then p:reset(h) end
      s:close()
    elseif cb == 3 then
      pcall(st.iso.collect, st.iso, "minor")      -- a first pass may fail it
      sync(st)
    elseif cb == 4 or cb == 5 then
      local s = st.S[cs]
      if s then pcall(s.close, s) end
      if cb == 5 then
        s = st.iso:handle_scope()
        st.S[cs] = s
        st.cb_scopes[#st.cb_scopes + 1] = s
        real_cb_alloc(st, tag)
      end
    elseif cb == 6 then
      if pcall(getmetatable(st.iso).__gc, st.iso) or st.iso:is_disposed() then
        st.desync = st.desync or "__gc called inside a weak callback was not refused"
      end
    end
  end
end

-- Every tracked object: alive on both sides or dead on both, same generation.
local function check_alive(st)
  local keep = {}
  for _, t in ipairs(st.tracked) do
    local o, w = t[1], t[2]
    local alive = w:alive()
    if alive ~= o.alive then
      return ("object #%d (%s): model says %s, probe says %s"):format(o.mid, o.kind,
        o.alive and "alive" or "dead", alive and "alive" or "dead")
    end
    if alive then
      local g = w:generation()
      if g ~= o.gen then
        return ("object #%d (%s): model says %s, probe says %s"):format(o.mid, o.kind, o.gen, g)
      end
      keep[#keep + 1] = t
    else
      w:delete()
    end
  end
  st.tracked = keep
  return nil
end

-- An object's keys and field count, read as the model has them.
local function check_object(h, o, what)
  local keys = h:keys()
  if #keys ~= #o.keys then return ("%s: %d keys, model %d"):format(what, #keys, #o.keys) end
  for i, k in ipairs(keys) do
    if k ~= o.keys[i] then return ("%s: key %d is %q, model %q"):format(what, i, k, o.keys[i]) end
  end
  if h:internal_field_count() ~= o.nfields then
    return ("%s: %d internal fields, model %d"):format(what, h:internal_field_count(), o.nfields)
  end
  return nil
end

-- Reads a live Local fully and compares with the model's object.
local function check_local(st, h, ml, what)
  local o = ml.obj
  local k = h:kind()
  if k ~= o.kind then return ("%s: kind %s, model %s"):format(what, k, o.kind) end
  if o.immediate or o.root then                 -- a Smi or a root: its value is all
    if h:value() ~= o.value then
      return ("%s: value %s, model %s"):format(what, fmt(h:value()), fmt(o.value))
    end
    return nil
  end
  if h:id() ~= o.rid then
    return ("%s: identity %d, model object #%d has identity %d"):format(what, h:id(), o.mid, o.rid)
  end
  if k == "array" then
    if #h ~= o.n then return ("%s: length %d, model %d"):format(what, #h, o.n) end
  elseif k == "object" then
    local e = check_object(h, o, what)
    if e then return e end
  elseif k == "external" then
    if not rawequal(h:external_value(), st.nb) then return what .. ": external value differs" end
  elseif k ~= "function" and h:value() ~= o.value then
    return ("%s: value %s, model %s"):format(what, fmt(h:value()), fmt(o.value))
  end
  local g = h:generation()
  if g ~= o.gen then return ("%s: generation %s, model %s"):format(what, g, o.gen) end
  return nil
end

-- The weak-callback logs agree.
local function check_log(st)
  local a, b = st.log, st.m.callback_log
  if #a ~= #b then
    return ("weak callbacks: %d ran, model expects %d"):format(#a, #b)
  end
  for i = 1, #a do
    if a[i] ~= b[i] then
      return ("weak callback %d: persistent #%s ran, model expects #%s"):format(i, tostring(a[i]),
        tostring(b[i]))
    end
  end
  return nil
end

local function check_all(st)
  local err = check_alive(st)
  if err then return err end
  for r = 1, NL do
    local ml = st.ML[r]
    if ml and Model.local_error(ml) == nil and ml.obj then
      err = check_local(st, st.L[r], ml, "register " .. r)
      if err then return err end
    end
  end
  local s = st.iso:stats()
  local m = st.m
  if s.persistent_handles ~= m:persistent_count() then
    return ("stats.persistent_handles %d, model %d"):format(s.persistent_handles, m:persistent_count())
  end
  if s.weak_handles ~= m:weak_count() then
    return ("stats.weak_handles %d, model %d"):format(s.weak_handles, m:weak_count())
  end
  if s.scope_level ~= m.level or s.scope_depth ~= #m.stack then
    return ("scope level/depth %d/%d, model %d/%d"):format(s.scope_level, s.scope_depth,
      m.level, #m.stack)
  end
  if s.eternal_handles ~= #m.eternals then return "eternal count differs" end
  if s.pending_tasks ~= m:pending_tasks() then
    return ("stats.pending_tasks %d, model %d"):format(s.pending_tasks, m:pending_tasks())
  end
  return nil
end

local function store(st, d, h, ml)
  st.L[d], st.ML[d] = h, ml
end

local RUN = {}

function RUN.open(st, op)
  local f = op.kind == "handle" and st.iso.handle_scope or op.kind == "escapable"
    and st.iso.escapable_handle_scope or st.iso.seal_handle_scope
  local name = op.kind == "handle" and "handle_scope" or op.kind == "escapable"
    and "escapable_handle_scope" or "seal_handle_scope"
  local ok, s = pcall(f, st.iso)
  local ms, cls = st.m:open(op.kind)
  local d = expect(name, cls, ok, s)
  if d then return d end
  if ok then
    st.S[op.s], st.MS[op.s] = s, ms
    st.real_scope[ms] = s
  end
end

local function close(st, s, ms)
  local ok, err = pcall(s.close, s)
  local _, cls = st.m:close(ms)
  return expect("close", cls, ok, err)
end

function RUN.close(st, op)
  if not st.S[op.s] then return end
  return close(st, st.S[op.s], st.MS[op.s])
end

function RUN.close_top(st)
  local ms = st.m:innermost()
  if ms then return close(st, st.real_scope[ms], ms) end
end

function RUN.escape(st, op)
  local s, ms = st.S[op.s], st.MS[op.s]
  local h, ml = loc(st, op.l)
  if not s or ml == nil then return end
  local ok, r = pcall(s.escape, s, h)
  local mr, cls = st.m:escape(ms, ml or nil)
  local d = expect("escape", cls, ok, r)
  if d then return d end
  if ok then
    if (r == nil) ~= (mr == false) then return "escape: result presence differs" end
    store(st, op.d, r, mr or nil)
    if r then return check_local(st, r, mr, "escaped") end
  end
end

-- 'args' (array_of): the real arguments, and 'elems' the model's Locals.
local function alloc(st, d, name, kind, value, n, args, elems)
  local collected = st.minor + st.major
  local ok, h
  if args then ok, h = pcall(st.iso.array_of, st.iso, table.unpack(args, 1, n))
  elseif kind == "external" then ok, h = pcall(st.iso.external, st.iso, st.nb)
  else ok, h = pcall(st.iso[name], st.iso, (kind == "array" or kind == "object") and n or value) end
  sync(st)
  local ml, cls = model_allocate(st, kind, value, n)
  if ml and Model.local_error(ml) then cls = "cb_closed" end   -- a callback closed its scope
  local e = expect(name, cls, ok, h)
  if e then return e end
  if not ok then return end
  if elems then
    for i = 1, n do ml.obj.elems[i] = elems[i] and elems[i].obj or nil end
  end
  ml.obj.rid = h:id()
  store(st, d, h, ml)
  st.tracked[#st.tracked + 1] = { ml.obj, st.iso:probe(h) }
  if st.minor + st.major ~= collected then
    e = check_alive(st)
    if e then return e end
  end
  return check_local(st, h, ml, "new " .. kind)
end

function RUN.int(st, op) return alloc(st, op.d, "integer", "integer", op.v) end
function RUN.num(st, op) return alloc(st, op.d, "number", "number", op.v) end
function RUN.str(st, op) return alloc(st, op.d, "string", "string", op.v) end
function RUN.arr(st, op) return alloc(st, op.d, "array", "array", nil, op.n) end

-- iso:array_of(...): refused for a Local of another isolate (checked as the
-- arguments are gathered, before anything else) or a stale one (checked by the
-- core before it allocates); else an array of those elements.
function RUN.arr_of(st, op)
  local args, elems, cls = {}, {}, nil
  for i, r in ipairs(op.e) do
    local h, ml = loc(st, r)
    if ml == nil then return end                 -- an empty register
    args[i], elems[i] = h, ml or nil
    local err = ml and Model.local_error(ml)
    if err == "foreign" or (err and not cls) then cls = err end
  end
  local n = #op.e
  if not cls then return alloc(st, op.d, "array_of", "array", nil, n, args, elems) end
  local ok, h = pcall(st.iso.array_of, st.iso, table.unpack(args, 1, n))
  sync(st)
  consume_empty(st, "in a refused array_of")
  return expect("array_of", cls, ok, h)
end

-- Arms a finalizer that disposes the isolate: Lua runs it at some allocation,
-- inside whatever call of the binding makes it (see run()).
function RUN.fin_dispose(st)
  setmetatable({}, { __gc = function() st.iso:dispose() end })
end

-- Self checks shared by get and set: stale self, not an array (an object wants
-- a string key), index range.
local function array_error(a, i)
  local err = Model.local_error(a)
  if err then return err end
  if a.obj.kind == "object" then return "string_key" end
  if a.obj.kind ~= "array" then return "not_array" end
  if i < 1 or i > a.obj.n then return "range" end
  return nil
end

function RUN.set(st, op)
  local a, ma = st.L[op.a], st.ML[op.a]
  local v, mv = loc(st, op.v)
  if not a or mv == nil then return end
  local ok, err = pcall(a.set, a, op.i, v)
  local cls = array_error(ma, op.i)
  if not cls and mv then cls = Model.local_error(mv) end
  local d = expect("set", cls, ok, err)
  if d then return d end
  if ok then ma.obj.elems[op.i] = mv and mv.obj or nil end
end

function RUN.get(st, op)
  local a, ma = st.L[op.a], st.ML[op.a]
  if not a then return end
  local ok, r = pcall(a.get, a, op.i)
  local cls = array_error(ma, op.i)
  local mr
  if not cls then mr, cls = st.m:new_local(ma.obj.elems[op.i]) end
  local d = expect("get", cls, ok, r)
  if d then return d end
  if ok then
    if (r == nil) ~= (mr == false) then return "get: result presence differs" end
    store(st, op.d, r, mr or nil)
    if r then return check_local(st, r, mr, "element") end
  end
end

function RUN.read(st, op)
  local h, ml = st.L[op.l], st.ML[op.l]
  if not h then return end
  local cls = Model.local_error(ml)
  local ok, err = pcall(h.kind, h)
  local d = expect("kind", cls, ok, err)
  if d or cls then return d end
  local novalue = ({ array = "array_value", object = "object_value",
                      ["function"] = "function_value", external = "external_value" })[ml.obj.kind]
  if novalue then
    ok, err = pcall(h.value, h)
    d = expect("value", novalue, ok, err)
    if d then return d end
  end
  return check_local(st, h, ml, "register " .. op.l)
end

function RUN.eq(st, op)
  local a, ma, b, mb = st.L[op.a], st.ML[op.a], st.L[op.b], st.ML[op.b]
  if not a or not b or rawequal(a, b) then return end
  local ok, r = pcall(function() return a == b end)
  local cls = Model.local_error(ma) or Model.local_error(mb)
  local d = expect("__eq", cls, ok, r)
  if d then return d end
  if ok and r ~= Model.same(ma.obj, mb.obj) then
    return ("==: %s, model says %s"):format(tostring(r), tostring(Model.same(ma.obj, mb.obj)))
  end
end

function RUN.pnew(st, op)
  local h, ml = loc(st, op.l)
  if ml == nil then return end
  local ok, p = pcall(st.iso.persistent, st.iso, h)
  local cls = ml and Model.local_error(ml) or nil
  local d = expect("persistent", cls, ok, p)
  if d then return d end
  if ok then
    st.ntags = st.ntags + 1
    st.P[op.p], st.MP[op.p] = p, st.m:persistent(ml or nil, st.ntags)
  end
end

local function pers(st, r)
  local mp = st.MP[r]
  return st.P[r], mp, mp and mp.deleted and "deleted" or nil
end

function RUN.preset(st, op)
  local p, mp, cls = pers(st, op.p)
  local h, ml = loc(st, op.l)
  if not p or ml == nil then return end
  local ok, err = pcall(p.reset, p, h)
  if not cls and ml then cls = Model.local_error(ml) end
  local d = expect("reset", cls, ok, err)
  if d then return d end
  if ok then st.m:reset(mp, ml or nil) end
end

function RUN.pget(st, op)
  local p, mp, cls = pers(st, op.p)
  if not p then return end
  local ok, r = pcall(p.get, p)
  local mr
  if not cls then mr, cls = st.m:new_local(mp.obj) end
  local d = expect("get", cls, ok, r)
  if d then return d end
  if ok then
    if (r == nil) ~= (mr == false) then return "persistent get: result presence differs" end
    store(st, op.d, r, mr or nil)
    if r then return check_local(st, r, mr, "persistent get") end
  end
end

function RUN.pweak(st, op)
  local p, mp, cls = pers(st, op.p)
  if not p then return end
  local cb = op.cb ~= 0 and real_callback(st, mp.tag, op.cb, op.cs) or nil
  local ok, err = pcall(p.set_weak, p, cb)
  local mcb = (op.cb == 4 or op.cb == 5) and { k = op.cb, s = op.cs } or op.cb
  local _
  if not cls then _, cls = st.m:set_weak(mp, op.cb ~= 0 and mcb or nil) end
  return expect("set_weak", cls, ok, err)
end

function RUN.pclear(st, op)
  local p, mp, cls = pers(st, op.p)
  if not p then return end
  local ok, err = pcall(p.clear_weak, p)
  if not cls then st.m:clear_weak(mp) end
  return expect("clear_weak", cls, ok, err)
end

function RUN.pdelete(st, op)
  local p, mp, cls = pers(st, op.p)
  if not p then return end
  local ok, err = pcall(p.delete, p)
  if not cls then mp.deleted = true end
  return expect("delete", cls, ok, err)
end

function RUN.pempty(st, op)
  local p, mp, cls = pers(st, op.p)
  if not p then return end
  local ok, r = pcall(p.is_empty, p)
  local d = expect("is_empty", cls, ok, r)
  if d then return d end
  if ok and r ~= (mp.obj == nil) then
    return ("is_empty: %s, model %s"):format(tostring(r), tostring(mp.obj == nil))
  end
end

-- Node-API references: strong while the count is above zero, weak (no callback)
-- at zero; deleting is separate from reaching zero.
local function ref_reg(st, r)
  local mr = st.MR[r]
  return st.R[r], mr, mr and mr.deleted and "ref_deleted" or nil
end

function RUN.rnew(st, op)
  local h, ml = st.L[op.l], st.ML[op.l]
  if not h then return end
  local ok, r = pcall(st.iso.reference, st.iso, h, op.count)
  local d = expect("reference", Model.local_error(ml), ok, r)
  if d then return d end
  if ok then
    st.ntags = st.ntags + 1
    local mr = st.m:persistent(ml, st.ntags)
    mr.count = op.count
    if op.count == 0 then st.m:set_weak(mr, nil) end
    st.R[op.r], st.MR[op.r] = r, mr
  end
end

function RUN.rref(st, op)
  local r, mr, cls = ref_reg(st, op.r)
  if not r then return end
  local ok, n = pcall(r.ref, r)
  local d = expect("ref", cls, ok, n)
  if d or not ok then return d end
  if mr.count == 0 then st.m:clear_weak(mr) end
  mr.count = mr.count + 1
  if n ~= mr.count then return ("ref: count %s, model %d"):format(tostring(n), mr.count) end
end

function RUN.runref(st, op)
  local r, mr, cls = ref_reg(st, op.r)
  if not r then return end
  local ok, n = pcall(r.unref, r)
  if not cls and mr.count == 0 then cls = "ref_zero" end
  if not cls and mr.count == 1 and mr.obj and mr.obj.immediate then cls = "smi_heap" end
  local d = expect("unref", cls, ok, n)
  if d or not ok then return d end
  if mr.count == 1 and mr.obj then st.m:set_weak(mr, nil) end
  mr.count = mr.count - 1
  if n ~= mr.count then return ("unref: count %s, model %d"):format(tostring(n), mr.count) end
end

function RUN.rget(st, op)
  local r, mr, cls = ref_reg(st, op.r)
  if not r then return end
  local ok, h = pcall(r.get, r)
  local ml
  if not cls then ml, cls = st.m:new_local(mr.obj) end
  local d = expect("get", cls, ok, h)
  if d then return d end
  if ok then
    if (h == nil) ~= (ml == false) then return "reference get: result presence differs" end
    store(st, op.d, h, ml or nil)
    if h then return check_local(st, h, ml, "reference get") end
  end
end

function RUN.rdelete(st, op)
  local r, mr, cls = ref_reg(st, op.r)
  if not r then return end
  local ok, err = pcall(r.delete, r)
  if not cls then mr.deleted = true end
  return expect("delete", cls, ok, err)
end

function RUN.eternal(st, op)
  local h, ml = st.L[op.l], st.ML[op.l]
  if not h then return end
  local ok, r = pcall(st.iso.eternal, st.iso, h)
  local cls = Model.local_error(ml)
  local d = expect("eternal", cls, ok, r)
  if d then return d end
  if ok then
    local i = st.m:eternal(ml)
    if r ~= i then return ("eternal index %s, model %d"):format(tostring(r), i) end
  end
end

function RUN.eget(st, op)
  local ok, r = pcall(st.iso.eternal_get, st.iso, op.i)
  local mr, cls
  if op.i > #st.m.eternals then cls = "eternal_range"
  else mr = st.m:eternal_local(st.m.eternals[op.i]) end
  local d = expect("eternal_get", cls, ok, r)
  if d then return d end
  if ok then
    store(st, op.d, r, mr)
    return check_local(st, r, mr, "eternal")
  end
end

function RUN.probe(st, op)
  local h, ml = loc(st, op.l)
  if not h then return end
  local ok, w = pcall(st.iso.probe, st.iso, h)
  local cls = Model.local_error(ml) or (ml.obj.immediate and "smi_heap") or nil
  local d = expect("probe", cls, ok, w)
  if d then return d end
  if ok then st.W[op.w], st.MW[op.w] = w, { obj = ml.obj } end
end

local function probe_reg(st, r)
  local mw = st.MW[r]
  return st.W[r], mw, mw and mw.deleted and "probe_deleted" or nil
end

function RUN.wget(st, op)
  local w, mw, cls = probe_reg(st, op.w)
  if not w then return end
  local ok, r = pcall(w.get, w)
  local mr
  if not cls then mr, cls = st.m:new_local(mw.obj.alive and mw.obj or nil) end
  local d = expect("get", cls, ok, r)
  if d then return d end
  if ok then
    if (r == nil) ~= (mr == false) then return "probe get: result presence differs" end
    store(st, op.d, r, mr or nil)
    if r then return check_local(st, r, mr, "probe get") end
  end
end

function RUN.walive(st, op)
  local w, mw, cls = probe_reg(st, op.w)
  if not w then return end
  local ok, r = pcall(w.alive, w)
  local d = expect("alive", cls, ok, r)
  if d then return d end
  if ok and r ~= mw.obj.alive then
    return ("probe alive %s, model %s"):format(tostring(r), tostring(mw.obj.alive))
  end
end

function RUN.wdelete(st, op)
  local w, mw, cls = probe_reg(st, op.w)
  if not w then return end
  local ok, err = pcall(w.delete, w)
  if not cls then mw.deleted = true end
  return expect("delete", cls, ok, err)
end

function RUN.gc(st, op)
  local ok, r = pcall(st.iso.collect, st.iso, op.kind)
  sync(st)
  local d = expect("collect", model_collect(st, op.kind), ok, r)
  return d or check_alive(st)
end

-- Misuse that needs no state: each raises exactly this message.
local BAD = {
  { function(iso) return iso:integer("x") end,
    "bad argument #2 to 'integer' (integer expected, got string)" },
  { function(iso) return iso:integer(1.5) end,
    "bad argument #2 to 'integer' (number has no integer representation)" },
  { function(iso) return iso:array(-1) end,
    "bad argument #2 to 'array' (size must be non-negative, got -1)" },
  { function(iso) return iso:number("x") end,
    "bad argument #2 to 'number' (number expected, got string)" },
  { function(iso) return iso:string(5) end,
    "bad argument #2 to 'string' (string expected, got number)" },
  { function(iso) return iso:collect("medium") end,
    "bad argument #2 to 'collect' (invalid kind 'medium', expected 'minor', 'major' or 'full')" },
}

function RUN.bad(st, op)
  local ok, err = pcall(BAD[op.k][1], st.iso)
  if ok then return "misuse accepted: " .. BAD[op.k][2] end
  if not tostring(err):find(BAD[op.k][2], 1, true) then
    return ("expected %q, got %q"):format(BAD[op.k][2], tostring(err))
  end
end

-- ------------------------------------------------------------------ issue 14

-- A Smi: a slot and no object (no allocation, so no collection point).
function RUN.smi(st, op)
  local ok, h = pcall(st.iso.smi, st.iso, op.v)
  local ml, cls = st.m:smi(op.v)
  local d = expect("smi", cls, ok, h)
  if d or not ok then return d end
  store(st, op.d, h, ml)
  return check_local(st, h, ml, "new smi")
end

-- A read-only root: bound to its slot, no scope needed, never stale.
local ROOTS = { { "undefined", "undefined" }, { "null", "null" }, { "boolean", "boolean", true },
                { "boolean", "boolean", false } }

function RUN.root(st, op)
  local r = ROOTS[op.k]
  local ok, h = pcall(st.iso[r[1]], st.iso, r[3])
  local d = expect(r[1], nil, ok, h)
  if d then return d end
  local ml = st.m:root_local(r[2], r[3])
  store(st, op.d, h, ml)
  return check_local(st, h, ml, "root")
end

function RUN.obj(st, op) return alloc(st, op.d, "object", "object", nil, op.n) end
function RUN.ext(st, op) return alloc(st, op.d, "external", "external", nil) end

-- The self checks of a property call: a string key on a non-object is an
-- array's integer index ('get', 'set'), or a wrong kind ('has', 'delete', 'keys').
local function obj_error(mo, indexed)
  local err = Model.local_error(mo)
  if err then return err end
  if mo.obj.kind ~= "object" then return indexed and "int_key" or "not_object" end
  return nil
end

-- o:set(key, v): a new key may allocate (the name, a bigger store), so the
-- collections the real call ran come first, then the store, then callbacks.
function RUN.oset(st, op)
  local o, mo = st.L[op.o], st.ML[op.o]
  local v, mv = loc(st, op.v)
  if not o or mv == nil then return end
  local ok, err = pcall(o.set, o, op.k, v)
  sync(st)
  local cls = obj_error(mo, true)
  if not cls and mv then cls = Model.local_error(mv) end
  if cls then
    consume_empty(st, "in a refused set")
    return expect("set", cls, ok, err)
  end
  local dm, dM = consume(st)
  for _ = 1, dm do st.m:collect("minor") end
  for _ = 1, dM do st.m:collect("major") end
  if dm + dM > 0 and st.m:take_not_reset() then cls = "not_reset"
  else st.m:set_prop(mo.obj, op.k, mv and mv.obj or nil) end
  model_callbacks(st)
  local d = expect("set", cls, ok, err)
  if d then return d end
  if dm + dM > 0 then return check_alive(st) end
end

function RUN.oget(st, op)
  local o, mo = st.L[op.o], st.ML[op.o]
  if not o then return end
  local ok, r = pcall(o.get, o, op.k)
  local cls, mr = obj_error(mo, true), nil
  if not cls then mr, cls = st.m:new_local(st.m:get_prop(mo.obj, op.k)) end
  local d = expect("get", cls, ok, r)
  if d or not ok then return d end
  store(st, op.d, r, mr)
  return check_local(st, r, mr, "property " .. op.k)
end

function RUN.ohas(st, op)
  local o, mo = st.L[op.o], st.ML[op.o]
  if not o then return end
  local ok, r = pcall(o.has, o, op.k)
  local cls = obj_error(mo, false)
  local d = expect("has", cls, ok, r)
  if d or not ok then return d end
  if r ~= (mo.obj.props[op.k] ~= nil) then return ("has(%q): %s, model differs"):format(op.k, tostring(r)) end
end

function RUN.odel(st, op)
  local o, mo = st.L[op.o], st.ML[op.o]
  if not o then return end
  local ok, r = pcall(o.delete, o, op.k)
  local cls = obj_error(mo, false)
  local d = expect("delete", cls, ok, r)
  if d or not ok then return d end
  if r ~= true then return "delete did not return true" end
  st.m:delete_prop(mo.obj, op.k)
end

function RUN.okeys(st, op)
  local o, mo = st.L[op.o], st.ML[op.o]
  if not o then return end
  local ok, r = pcall(o.keys, o)
  local d = expect("keys", obj_error(mo, false), ok, r)
  if d or not ok then return d end
  return check_object(o, mo.obj, "keys")
end

-- The self checks of a field call: stale, not an object, index out of range.
local function field_error(mo, i)
  local err = obj_error(mo, false)
  if err then return err end
  if i < 1 or i > mo.obj.nfields then return "range" end
  return nil
end

function RUN.fset(st, op)
  local o, mo = st.L[op.o], st.ML[op.o]
  local v, mv = loc(st, op.v)
  if not o or mv == nil then return end
  local ok, err = pcall(o.set_internal_field, o, op.i, v)
  local cls = field_error(mo, op.i)
  if not cls and mv then cls = Model.local_error(mv) end
  local d = expect("set_internal_field", cls, ok, err)
  if d then return d end
  if ok then mo.obj.fields[op.i] = mv and mv.obj or nil end
end

function RUN.fget(st, op)
  local o, mo = st.L[op.o], st.ML[op.o]
  if not o then return end
  local ok, r = pcall(o.get_internal_field, o, op.i)
  local cls, mr = field_error(mo, op.i), nil
  if not cls and mo.obj.fields[op.i] == Model.PTR then cls = "holds_ptr" end
  if not cls then mr, cls = st.m:new_local(mo.obj.fields[op.i] or st.m:root("undefined")) end
  local d = expect("get_internal_field", cls, ok, r)
  if d or not ok then return d end
  store(st, op.d, r, mr)
  return check_local(st, r, mr, "internal field")
end

function RUN.fptr(st, op)
  local o, mo = st.L[op.o], st.ML[op.o]
  if not o then return end
  local ok, err = pcall(o.set_aligned_pointer, o, op.i, st.nb)
  local cls = field_error(mo, op.i)
  local d = expect("set_aligned_pointer", cls, ok, err)
  if d or not ok then return d end
  mo.obj.fields[op.i] = Model.PTR
  local okp, p = pcall(o.get_aligned_pointer, o, op.i)
  if not okp or not rawequal(p, st.nb) then return "get_aligned_pointer: not the block set" end
end

-- A call's callback allocates an integer in its implicit scope (real side).
local function real_call_alloc(st, v)
  local ok, h = pcall(st.iso.integer, st.iso, v)
  sync(st)
  if not ok then
    st.cb_allocs[#st.cb_allocs + 1] = false
    st.cb_alloc_err = h
    return nil
  end
  st.cb_allocs[#st.cb_allocs + 1] = { h:id(), st.iso:probe(h) }
  return h
end

-- The callback of kind 'body': 0 nothing; 1 allocates twice and returns its
-- first argument; 2 returns a new integer; 3 allocates and raises; 4 collects
-- and returns its receiver; 5 leaves a scope open (the call fails).
local function real_call_body(st, body)
  return function(info)
    if body == 1 then
      real_call_alloc(st, 1)
      real_call_alloc(st, 2)
      info:set_return_value(info:arg(1))
    elseif body == 2 then
      local h = real_call_alloc(st, 3)
      if h then info:set_return_value(h) end
    elseif body == 3 then
      real_call_alloc(st, 4)
      error("fuzz call error", 0)
    elseif body == 4 then
      pcall(st.iso.collect, st.iso, "minor")
      sync(st)
      info:set_return_value(info:this())
    elseif body == 5 then
      st.iso:handle_scope()
    end
  end
end

-- The same on the model side; returns the result's record, or nil and "cb_error".
local function model_call_body(st, body, mrecv, margs)
  local undef = st.m:root("undefined")
  if body == 1 then
    model_cb_alloc(st, 1)
    model_cb_alloc(st, 2)
    return margs[1] and margs[1].obj or undef
  elseif body == 2 then
    local ml = model_cb_alloc(st, 3)
    return ml and ml.obj or undef
  elseif body == 3 then
    model_cb_alloc(st, 4)
    return nil, "cb_error"
  elseif body == 4 then
    model_collect(st, "minor")
    return mrecv and mrecv.obj or undef
  elseif body == 5 then
    st.m:open("handle")
  end
  return undef
end

function RUN.func(st, op)
  local h, ml = loc(st, op.data)
  if ml == nil then return end
  local ok, fn = pcall(st.iso.func, st.iso, real_call_body(st, op.body), h)
  sync(st)
  local cls = ml and Model.local_error(ml) or nil
  if cls then
    consume_empty(st, "in a refused func")
    return expect("func", cls, ok, fn)
  end
  local mf
  mf, cls = model_allocate(st, "function", ml and ml.obj or nil)
  if mf and Model.local_error(mf) then cls = "cb_closed" end
  local d = expect("func", cls, ok, fn)
  if d or not ok then return d end
  mf.obj.body, mf.obj.rid = op.body, fn:id()
  store(st, op.d, fn, mf)
  st.tracked[#st.tracked + 1] = { mf.obj, st.iso:probe(fn) }
  return check_local(st, fn, mf, "new function")
end

-- Why iso:call(fn, recv, args...) is refused before its callback runs, in the
-- binding's order: a foreign handle, fn stale or no function, a stale
-- receiver or argument, no scope to return into.
local function call_error(st, list)
  for _, ml in ipairs(list) do
    if ml and ml.foreign then return "foreign" end
  end
  local err = Model.local_error(list[1])
  if err then return err end
  if list[1].obj.kind ~= "function" then return "not_function" end
  for i = 2, #list do
    err = list[i] and Model.local_error(list[i])
    if err then return err end
  end
  return st.m:creation_error()
end

function RUN.call(st, op)
  local f, mf = st.L[op.f], st.ML[op.f]
  local recv, mrecv = loc(st, op.recv)
  if not f or mrecv == nil then return end
  local args, list, margs = {}, { mf, mrecv }, {}
  for i, a in ipairs(op.a) do
    local h, ml = loc(st, a)
    if ml == nil then return end
    args[i], margs[i], list[#list + 1] = h, ml, ml
  end
  local ok, r = pcall(st.iso.call, st.iso, f, recv, table.unpack(args, 1, #op.a))
  sync(st)
  local cls = call_error(st, list)
  if cls then
    consume_empty(st, "in a refused call")
    return expect("call", cls, ok, r)
  end
  local s = st.m:call_begin()
  local res, ecls = model_call_body(st, mf.obj.body, mrecv, margs)
  local _, lcls, left = st.m:call_end(s)
  consume_empty(st, "after a call returned")
  if ecls then
    if ok or r ~= "fuzz call error" then return "call: expected the callback's error, got " .. tostring(r) end
    return nil
  end
  if lcls then
    local d = expect("call", lcls, ok, r)
    if d then return d end
    local want = ("(the callback left %d scope%s open)"):format(left, left == 1 and "" or "s")
    if not tostring(r):find(want, 1, true) then
      return ("call: expected %s, got: %s"):format(want, tostring(r))
    end
    return nil
  end
  local mr = st.m:new_local(res)
  local d = expect("call", nil, ok, r)
  if d then return d end
  store(st, op.d, r, mr)
  return check_local(st, r, mr, "call result")
end

-- A first pass of kind 'f' (see Model): logs, checks its parameter, resets its
-- handle but for kind 3, tries (kind 4) an allocation that must be refused, and
-- asks (kinds 1, 4) for a second pass that logs.
local function real_first_pass(st, tag, f, p)
  return function(info)
    st.log[#st.log + 1] = "F" .. tag
    if info:parameter() ~= tag then st.desync = st.desync or "a first pass got another parameter" end
    if f ~= 3 then p:reset() end
    if f == 4 then
      local ok, e = pcall(st.iso.integer, st.iso, 1)
      if ok or not tostring(e):find("cannot 'integer' now (not allowed in a first-pass weak "
                                    .. "callback)", 1, true) then
        st.desync = st.desync or ("an allocation in a first pass: %s"):format(tostring(e))
      end
    end
    if f == 1 or f == 4 then
      info:set_second_pass_callback(function() st.log[#st.log + 1] = "S" .. tag end)
    end
  end
end

function RUN.pweak2(st, op)
  local p, mp, cls = pers(st, op.p)
  if not p then return end
  local ok, err = pcall(p.set_weak, p, { first_pass = real_first_pass(st, mp.tag, op.f, p),
                                         parameter = mp.tag })
  local _
  if not cls then _, cls = st.m:set_weak(mp, nil, op.f) end
  return expect("set_weak", cls, ok, err)
end

function RUN.post(st)
  st.ntasks = st.ntasks + 1
  local n = st.ntasks
  local ok, err = pcall(st.iso.post_task, st.iso, function() st.log[#st.log + 1] = "T" .. n end)
  if not ok then return "post_task failed: " .. tostring(err) end
  st.m.tasks[#st.m.tasks + 1] = { task = n }
end

function RUN.tasks(st)
  local ok, r = pcall(st.iso.run_tasks, st.iso)
  if not ok then return "run_tasks failed: " .. tostring(r) end
  local n = st.m:run_tasks()
  if r ~= n then return ("run_tasks ran %s, model %d"):format(tostring(r), n) end
end

function RUN.check(st) return check_all(st) end

-- Runs 'prog' (or its first 'limit' steps); nil, or the failing step and why.
-- After dispose every use is refused with the message of its handle type; closing
-- a scope and disposing again are harmless. Returns the call and the message.
local function after_dispose(st, op)
  local iso = st.iso
  local function self_msg(name, what) return ("bad argument #1 to '%s' (%s)"):format(name, what) end
  local ISO, LOC = "isolate is disposed", "handle of a disposed isolate"
  local h, ha, hb = st.L[op.l or 0], st.L[op.a or 0], st.L[op.b or 0]
  local p, w, r, s = st.P[op.p or 0], st.W[op.w or 0], st.R[op.r or 0], st.S[op.s or 0]
  local t = op.op
  if t == "open" then
    local name = op.kind == "handle" and "handle_scope" or op.kind == "escapable"
      and "escapable_handle_scope" or "seal_handle_scope"
    return function() return iso[name](iso) end, self_msg(name, ISO)
  elseif t == "close" and s then return function() return s:close() end, nil
  elseif t == "dispose" then return function() return iso:dispose() end, nil
  elseif t == "escape" and s then
    return function() return s:escape(nil) end, self_msg("escape", "scope of a disposed isolate")
  elseif t == "int" or t == "num" or t == "str" or t == "arr" then
    local name = ({ int = "integer", num = "number", str = "string", arr = "array" })[t]
    return function() return iso[name](iso, op.v or op.n) end, self_msg(name, ISO)
  elseif (t == "set" or t == "get") and ha then
    return function() return ha[t](ha, 1, nil) end, self_msg(t, LOC)
  elseif t == "read" and h then return function() return h:kind() end, self_msg("kind", LOC)
  elseif t == "eq" and ha and hb and not rawequal(ha, hb) then
    return function() return ha == hb end, self_msg("__eq", LOC)
  elseif t == "pnew" then return function() return iso:persistent() end, self_msg("persistent", ISO)
  elseif t == "rnew" then return function() return iso:reference(nil, 1) end, self_msg("reference", ISO)
  elseif t == "probe" then return function() return iso:probe(nil) end, self_msg("probe", ISO)
  elseif t == "eternal" then return function() return iso:eternal(nil) end, self_msg("eternal", ISO)
  elseif t == "eget" then return function() return iso:eternal_get(1) end, self_msg("eternal_get", ISO)
  elseif t == "gc" then return function() return iso:collect(op.kind) end, self_msg("collect", ISO)
  elseif t == "smi" or t == "obj" or t == "root" or t == "tasks" then
    local name = ({ smi = "smi", obj = "object", root = "undefined", tasks = "run_tasks" })[t]
    return function() return iso[name](iso, 1) end, self_msg(name, ISO)
  elseif t == "call" then return function() return iso:call(nil) end, self_msg("call", ISO)
  elseif (t == "oset" or t == "oget" or t == "okeys") and st.L[op.o] then
    local o = st.L[op.o]
    local name = ({ oset = "set", oget = "get", okeys = "keys" })[t]
    return function() return o[name](o, "k") end, self_msg(name, LOC)
  elseif t == "bad" then return function() return iso:integer("x") end, self_msg("integer", ISO)
  elseif p and t:match("^p") then
    local name = ({ preset = "reset", pget = "get", pweak = "set_weak", pclear = "clear_weak",
                    pdelete = "delete", pempty = "is_empty", pweak2 = "set_weak" })[t]
    return function() return p[name](p) end, self_msg(name, LOC)
  elseif w and t:match("^w") then
    local name = ({ wget = "get", walive = "alive", wdelete = "delete" })[t]
    return function() return w[name](w) end, self_msg(name, "probe of a disposed isolate")
  elseif r and t:match("^r") then
    local name = ({ rref = "ref", runref = "unref", rget = "get", rdelete = "delete" })[t]
    return function() return r[name](r) end, self_msg(name, "reference of a disposed isolate")
  end
  return nil
end

function RUN.dispose(st)
  local ok, err = pcall(st.iso.dispose, st.iso)
  if not ok then return "dispose failed: " .. tostring(err) end
  if not st.iso:is_disposed() then return "is_disposed() is false after dispose" end
  st.disposed = true
end

local function run_disposed(st, op)
  local f, msg = after_dispose(st, op)
  if not f then return nil end
  local ok, err = pcall(f)
  if msg == nil then
    if not ok then return ("'%s' after dispose: %s"):format(op.op, tostring(err)) end
    return nil
  end
  if ok then return ("'%s' after dispose succeeded; expected %q"):format(op.op, msg) end
  if (tostring(err):gsub("^[^%s:]+:%d+: ", "", 1)) ~= msg then
    return ("'%s' after dispose: expected %q, got %q"):format(op.op, msg, tostring(err))
  end
end

local function run(prog, limit)
  local st = new_state(prog)
  local n = limit or #prog.ops
  for i = 1, n do
    local op = prog.ops[i]
    if st.disposed then
      local d = run_disposed(st, op)
      if d then
        pcall(dispose, st)
        return i, d
      end
      goto continue
    end
    local ok, d = pcall(RUN[op.op], st, op)
    if not ok then d = "driver error: " .. tostring(d) end
    if not d and st.disposed then goto continue end       -- the dispose step
    if not d and st.desync then d = st.desync end
    if not d and st.nevent ~= #st.events then
      d = ("%d collection points the model did not replay"):format(#st.events - st.nevent)
    end
    if not d and #st.cb_allocs > 0 then
      d = ("%d allocations of callbacks the model did not replay"):format(#st.cb_allocs)
    end
    st.cb_allocs = {}
    st.events, st.nevent = {}, 0
    if not d then
      local okh, h = pcall(st.iso.number_of_handles, st.iso)
      if okh and h ~= st.m:handles() then
        d = ("number_of_handles %d, model %d"):format(h, st.m:handles())
      elseif not okh then
        d = "number_of_handles: " .. tostring(h)
      end
    end
    d = d or check_log(st)
    if not st.disposed and st.iso:is_disposed() then
      -- a finalizer (fin_dispose) disposed it during this step: the step may have
      -- failed anywhere with "disposed"; what is checked is that nothing crashed
      -- and that every later use is refused (run_disposed)
      st.disposed, d = true, nil
      TOTALS.fin = TOTALS.fin + 1
    end
    if d then
      pcall(dispose, st)
      return i, d
    end
    ::continue::
  end
  local d
  if not st.disposed then
    local okc, r = pcall(check_all, st)
    if okc then d = r
    elseif not st.iso:is_disposed() then d = "check: " .. tostring(r) end
  end
  TOTALS.objects = TOTALS.objects + st.m.nobjects
  TOTALS.minor, TOTALS.major = TOTALS.minor + st.m.minor, TOTALS.major + st.m.major
  TOTALS.callbacks = TOTALS.callbacks + #st.m.callback_log
  pcall(dispose, st)
  if d then return n, d end
  return nil
end

-- ------------------------------------------------------------------ shrinking

local function with_ops(prog, ops)
  return { opts = prog.opts, ops = ops, seed = prog.seed, index = prog.index }
end

-- Removes chunks of steps while the program still diverges (any divergence).
local function shrink(prog, step)
  local ops = { table.unpack(prog.ops, 1, step) }
  local chunk = #ops // 2
  while chunk >= 1 do
    local i, removed = 1, false
    while i <= #ops do
      local try = {}
      for j = 1, #ops do
        if j < i or j >= i + chunk then try[#try + 1] = ops[j] end
      end
      local at = run(with_ops(prog, try))
      if at then
        ops = { table.unpack(try, 1, at) }
        removed = true
      else
        i = i + chunk
      end
    end
    if not removed then chunk = chunk // 2 end
  end
  return with_ops(prog, ops)
end

-- ------------------------------------------------------------------ reproducer

local function lref(r)
  if r == -1 then return "F" elseif r == 0 then return "nil" end
  return ("L[%d]"):format(r)
end

local EMIT = {
  open = function(op)
    local f = op.kind == "handle" and "handle_scope" or op.kind == "escapable"
      and "escapable_handle_scope" or "seal_handle_scope"
    return ("S[%d] = opened(try(iso.%s, iso))"):format(op.s, f)
  end,
  close = function(op) return ("try(S[%d].close, S[%d])"):format(op.s, op.s) end,
  close_top = function() return "close_innermost()" end,
  escape = function(op)
    return ("L[%d] = try(S[%d].escape, S[%d], %s)"):format(op.d, op.s, op.s, lref(op.l))
  end,
  int = function(op) return ("L[%d] = new(iso.integer, %d)"):format(op.d, op.v) end,
  num = function(op) return ("L[%d] = new(iso.number, %s)"):format(op.d, string.format("%.17g", op.v)) end,
  str = function(op) return ("L[%d] = new(iso.string, %q)"):format(op.d, op.v) end,
  arr = function(op) return ("L[%d] = new(iso.array, %d)"):format(op.d, op.n) end,
  arr_of = function(op)
    local e = {}
    for i, r in ipairs(op.e) do e[i] = lref(r) end
    return ("L[%d] = T_new(try(iso.array_of, iso%s))"):format(op.d,
      #e > 0 and (", " .. table.concat(e, ", ")) or "")
  end,
  fin_dispose = function() return "setmetatable({}, { __gc = function() iso:dispose() end })" end,
  set = function(op) return ("try(L[%d].set, L[%d], %d, %s)"):format(op.a, op.a, op.i, lref(op.v)) end,
  get = function(op) return ("L[%d] = try(L[%d].get, L[%d], %d)"):format(op.d, op.a, op.a, op.i) end,
  read = function(op) return ("show(%s)"):format(lref(op.l)) end,
  eq = function(op) return ("print(pcall(function() return %s == %s end))"):format(lref(op.a), lref(op.b)) end,
  pnew = function(op) return ("P[%d] = try(iso.persistent, iso, %s)"):format(op.p, lref(op.l)) end,
  preset = function(op) return ("try(P[%d].reset, P[%d], %s)"):format(op.p, op.p, lref(op.l)) end,
  pget = function(op) return ("L[%d] = try(P[%d].get, P[%d])"):format(op.d, op.p, op.p) end,
  pweak = function(op)
    local body = ({ "", " local s = iso:handle_scope(); p:reset(T_new(iso:integer(0))); s:close()",
                    " iso:collect('minor')", (" pcall(S[%d].close, S[%d])"):format(op.cs or 0, op.cs or 0),
                    (" pcall(S[%d].close, S[%d]); S[%d] = opened(iso:handle_scope()); T_new(iso:integer(0))")
                      :format(op.cs or 0, op.cs or 0, op.cs or 0),
                    " print(pcall(getmetatable(iso).__gc, iso))" })[op.cb]
    return op.cb ~= 0 and ("try(P[%d].set_weak, P[%d], function(p) print('weak callback of P[%d]')%s end)")
      :format(op.p, op.p, op.p, body) or ("try(P[%d].set_weak, P[%d])"):format(op.p, op.p)
  end,
  pclear = function(op) return ("try(P[%d].clear_weak, P[%d])"):format(op.p, op.p) end,
  pdelete = function(op) return ("try(P[%d].delete, P[%d])"):format(op.p, op.p) end,
  rnew = function(op) return ("R[%d] = try(iso.reference, iso, %s, %d)"):format(op.r, lref(op.l), op.count) end,
  rref = function(op) return ("print(try(R[%d].ref, R[%d]))"):format(op.r, op.r) end,
  runref = function(op) return ("print(try(R[%d].unref, R[%d]))"):format(op.r, op.r) end,
  rget = function(op) return ("L[%d] = try(R[%d].get, R[%d])"):format(op.d, op.r, op.r) end,
  rdelete = function(op) return ("try(R[%d].delete, R[%d])"):format(op.r, op.r) end,
  pempty = function(op) return ("print(try(P[%d].is_empty, P[%d]))"):format(op.p, op.p) end,
  eternal = function(op) return ("try(iso.eternal, iso, %s)"):format(lref(op.l)) end,
  eget = function(op) return ("L[%d] = try(iso.eternal_get, iso, %d)"):format(op.d, op.i) end,
  probe = function(op) return ("W[%d] = try(iso.probe, iso, %s)"):format(op.w, lref(op.l)) end,
  wget = function(op) return ("L[%d] = try(W[%d].get, W[%d])"):format(op.d, op.w, op.w) end,
  walive = function(op) return ("print(try(W[%d].alive, W[%d]))"):format(op.w, op.w) end,
  wdelete = function(op) return ("try(W[%d].delete, W[%d])"):format(op.w, op.w) end,
  gc = function(op) return ("collect(%q)"):format(op.kind) end,
  bad = function(op) return ("try(function() return %s end)"):format(({
    'iso:integer("x")', "iso:integer(1.5)", "iso:array(-1)", 'iso:number("x")',
    "iso:string(5)", 'iso:collect("medium")' })[op.k]) end,
  check = function() return "report()" end,
  smi = function(op) return ("L[%d] = try(iso.smi, iso, %d)"):format(op.d, op.v) end,
  root = function(op)
    return ("L[%d] = try(iso.%s, iso, %s)"):format(op.d, ({ "undefined", "null", "boolean", "boolean" })[op.k],
      ({ "nil", "nil", "true", "false" })[op.k])
  end,
  obj = function(op) return ("L[%d] = new(iso.object, %d)"):format(op.d, op.n) end,
  oset = function(op) return ("try(L[%d].set, L[%d], %q, %s)"):format(op.o, op.o, op.k, lref(op.v)) end,
  oget = function(op) return ("L[%d] = try(L[%d].get, L[%d], %q)"):format(op.d, op.o, op.o, op.k) end,
  ohas = function(op) return ("print(try(L[%d].has, L[%d], %q))"):format(op.o, op.o, op.k) end,
  odel = function(op) return ("try(L[%d].delete, L[%d], %q)"):format(op.o, op.o, op.k) end,
  okeys = function(op) return ("print(table.concat(try(L[%d].keys, L[%d]) or {}, ','))"):format(op.o, op.o) end,
  fset = function(op)
    return ("try(L[%d].set_internal_field, L[%d], %d, %s)"):format(op.o, op.o, op.i, lref(op.v))
  end,
  fget = function(op)
    return ("L[%d] = try(L[%d].get_internal_field, L[%d], %d)"):format(op.d, op.o, op.o, op.i)
  end,
  fptr = function(op) return ("try(L[%d].set_aligned_pointer, L[%d], %d, NB)"):format(op.o, op.o, op.i) end,
  ext = function(op) return ("L[%d] = new(iso.external, NB)"):format(op.d) end,
  func = function(op)
    return ("L[%d] = T_new(try(iso.func, iso, BODY[%d], %s))"):format(op.d, op.body, lref(op.data))
  end,
  call = function(op)
    local a = {}
    for i, r in ipairs(op.a) do a[i] = lref(r) end
    return ("L[%d] = try(iso.call, iso, L[%d], %s%s)"):format(op.d, op.f, lref(op.recv),
      #a > 0 and (", " .. table.concat(a, ", ")) or "")
  end,
  pweak2 = function(op)
    return ("try(P[%d].set_weak, P[%d], FIRST(P[%d], %d))"):format(op.p, op.p, op.p, op.f)
  end,
  post = function() return "try(iso.post_task, iso, function() print('task') end)" end,
  tasks = function() return "print('tasks run', try(iso.run_tasks, iso))" end,
  dispose = function() return "iso:dispose()" end,
}

local function opts_source(o)
  local keys = {}
  for k in pairs(o) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = ("%s = %s"):format(k, fmt(o[k])) end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local function reproducer(prog, why)
  local out = {
    ("-- scopelab fuzz reproducer: seed %d, program %d, %d steps"):format(prog.seed,
      prog.index, #prog.ops),
    "-- divergence at the last step: " .. why:gsub("\n", " "),
    "-- run from the repository root: lua5.4 this.lua",
    "package.path = './lua/?.lua;./lua/?/init.lua;' .. package.path",
    "package.cpath = './build/?.so;' .. package.cpath",
    "local scopelab = require 'scopelab'",
    "local iso = scopelab.isolate(" .. opts_source(prog.opts) .. ")",
    "local other = scopelab.isolate()",
    "local other_scope = other:handle_scope()",
    "local F = other:integer(7)",
    "-- an empty register reads as a value whose methods are nil (the fuzzer skipped those steps)",
    "local NIL = setmetatable({}, { __index = function() return nil end })",
    "local function regs() return setmetatable({}, { __index = function() return NIL end }) end",
    "local L, S, P, W, T, R = regs(), regs(), regs(), regs(), {}, regs()",
    "local function try(f, ...) if f == nil then print('skipped: an empty register') return nil end",
    "  local r = table.pack(pcall(f, ...))",
    "  if not r[1] then print('error: ' .. tostring(r[2])) return nil end",
    "  return table.unpack(r, 2, r.n) end",
    "local function new(f, v) local h = try(f, iso, v)",
    "  if h then T[#T + 1] = iso:probe(h) end return h end",
    "local function T_new(h) if h then T[#T + 1] = iso:probe(h) end return h end",
    "-- every scope the program opened, also those whose register was reused: the fuzzer",
    "-- closes the innermost open one, wherever it is kept",
    "local OPENED = {}",
    "local function opened(s) if s then OPENED[#OPENED + 1] = s end return s end",
    "local function close_innermost() if iso:is_disposed() then return end local r = iso:handle_report()",
    "  for _, s in ipairs(OPENED) do if s:is_open() and s:depth() == #r then return try(s.close, s) end end end",
    "local function show(h) print(pcall(function() return h:kind(), h:id(), h:generation(),",
    "  h:kind() == 'array' and #h or h:value() end)) end",
    "local function report() for i, w in ipairs(T) do print('object', i, w) end",
    "  print('handles', pcall(iso.number_of_handles, iso)) end",
    "local function collect(k) local ok, r = pcall(iso.collect, iso, k) print(ok and r.kind or r) end",
    "local NB = iso:native_alloc(64, 'fuzz')",
    "local BODY = { [0] = function() end,",
    "  function(info) iso:integer(1) iso:integer(2) info:set_return_value(info:arg(1)) end,",
    "  function(info) info:set_return_value(iso:integer(3)) end,",
    "  function() iso:integer(4) error('fuzz call error', 0) end,",
    "  function(info) pcall(iso.collect, iso, 'minor') info:set_return_value(info:this()) end,",
    "  function() iso:handle_scope() end }",
    "local function FIRST(p, f) return { first_pass = function(info)",
    "  print('first pass', f) if f ~= 3 then p:reset() end",
    "  if f == 4 then print(pcall(iso.integer, iso, 1)) end",
    "  if f == 1 or f == 4 then info:set_second_pass_callback(function() print('second pass') end) end",
    "end } end",
  }
  for _, op in ipairs(prog.ops) do out[#out + 1] = EMIT[op.op](op) end
  out[#out + 1] = "report()"
  return table.concat(out, "\n")
end

-- ------------------------------------------------------------------ main

local function main(argv)
  local ops, seed, runs, length, quiet, stats = 1000000, 1, 1, 2000, false, false
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--ops" then ops = math.tointeger(tonumber(argv[i + 1])); i = i + 1
    elseif a == "--seed" then seed = math.tointeger(tonumber(argv[i + 1])); i = i + 1
    elseif a == "--runs" then runs = math.tointeger(tonumber(argv[i + 1])); i = i + 1
    elseif a == "--program-length" then length = math.tointeger(tonumber(argv[i + 1])); i = i + 1
    elseif a == "--quiet" then quiet = true
    elseif a == "--stats" then stats = true
    elseif a == "--skip" then
      for name in (argv[i + 1] or ""):gmatch("[%w_]+") do SKIP[name] = true end
      i = i + 1
    else
      io.stderr:write("usage: lua5.4 fuzz/fuzz.lua [--ops N] [--seed S] [--runs R] "
        .. "[--program-length K] [--quiet] [--stats] [--skip OP,...]\n")
      return 2
    end
    i = i + 1
  end
  if not (ops and seed and runs and length) or ops < 1 or runs < 1 or length < 1 then
    io.stderr:write("fuzz.lua: --ops, --seed, --runs and --program-length take integers >= 1\n")
    return 2
  end
  local t0, done, programs = os.clock(), 0, 0
  local per_run = ops // runs
  for r = 0, runs - 1 do
    local s = seed + r
    local budget = r == runs - 1 and ops - per_run * (runs - 1) or per_run
    local index = 0
    while budget > 0 do
      index = index + 1
      local prog = gen_program(s, index, math.min(length, budget))
      local at, why = run(prog)
      if at then
        print(("DIVERGENCE seed %d program %d step %d: %s"):format(s, index, at, why))
        local small = shrink(prog, at)
        local _, why2 = run(small)
        print(("shrunk to %d steps: %s"):format(#small.ops, why2 or why))
        print("---- reproducer ----")
        print(reproducer(small, why2 or why))
        print("---- end ----")
        return 1
      end
      budget = budget - #prog.ops
      done = done + #prog.ops
      programs = programs + 1
    end
    if not quiet then
      print(("seed %d: %d operations in %d programs, no divergence (%.1f s)"):format(s,
        r == runs - 1 and ops - per_run * (runs - 1) or per_run, index, os.clock() - t0))
    end
  end
  if stats then
    local names = {}
    for k in pairs(COUNT) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      local why = {}
      for cls, n in pairs(COUNT[k]) do
        if type(cls) == "string" then why[#why + 1] = cls .. " " .. n end
      end
      table.sort(why)
      print(("  %-24s %8d ok %8d expected errors  %s"):format(k, COUNT[k][1], COUNT[k][2],
        table.concat(why, ", ")))
    end
  end
  print(("fuzz: %d objects, %d minor and %d major collections, %d weak callbacks, %d isolates "
    .. "disposed by a finalizer mid-step"):format(TOTALS.objects, TOTALS.minor, TOTALS.major,
    TOTALS.callbacks, TOTALS.fin))
  print(("fuzz: %d operations, %d programs, seeds %d..%d, 0 divergences, %.1f s"):format(done,
    programs, seed, seed + runs - 1, os.clock() - t0))
  return 0
end

os.exit(main(arg), true)
