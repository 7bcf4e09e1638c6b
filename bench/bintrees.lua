-- SPDX-License-Identifier: MIT
-- bintrees.lua: binary-trees through the scopelab Lua module against plain Lua tables.
--
--   lua5.4 bench/bintrees.lua [--depth N] [--reps R] [--rows FILE] [--only SIDE]
--
-- '--only tables|scopelab|batched' runs one side alone (for a profiler: perf,
-- callgrind); then no ratio.
--
-- Both sides run the Benchmarks Game algorithm (stretch tree of depth N+1, a
-- long-lived tree of depth N, 2^(N-d+4) trees of each depth d = 4, 6, ... N, then
-- the long-lived tree checked again) in this one lua5.4 process, alternating
-- repetition by repetition so drift hits both alike. Each must count the same
-- number of nodes, computed in closed form, or the run stops with an error.
--
-- Two scopelab sides, each printed as its own case with its ratio to the same
-- tables run: 'scope per level' is written the way an addon author would (every
-- recursion level opens a scope, building escapes the new node into the caller's
-- scope, get/set one element per call); 'batched' uses the calls made for this
-- (iso:array_of, a:unpack) and one scope per tree, as an embedder would around a
-- loop body. Both build and walk every node through the module.

local scopelab = require "scopelab"
local clock = require "bench.clock"
local rows = dofile((arg[0]:match("^(.*)/[^/]*$") or ".") .. "/rows.lua")

local MIN_DEPTH = 4

local function parse(argv)
  local o = { depth = 14, reps = 5 }
  local i = 1
  while i <= #argv do
    local a, v = argv[i], argv[i + 1]
    if v == nil then error(("bad argument #%d to 'bintrees.lua' (option '%s' needs a value)"):format(i, a), 0) end
    if a == "--depth" then o.depth = math.tointeger(tonumber(v))
    elseif a == "--reps" then o.reps = math.tointeger(tonumber(v))
    elseif a == "--rows" then o.rows = v
    elseif a == "--only" then o.only = v
    else error(("bad argument #%d to 'bintrees.lua' (unknown option '%s')"):format(i, a), 0) end
    i = i + 2
  end
  assert(o.depth and o.depth >= 0, "bad argument to 'bintrees.lua' (--depth must be an integer)")
  assert(o.reps and o.reps >= 1, "bad argument to 'bintrees.lua' (--reps must be a positive integer)")
  return o
end

local function nodes(d) return (2 << d) - 1 end

local function expected(n)
  local max_depth = math.max(MIN_DEPTH + 2, n)
  local total = nodes(max_depth + 1) + nodes(max_depth)
  for d = MIN_DEPTH, max_depth, 2 do
    total = total + (1 << (max_depth - d + MIN_DEPTH)) * nodes(d)
  end
  return total
end

-- The whole benchmark over one representation; 'make(d)' builds a tree of depth
-- d, 'check(t)' counts its nodes; 'fresh(d)', by default check(make(d)), counts
-- a tree built for it (the stretch tree and each short-lived tree).
local function binary_trees(n, make, check, fresh)
  fresh = fresh or function(d) return check(make(d)) end
  local max_depth = math.max(MIN_DEPTH + 2, n)
  local total = fresh(max_depth + 1)
  local long_lived = make(max_depth)
  for d = MIN_DEPTH, max_depth, 2 do
    for _ = 1, 1 << (max_depth - d + MIN_DEPTH) do
      total = total + fresh(d)
    end
  end
  return total + check(long_lived)
end

local function tables_side(n)
  local function make(d)
    if d == 0 then return {} end
    local l, r = make(d - 1), make(d - 1)
    return { l, r }
  end
  local function check(t)
    local l = t[1]
    if l == nil then return 1 end
    return 1 + check(l) + check(t[2])
  end
  return binary_trees(n, make, check)
end

local function scopelab_side(n)
  local iso <close> = scopelab.isolate { young_size = 4 << 20, old_size = 1 << 30 }
  local function make(d)
    if d == 0 then return iso:array(2) end
    local scope <close> = iso:escapable_handle_scope()
    local l, r = make(d - 1), make(d - 1)
    local node = iso:array(2)
    node:set(1, l)
    node:set(2, r)
    return scope:escape(node)
  end
  local function check(t)
    local scope <close> = iso:handle_scope()
    local l = t:get(1)
    if l == nil then return 1 end
    return 1 + check(l) + check(t:get(2))
  end
  local outer <close> = iso:handle_scope()
  return binary_trees(n, make, check)
end

-- The same trees built and walked with the batch calls (iso:array_of makes a
-- node with its two children in one call, t:unpack reads both in one), and one
-- handle scope per tree instead of one per recursion level: what a V8 embedder
-- writes around a loop body. The handles of a tree live until it is counted.
local function scopelab_batched_side(n)
  local iso <close> = scopelab.isolate { young_size = 4 << 20, old_size = 1 << 30 }
  local function make(d)
    if d == 0 then return iso:array_of(nil, nil) end
    return iso:array_of(make(d - 1), make(d - 1))
  end
  local function check(t)
    local l, r = t:unpack()
    if l == nil then return 1 end
    return 1 + check(l) + check(r)
  end
  local function fresh(d)
    local scope <close> = iso:handle_scope()
    return check(make(d))
  end
  local outer <close> = iso:handle_scope()
  return binary_trees(n, make, check, fresh)
end

local opts = parse(arg)
local want = expected(opts.depth)
-- Each scopelab side is its own case of the report, against the same tables run.
local all = {
  { name = "tables", run = tables_side },
  { name = "scopelab", run = scopelab_side, case = "scope per level",
    note = "as an addon author writes it: a scope per recursion level, escape, get/set" },
  { name = "batched", run = scopelab_batched_side, case = "batched",
    note = "iso:array_of and a:unpack, one scope per tree" },
}
local sides = {}
for _, side in ipairs(all) do
  if opts.only == nil or opts.only == side.name then
    side.samples = {}
    table.insert(sides, side)
  end
end
if #sides == 0 then
  error(("bad argument to 'bintrees.lua' (--only must be 'tables', 'scopelab' or 'batched', " ..
    "got '%s')"):format(opts.only), 0)
end

print(("lua-bintrees: binary-trees depth %d in %s, scopelab module against plain tables")
  :format(opts.depth, _VERSION))
for _ = 1, opts.reps do
  for _, side in ipairs(sides) do
    collectgarbage("collect")          -- neither side pays for the other's garbage
    local t0 = clock.now_ns()
    local got = side.run(opts.depth)
    local t1 = clock.now_ns()
    if got ~= want then
      error(("binary-trees %d on %s checked %d nodes, expected %d"):format(opts.depth, side.name,
        got, want), 0)
    end
    table.insert(side.samples, (t1 - t0) / 1e6)
  end
end

local out = opts.rows and assert(io.open(opts.rows, "a"))
local t = sides[1].name == "tables" and rows.summarise(sides[1].samples) or nil
for _, side in ipairs(sides) do
  if side.case then
    local kase = ("depth %d, %s"):format(opts.depth, side.case)
    if t then rows.emit(out, "lua-bintrees", kase, "lua-tables", "ms", t) end
    rows.emit(out, "lua-bintrees", kase, "scopelab", "ms", rows.summarise(side.samples), t,
      ("%s; %d nodes checked; target <= 2x plain tables"):format(side.note, want))
  elseif #sides == 1 then
    rows.emit(out, "lua-bintrees", ("depth %d"):format(opts.depth), "lua-tables", "ms", t)
  end
end
if out then out:close() end
