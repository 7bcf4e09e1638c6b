-- SPDX-License-Identifier: MIT
--- scopelab.assert: luassert extensions for handles, for specs and experiments.
--
--   local assert = require "scopelab.assert"   -- luassert, extended
--   assert.alive(x)            assert.is_not.alive(x)
--   assert.collected(x)        assert.moved(probe)   assert.moved(h, address_before)
--   assert.stale(h)            assert.empty(p)       assert.handles(iso, 3)
--
-- x may be a Local, a persistent handle (a Global, a Reference) or a probe.
-- "alive" and "collected" are about the object, never the handle: they ask the
-- heap whether the object x holds (or last held) is still there.
--   probe       the probe's own record: alive until a collection finds it dead.
--   Local,      the identity of the object the handle was made for (or, for a
--   persistent  persistent, last held: reset(nil), clearing and delete keep it),
--               looked up in the heap (a heap walk). A Local whose scope closed
--               is collected only once a collection has freed its object.
-- The state of the handle itself has its own names:
--   stale       a Local whose scope closed (or whose isolate was disposed).
--   empty       a persistent that holds no object (reset, cleared, or never set).
--
-- The predicates are also exported as `.inspect` (inspect.alive(x) -> boolean,
-- inspect.state(x), inspect.describe(x), ...) so the experiment runner
-- counts claims with the same rules; luassert is Debian's (lua-busted) and loads
-- under plain lua5.4, so this module works outside busted too.

local luassert = require "luassert"
local say = require "say"

local M = {}

-- The kind of handle x is, from the binding's metatable name when it has one,
-- else from the methods it answers to (so fakes and future handle types work).
local function method(x, name)
  local ok, f = pcall(function() return x[name] end)
  return ok and type(f) == "function" and f or nil
end

function M.kind(x)
  local t = type(x)
  if t ~= "userdata" and t ~= "table" then return nil end
  local mt = getmetatable(x)
  local name = type(mt) == "table" and rawget(mt, "__name") or nil
  if name == "scopelab.Probe" then return "probe" end
  if name == "scopelab.Local" then return "local" end
  if name == "scopelab.Persistent" or name == "scopelab.Global" then return "persistent" end
  if method(x, "alive") and method(x, "moves") then return "probe" end
  if method(x, "is_empty") then return "persistent" end
  if method(x, "kind") and method(x, "address") then return "local" end
  return nil
end

local function expect_handle(x, fname, level)
  local k = M.kind(x)
  if not k then
    error(string.format("bad argument #1 to '%s' (Local, persistent or probe expected, got %s)",
      fname, type(x)), (level or 2) + 1)
  end
  return k
end

--- Whether the object of x is still in the heap: "alive" or "collected", or
-- "stale" with a reason when nothing can be asked (a probe whose isolate is
-- gone, a handle that never held an object, a fake without 'in_heap').
function M.state(x)
  local k = expect_handle(x, "state")
  if k == "probe" then
    local ok, alive = pcall(x.alive, x)
    if not ok then return "stale", tostring(alive) end
    return alive and "alive" or "collected"
  end
  local in_heap = method(x, "in_heap")
  if not in_heap then return "stale", "it cannot tell its object's identity (no 'in_heap')" end
  local ok, r = pcall(in_heap, x)
  if not ok then return "stale", tostring(r) end
  if r == nil then return "stale", "it never held an object" end
  return r and "alive" or "collected"
end

function M.is_alive(x) return (M.state(x)) == "alive" end
function M.is_collected(x) return (M.state(x)) == "collected" end

--- The handle's own state: a Local whose scope closed (or isolate was disposed)
-- is stale; a persistent that holds no object is empty.
function M.is_stale(x)
  if expect_handle(x, "stale") ~= "local" then return false end
  local ok = pcall(x.kind, x)
  return not ok
end

function M.is_empty(x)
  if expect_handle(x, "empty") ~= "persistent" then return false end
  local ok, empty = pcall(x.is_empty, x)
  return not ok or empty
end

-- The current address of x, or nil when it has none (dead, empty, stale).
function M.address(x)
  local k = M.kind(x)
  if k == "probe" or k == "local" then
    local ok, a = pcall(x.address, x)
    return ok and a or nil
  elseif k == "persistent" then
    local ok, a = pcall(function() local h = x:get(); return h and h:address() end)
    return ok and a or nil
  end
  return nil
end

--- True when x moved: since 'before' (an address) when given, else (probes
-- only) at least once since the probe was made.
function M.has_moved(x, before)
  local k = expect_handle(x, "moved")
  if before ~= nil then
    if math.type(before) == nil then
      error(string.format("bad argument #2 to 'moved' (address expected, got %s)", type(before)), 2)
    end
    local now = M.address(x)
    return now ~= nil and now ~= before
  end
  if k ~= "probe" then
    error("bad argument #2 to 'moved' (address before expected: only a probe remembers its moves)", 2)
  end
  local ok, moves = pcall(x.moves, x)
  return ok and moves > 0
end

