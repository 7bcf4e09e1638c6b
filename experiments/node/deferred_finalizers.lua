-- SPDX-License-Identifier: MIT
-- Wrap finalizers wait for the loop: a JS loop that never yields keeps the native memory of dead wrappers
-- luacheck: read globals claim recorder
--
-- Reproduces node-addon-api #1140 (https://github.com/nodejs/node-addon-api/issues/1140),
-- "unbounded memory usage in unyielding JS jobs creating ObjectWrap-ed native objects",
-- documented by node #42461 (https://github.com/nodejs/node/pull/42461, "finalizer
-- callbacks may be deferred") and addressed by node #42651
-- (https://github.com/nodejs/node/pull/42651, finalizers run directly from the GC).
-- Mechanism: the GC finds the wrappers dead and resets their references, but Node-API
-- queues their finalize_cb for a SetImmediate; a script that never lets the loop turn
-- never reaches the check phase, so no finalizer runs and every native block stays.
--
-- The addon (the repro of #1140, reduced to its wrap):
--
--   class NativeObj : public Napi::ObjectWrap<NativeObj> {    // napi_wrap underneath
--     std::vector<char> buf = std::vector<char>(4096);         // the native weight
--   };
--   static Napi::Value Create(const Napi::CallbackInfo& info) {
--     return constructor.New({});                              // a new wrapped object
--   }
--
-- and the script:
--
--   for (let i = 0; i < MAX_ITERS; ++i) {
--     const nativeObj = NativeObj.create();
--     // uncomment this and the application will not leak
--     // await new Promise(setImmediate);
--   }
--
-- Modelled: the script runs as one loop callback (an immediate) calling the native
-- function through iso:call, as JavaScript calls it (V8's implicit scope per call); the
-- wrap is env:wrap with a finalizer that frees the block, as ~NativeObj does. "Yielding"
-- is the script split into chunks, each an immediate that queues the next one, which is
-- what `await new Promise(setImmediate)` does. Simplified: the JS loop's own frame holds
-- no handles, so each iteration's Local lives in a scope of its own (a JS register), and
-- the young space is small (16 KiB) so scavenges find the wrappers dead often.
local scopelab = require "scopelab"
local ITERS, BYTES, CHUNK, EVERY = 2000, 4096, 100, 50

-- One run: 'mode' is the env's finalizers option, 'chunk' the iterations between
-- yields (nil: never yields). Returns what it observed.
local function run(name, mode, chunk)
  local iso <close> = scopelab.isolate { young_size = 16 * 1024, gc_interval = 0 }
  local loop = scopelab.loop(iso)
  local env = scopelab.napi(iso, loop, { finalizers = mode })
  local rec = recorder(iso, name)

  local create_ref
  do
    local s = env:open_handle_scope()
    local create = env:create_function("create", function(e)
      local obj = e:create_object()
      e:wrap(obj, iso:native_alloc(BYTES, "NativeObj"), function(_, block) block:free() end)
      return obj
    end)
    create_ref = env:create_reference(create, 1)     -- the module's exports keep it
    env:close_handle_scope(s)
  end

  local seen = { native = {}, waiting = {}, peak = 0, done = 0 }
  local function iteration()
    local s <close> = iso:handle_scope()              -- the JS frame
    iso:call(env:get_reference_value(create_ref), nil)
    seen.done = seen.done + 1
    local st = iso:stats()
    seen.peak = math.max(seen.peak, st.native_bytes)
    if seen.done % EVERY == 0 then
      rec:mark("iteration", seen.done)
      seen.native[#seen.native + 1] = st.native_bytes
      -- finalizers owed: queued by Node-API ("deferred") or as second-pass tasks ("gc")
      seen.waiting[#seen.waiting + 1] = env:stats().pending_finalizers + st.pending_tasks
    end
  end

  local function script()
    local stop = chunk and math.min(ITERS, seen.done + chunk) or ITERS
    while seen.done < stop do iteration() end
    if seen.done < ITERS then loop:set_immediate(script) end   -- await new Promise(setImmediate)
  end
  loop:set_immediate(script)
  loop:run()
  rec:stop()

  local st, est = iso:stats(), env:stats()
  seen.scavenges, seen.finalizers_run = st.minor_collections, est.finalizers_run
  seen.end_native = st.native_bytes
  seen.last_waiting = seen.waiting[#seen.waiting]
  print(("%-36s %d objects of %d B: peak native %5d KiB, %4d finalizers owed at the script's end, "
    .. "%2d scavenges, %4d finalizers run when the loop was done, %4d KiB left")
    :format(name .. ":", ITERS, BYTES, seen.peak // 1024, seen.last_waiting, seen.scavenges,
      seen.finalizers_run, seen.end_native // 1024))
  return seen
end

-- The fix of node #42651 (node_api_basic_finalize, experimental in Node-API): a finalizer
-- that only frees native memory runs in the GC itself, as V8's first pass:
--
--   static void Finalize(node_api_basic_env env, void* data, void* hint) { delete (NativeObj*)data; }
--
-- The Node-API layer here has no such finalizer kind, so this run builds the wrap at the
-- V8 level: a weak persistent whose first pass resets it and frees the block, on an
-- object holding the block as napi_wrap's does (so as many fit between scavenges).
local function run_in_gc(name)
  local iso <close> = scopelab.isolate { young_size = 16 * 1024, gc_interval = 0 }
  local rec = recorder(iso, name)
  local seen = { native = {}, peak = 0, freed = 0 }
  local outer <close> = iso:handle_scope()
  for i = 1, ITERS do
    local s <close> = iso:handle_scope()
    local obj = iso:object()
    local w = { block = iso:native_alloc(BYTES, "NativeObj") }
    obj:set("node:napi:wrapper", iso:external(w.block))   -- the same heap shape as napi_wrap's
    w.handle = iso:persistent(obj)
    w.handle:set_weak { first_pass = function(info)
      local me = info:parameter()
      me.handle:reset()
      me.block:free()
      seen.freed = seen.freed + 1
    end, parameter = w }
    local st = iso:stats()
    seen.peak = math.max(seen.peak, st.native_bytes)
    if i % EVERY == 0 then rec:mark("iteration", i); seen.native[#seen.native + 1] = st.native_bytes end
  end
  rec:stop()
  seen.end_native = iso:stats().native_bytes
  print(("%-36s %d objects of %d B: peak native %5d KiB, %4d freed inside the collections")
    :format(name .. ":", ITERS, BYTES, seen.peak // 1024, seen.freed))
  return seen
end

local never = run("deferred, the script never yields", "deferred", nil)
local gc = run("finalizers = \"gc\", never yields", "gc", nil)
local yields = run("deferred, yields every 100", "deferred", CHUNK)
local basic = run_in_gc("finalizer run in the GC (first pass)")

claim.less(0, never.scavenges, "the wrappers are collected while the script runs (scavenges ran)")
claim.grows(never.native, "but native memory climbs for the whole script")
claim.grows(never.waiting, "as the finalizers owed pile up in Node-API's queue")
claim.less(ITERS * BYTES * 9 // 10, never.peak, "nearly every block is still allocated at the script's end")
claim.equal(never.last_waiting, never.finalizers_run,
  "every finalizer owed ran once the loop turned, none earlier")
claim.grows(gc.native, "finalizers = \"gc\" does not help a script that never yields: native memory climbs too")
claim.less(0, gc.last_waiting, "its second passes wait in the isolate's task queue, which the loop runs")

claim.less(yields.peak * 4, never.peak, "yielding every 100 iterations keeps the peak under a quarter")
claim.less(yields.native[#yields.native], yields.native[1] + CHUNK * BYTES * 2,
  "and native memory stays bounded, freed at each turn of the loop")
claim.less(never.finalizers_run - 1, yields.finalizers_run,
  "the same finalizers run, only earlier")
claim.less(basic.peak * 4, never.peak, "a finalizer run inside the GC bounds it with no yield at all")
claim.equal((ITERS - basic.freed) * BYTES, basic.end_native,
  "what is not freed is only what the GC has not yet found dead: nothing waits for a loop")
