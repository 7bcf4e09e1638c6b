-- SPDX-License-Identifier: MIT
-- objects.lua: objects and calls (issue 14) through the Lua module, each against
-- what it stands beside, measured in the same run.
--
--   lua5.4 bench/objects.lua [--n N] [--reps R] [--rows FILE]
--
-- Workload "lua-objects", one case per line of the table, each with its comparators:
--
--   property get+set, P props (P = 1, 4, 8): per iteration one o:set(key, v) and one
--     o:get(key') cycling through P string keys, against the same loop over a Lua
--     table's fields (t[key] = v; t[key']) and over an array's elements (a:set(i, v);
--     a:get(i')). The module sides open a scope per 512 iterations, because every
--     get makes a Local.
--   iso:call: a function whose callback does nothing, called with a receiver, against
--     a plain Lua -> C call of the module (iso:number_of_handles()); a scope per 512
--     calls holds the Locals the calls return.
--   object allocation: iso:object() against iso:array(1) (the same size: a header and
--     one slot), a scope per 512 objects.
--
-- The sides run alternately, repetition by repetition, so drift hits them alike; each
-- checks what it read, and a wrong value stops the run with an error. Times are the
-- median over the repetitions, in nanoseconds per operation.

local scopelab = require "scopelab"
local clock = require "bench.clock"
local rows = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/rows.lua")

local BATCH = 512        -- operations per handle scope on the module sides
local PROPS = { 1, 4, 8 }
local KEYS = { "field0", "field1", "field2", "field3", "field4", "field5", "field6", "field7" }

local function parse(argv)
  local o = { n = 1000000, reps = 5 }
  local i = 1
  while i <= #argv do
    local a, v = argv[i], argv[i + 1]
    if v == nil then error(("bad argument #%d to 'objects.lua' (option '%s' needs a value)"):format(i, a), 0) end
    if a == "--n" then o.n = math.tointeger(tonumber(v))
    elseif a == "--reps" then o.reps = math.tointeger(tonumber(v))
    elseif a == "--rows" then o.rows = v
    else error(("bad argument #%d to 'objects.lua' (unknown option '%s')"):format(i, a), 0) end
    i = i + 2
  end
  assert(o.n and o.n >= BATCH, "bad argument to 'objects.lua' (--n must be an integer >= " .. BATCH .. ")")
  assert(o.reps and o.reps >= 1, "bad argument to 'objects.lua' (--reps must be a positive integer)")
  return o
end

-- ------------------------------------------------------------ the loops

-- Each returns a function(n) that runs n operations and returns what it last read,
-- for the check.

local function table_setget(p)
  local t, mask = {}, p - 1
  for i = 1, p do t[KEYS[i]] = 0 end
  return function(n)
    local got
    for i = 0, n - 1 do
      t[KEYS[(i & mask) + 1]] = i
      got = t[KEYS[((i + 1) & mask) + 1]]
    end
    return got
  end
end

-- The module's side of the same loop over 'target' (an array or an object): its
-- elements 1..p or its properties KEYS[1..p], both looked up in a list as the
-- table side looks up its keys.
local INDICES = { 1, 2, 3, 4, 5, 6, 7, 8 }
local function handle_setget(iso, target, keys, p)
  local v, mask = iso:integer(1), p - 1
  for i = 1, p do target:set(keys[i], v) end
  return function(n)
    local got
    for b = 0, n - 1, BATCH do
      local scope <close> = iso:handle_scope()
      for i = b, math.min(b + BATCH, n) - 1 do
        target:set(keys[(i & mask) + 1], v)
        got = target:get(keys[((i + 1) & mask) + 1])
      end
      got = got:value()
    end
    return got
  end
end

local function c_call(iso)
  return function(n)
    local got
    for b = 0, n - 1, BATCH do
      local scope <close> = iso:handle_scope()
      for _ = b, math.min(b + BATCH, n) - 1 do got = iso:number_of_handles() end
    end
    return got - iso:number_of_handles()         -- the batch scope held nothing
  end
end

local function api_call(iso)
  local fn = iso:func(function() end, nil, "nothing")
  local recv = iso:object()
  return function(n)
    local got
    for b = 0, n - 1, BATCH do
      local scope <close> = iso:handle_scope()
      for _ = b, math.min(b + BATCH, n) - 1 do got = iso:call(fn, recv) end
      got = got:kind()
    end
    return got
  end
end

local function allocate(iso, make)
  return function(n)
    local got
    for b = 0, n - 1, BATCH do
      local scope <close> = iso:handle_scope()
      for _ = b, math.min(b + BATCH, n) - 1 do got = make() end
      got = got:kind()
    end
    return got
  end
end

-- ------------------------------------------------------------ running

local opts = parse(arg)
local iso <close> = scopelab.isolate()
local outer <close> = iso:handle_scope()

-- Every case: its sides (the scopelab side last), how many operations, what each must read.
local cases = {}
for _, p in ipairs(PROPS) do
  cases[#cases + 1] = {
    name = ("property get+set, %d prop%s"):format(p, p == 1 and "" or "s"), unit = "ns/pair",
    note = "o:set(key, v) + o:get(key'), string keys, a scope per 512",
    sides = {
      { impl = "lua-table", run = table_setget(p), want = opts.n - p },  -- stored p iterations before
      { impl = "array", run = handle_setget(iso, iso:array(p), INDICES, p), want = 1 },
      { impl = "scopelab", run = handle_setget(iso, iso:object(), KEYS, p), want = 1 },
    },
  }
end
cases[#cases + 1] = {
  name = "iso:call (per call)", unit = "ns/call",
  note = "iso:call(fn, recv) of a callback that does nothing: implicit scope, info, result Local",
  sides = {
    { impl = "lua-c-call", run = c_call(iso), want = 0 },
    { impl = "scopelab", run = api_call(iso), want = "undefined" },
  },
}
cases[#cases + 1] = {
  name = "object allocation", unit = "ns/object",
  note = "iso:object(), a scope per 512",
  sides = {
    { impl = "array(1)", run = allocate(iso, function() return iso:array(1) end), want = "array" },
    { impl = "scopelab", run = allocate(iso, function() return iso:object() end), want = "object" },
  },
}

print(("lua-objects: objects and calls through the scopelab module in %s, %d operations per side")
  :format(_VERSION, opts.n))
for _, c in ipairs(cases) do
  for _, side in ipairs(c.sides) do side.samples = {} end
end
for _ = 1, opts.reps do
  for _, c in ipairs(cases) do
    for _, side in ipairs(c.sides) do
      collectgarbage("collect")
      local t0 = clock.now_ns()
      local got = side.run(opts.n)
      local t1 = clock.now_ns()
      if got ~= side.want then
        error(("%s on %s read %s, expected %s"):format(c.name, side.impl, tostring(got),
          tostring(side.want)), 0)
      end
      table.insert(side.samples, (t1 - t0) / opts.n)
    end
  end
end

local out = opts.rows and assert(io.open(opts.rows, "a"))
for _, c in ipairs(cases) do
  local base = rows.summarise(c.sides[1].samples)
  for i, side in ipairs(c.sides) do
    rows.emit(out, "lua-objects", c.name, side.impl, c.unit, rows.summarise(side.samples),
      i > 1 and base or nil, side.impl == "scopelab" and c.note or nil)
  end
end
if out then out:close() end