--- A readable one-line description of a handle, for failure messages.
function M.describe(x)
  local k = M.kind(x)
  if not k then return nil end
  local ok, s = pcall(tostring, x)
  s = ok and s or ("scopelab " .. k)
  local st, why = M.state(x)
  local parts = { s, " [" .. k .. ", " .. st }
  if k == "probe" and st ~= "stale" then
    local okm, moves = pcall(x.moves, x)
    if okm then parts[#parts + 1] = ", moves " .. tostring(moves) end
  end
  local addr = M.address(x)
  if addr then parts[#parts + 1] = string.format(", address 0x%x", addr) end
  parts[#parts + 1] = "]"
  if why then parts[#parts + 1] = " (" .. why .. ")" end
  return table.concat(parts)
end

local function handle_formatter(x)
  if M.kind(x) then return M.describe(x) end
  return nil
end
luassert:add_formatter(handle_formatter)
M.formatter = handle_formatter

-- Messages are labelled blocks, like luassert's own.
say:set("assertion.alive.positive", "Expected object to be alive.\nObject:\n%s")
say:set("assertion.alive.negative", "Expected object not to be alive.\nObject:\n%s")
say:set("assertion.collected.positive", "Expected object to be collected.\nObject:\n%s")
say:set("assertion.collected.negative", "Expected object not to be collected.\nObject:\n%s")
say:set("assertion.stale.positive", "Expected handle to be stale (its scope closed).\nHandle:\n%s")
say:set("assertion.stale.negative", "Expected handle not to be stale.\nHandle:\n%s")
say:set("assertion.empty.positive", "Expected handle to be empty.\nHandle:\n%s")
say:set("assertion.empty.negative", "Expected handle not to be empty.\nHandle:\n%s")
say:set("assertion.moved.positive", "Expected object to have moved.\nObject:\n%s\nAddress before:\n%s")
say:set("assertion.moved.negative", "Expected object not to have moved.\nObject:\n%s\nAddress before:\n%s")
say:set("assertion.handles.positive",
  "Expected number of handles to be:\n%s\nPassed in (isolate):\n%s\nActual number of handles:\n%s")
say:set("assertion.handles.negative",
  "Expected number of handles not to be:\n%s\nPassed in (isolate):\n%s\nActual number of handles:\n%s")

-- A custom message, as luassert's own assertions take one (`assert.alive(w,
-- "msg")`): luassert prints it above the assertion's own message on failure.
local function set_failure_message(state, message)
  if message ~= nil then state.failure_message = message end
end

-- assert.alive and assert.collected differ only in their name and predicate.
-- assert.alive(x [, message])
local function state_assertion(name, predicate)
  return function(state, args, level)
    set_failure_message(state, args[2])
    if args.n < 1 then
      error("bad argument #1 to '" .. name .. "' (Local, persistent or probe expected, got no value)",
        (level or 1) + 1)
    end
    expect_handle(args[1], name, (level or 1) + 1)
    args.n = 1
    return predicate(args[1])
  end
end
local alive = state_assertion("alive", M.is_alive)
local collected = state_assertion("collected", M.is_collected)
local stale = state_assertion("stale", M.is_stale)
local empty = state_assertion("empty", M.is_empty)

-- assert.moved(x [, before] [, message]): a string second argument is the
-- message (an address is an integer).
local function moved(state, args, level)
  if args.n < 1 then
    error("bad argument #1 to 'moved' (Local, persistent or probe expected, got no value)", (level or 1) + 1)
  end
  if type(args[2]) == "string" and args.n == 2 then
    args[2], args[3], args.n = nil, args[2], 3
  end
  set_failure_message(state, args[3])
  local before = args[2]
  local ok, r = pcall(M.has_moved, args[1], before)
  if not ok then error(r, (level or 1) + 1) end
  args.n = 2
  args[2] = before and string.format("0x%x", before) or "(none: counting the probe's moves)"
  args.nofmt = { [2] = true }
  return r
end

-- assert.handles(iso, n [, message])
local function handles(state, args, level)
  local iso, n = args[1], args[2]
  set_failure_message(state, args[3])
  local okf, count = pcall(function() return iso:number_of_handles() end)
  if not okf then
    error("bad argument #1 to 'handles' (isolate expected, got " .. type(iso) .. ")", (level or 1) + 1)
  end
  if math.type(n) ~= "integer" then
    error("bad argument #2 to 'handles' (integer expected, got " .. (math.type(n) or type(n)) .. ")", (level or 1) + 1)
  end
  args[1], args[2], args[3], args.n = n, iso, count, 3
  args.nofmt = { [1] = true, [3] = true }
  args[1], args[3] = tostring(n), tostring(count)
  return count == n
end

luassert:register("assertion", "alive", alive, "assertion.alive.positive", "assertion.alive.negative")
luassert:register("assertion", "collected", collected,
  "assertion.collected.positive", "assertion.collected.negative")
luassert:register("assertion", "stale", stale, "assertion.stale.positive", "assertion.stale.negative")
luassert:register("assertion", "empty", empty, "assertion.empty.positive", "assertion.empty.negative")
luassert:register("assertion", "moved", moved, "assertion.moved.positive", "assertion.moved.negative")
luassert:register("assertion", "handles", handles,
  "assertion.handles.positive", "assertion.handles.negative")

-- The module is luassert itself, extended; the predicates live in one field,
-- 'inspect', so that no name shadows luassert's chains ('is_alive' stays the
-- raising assertion).
M.alive, M.collected, M.moved = M.is_alive, M.is_collected, M.has_moved
M.stale, M.empty = M.is_stale, M.is_empty
luassert.inspect = M
return luassert
