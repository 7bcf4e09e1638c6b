-- SPDX-License-Identifier: MIT
-- First-pass weak callbacks only reset, read and free; the handle must be reset; second passes may do anything
-- luacheck: read globals claim
local scopelab = require "scopelab"
local REFUSED = "not allowed in a first-pass weak callback"

-- V8's rules (include/v8-weak-callback-info.h, src/handles/global-handles.cc):
--
-- static void FirstPass(const WeakCallbackInfo<Wrap>& data) {
--   // runs inside the collection: "No other V8 API calls may be called in the first
--   // callback", only Reset() of the handle (which it must do) and native clean-up
--   data.GetParameter()->handle_.Reset();
--   data.SetSecondPassCallback(SecondPass);
-- }
-- static void SecondPass(const WeakCallbackInfo<Wrap>& data) {   // after the collection:
--   delete data.GetParameter();                                  // the whole API again
-- }
--
-- and after each first pass GlobalHandles checks the node was freed:
--   CHECK_WITH_MSG(node->IsFreed(), "Handle not reset in first callback. See comments on |v8::WeakCallbackInfo|.");
--
-- gc_interval = 0: each collection below is the one the script asks for (or the one its
-- allocations cause), also under `scopelab run --stress`.
local iso <close> = scopelab.isolate { gc_interval = 0, young_size = 16 * 1024 }
local outer <close> = iso:handle_scope()

-- What the callbacks reach: a Local of an enclosing scope, another persistent, native
-- memory and an eternal.
local config = iso:string("config")
local cache = iso:persistent(iso:integer(7))
local scratch = iso:native_alloc(4096, "scratch")
local name = iso:eternal(iso:string("name"))

-- A wrapper that dies as soon as its scope closes, made weak with 'first_pass'.
local function dying_wrapper(first_pass, parameter)
  local scope <close> = iso:handle_scope()
  local handle = iso:persistent(iso:object())
  handle:set_weak { first_pass = first_pass, parameter = parameter, type = "parameter" }
  return handle
end

-- 1. Inside a first pass: every operation tried, its outcome kept, printed afterwards.
local tried = {}
local function try(what, allowed, fn)
  local ok, err = pcall(fn)
  tried[#tried + 1] = { what = what, allowed = allowed, ok = ok, err = err }
end
local second = { ran = false }
local handle
handle = dying_wrapper(function(info)
  -- refused: whatever allocates, creates a handle or a persistent, opens a scope or collects
  try("iso:integer(1)  (allocates)", false, function() return iso:integer(1) end)
  try("iso:object()  (allocates)", false, function() return iso:object() end)
  try("iso:smi(1)  (a handle, no allocation)", false, function() return iso:smi(1) end)
  try("cache:get()  (a handle)", false, function() return cache:get() end)
  try("iso:persistent(config)", false, function() return iso:persistent(config) end)
  try("iso:handle_scope()", false, function() return iso:handle_scope() end)
  try("iso:collect(\"minor\")", false, function() return iso:collect("minor") end)
  -- allowed: reading, resetting, native memory, accounting
  try("info:parameter()", true, function() assert(info:parameter() == "wrap #1") end)
  try("config:value()  (a Local of an open scope)", true, function() assert(config:value() == "config") end)
  try("iso:eternal_get(name):value()", true, function() assert(iso:eternal_get(name):value() == "name") end)
  try("cache:reset()  (another persistent)", true, function() cache:reset() end)
  try("handle:reset()  (its own: required)", true, function() handle:reset() end)
  try("scratch:free()  (native memory)", true, function() scratch:free() end)
  try("iso:adjust_external_memory(-4096)", true, function() iso:adjust_external_memory(-4096) end)
  try("info:set_second_pass_callback(g)", true, function()
    info:set_second_pass_callback(function()
      -- the second pass: a scope, allocations, handles, a persistent, even a collection
      local scope <close> = iso:handle_scope()
      local o = iso:object()
      o:set("n", iso:integer(42))
      local p = iso:persistent(o)
      second.value = p:get():get("n"):value()
      p:reset()
      second.gc = iso:collect("minor").kind
      second.ran = true
    end)
  end)
end, "wrap #1")

local gc = iso:collect("major")
print(("a forced major collection ran %d first pass(es); inside it:"):format(gc.first_passes_run or -1))
for _, t in ipairs(tried) do
  print(("  %-44s %s"):format(t.what, t.ok and "allowed" or ("refused: " .. tostring(t.err))))
end
for _, t in ipairs(tried) do
  if t.allowed then
    claim(t.ok, t.what .. " is allowed in a first pass")
  else
    claim(not t.ok and tostring(t.err):find(REFUSED, 1, true) ~= nil,
      t.what .. " raises \"" .. REFUSED .. "\"")
  end
end
print(("the second pass ran right after the forced collection: %s (it read %s, then collected: %s)")
  :format(tostring(second.ran), tostring(second.value), tostring(second.gc)))
claim(second.ran, "the second pass runs right after a forced collection")
claim.equal(42, second.value, "and may allocate, make handles and persistents")
claim.equal("minor", second.gc, "and even collect")
claim(handle:is_empty() and cache:is_empty() and scratch:is_freed(), "what the first pass reset and freed stays so")
claim.equal(-4096, iso:stats().external_memory, "and its adjust_external_memory counted")

-- 2. A first pass that forgets to reset its handle.
local forgetful = dying_wrapper(function() end)
local err = claim.raises(function() iso:collect("major") end, "Handle not reset in first callback",
  "a first pass that leaves its handle set fails the collection")
print("collect with a forgetful first pass: " .. tostring(err))
claim(forgetful:is_empty(), "the engine reset the handle itself")
do
  local scope <close> = iso:handle_scope()
  claim.equal(5, iso:integer(5):value(), "and the isolate goes on working")
end
iso:verify()

-- 3. A collection that an allocation starts queues the second pass as a task: it waits
-- for the event loop (iso:run_tasks), or for the next forced collection.
local function wrapper_with_second_pass(log)
  local h
  h = dying_wrapper(function(info)
    h:reset()
    log.first = true
    info:set_second_pass_callback(function() log.second = true end)
  end)
  return h
end
local function fill_young_space()                     -- allocate until a scavenge runs
  local minors = iso:stats().minor_collections
  repeat
    local scope <close> = iso:handle_scope()
    iso:array(16)
  until iso:stats().minor_collections > minors
end

local a = {}
wrapper_with_second_pass(a)
fill_young_space()
local pending = iso:stats().pending_tasks
print(("after an allocation-triggered scavenge: first pass %s, second pass %s, %d task(s) pending"):format(
  a.first and "ran" or "not run", a.second and "ran" or "not run", pending))
claim(a.first and not a.second, "the allocation's collection ran the first pass only")
claim.equal(1, pending, "its second pass waits in the task queue")
local ran = iso:run_tasks()
print(("iso:run_tasks() ran %s task(s): second pass %s"):format(tostring(ran), a.second and "ran" or "not run"))
claim(a.second, "iso:run_tasks runs it, as the event loop would")
claim.equal(0, iso:stats().pending_tasks, "and the queue is empty again")

local b = {}
wrapper_with_second_pass(b)
fill_young_space()
claim.equal(1, iso:stats().pending_tasks, "another second pass is queued")
iso:collect("minor")
claim(b.second, "a forced collection runs the second passes earlier collections queued")
claim.equal(0, iso:stats().pending_tasks, "leaving none behind")
iso:verify()
