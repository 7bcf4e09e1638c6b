-- SPDX-License-Identifier: MIT
-- finalize_cb never runs for wrappers still reachable at exit; environment teardown runs them
-- luacheck: read globals claim recorder
--
-- Reproduces node #22396 (https://github.com/nodejs/node/issues/22396, "napi_wrap-ped
-- finalize_cb not invoked", on test/addons-napi/7_factory_wrap) and node-addon-api #450
-- (https://github.com/nodejs/node-addon-api/issues/450, "I'm using global.gc() to call the
-- destructor"). Mechanism: a finalizer runs when the GC finds its wrapper dead; objects
-- held by the script's top-level bindings are never dead, and the process exits without
-- a collection, so nothing calls finalize_cb. Node-API's environment teardown
-- (node_napi_env__::DeleteMe, RefTracker::FinalizeAll) is what runs them today.
--
-- The addon (7_factory_wrap's MyObject):
--
--   void MyObject::Destructor(napi_env env, void* native, void* hint) {
--     delete static_cast<MyObject*>(native);            // ~MyObject: flush, close, free
--   }
--   napi_value MyObject::New(napi_env env, napi_callback_info info) {
--     MyObject* obj = new MyObject(value);
--     napi_wrap(env, jsthis, obj, MyObject::Destructor, nullptr, nullptr);
--     return jsthis;
--   }
--
-- and test.js, at the top level of the script:
--
--   const obj = createObject(10);  assert.strictEqual(obj.plusOne(), 11);
--   const obj2 = createObject(20); assert.strictEqual(obj2.plusOne(), 21);
--
-- versus the issue's workaround: the same lines inside function context() { ... },
-- then context(); global.gc();
--
-- Modelled: the script's top-level bindings are properties of a module object held by a
-- strong napi_ref (the module's context lives as long as the environment); the script
-- is one loop callback; "exit" is the loop running out of work. Simplified: one env, no
-- process: "exit without teardown" (Node 10) is the point where the loop is done and the
-- counts are read; the isolate's disposal then frees what is left, as the OS would.
local scopelab = require "scopelab"
local N, BYTES = 4, 16 * 1024

local function setup(name)
  local iso = scopelab.isolate { gc_interval = 0 }
  local loop = scopelab.loop(iso)
  local env = scopelab.napi(iso, loop)
  local rec = recorder(iso, name)
  local order = {}
  local s = env:open_handle_scope()
  local create = env:create_function("createObject", function(e, info)
    local _, argv = e:get_cb_info(info, 1)
    local obj = e:create_object()
    local native = { value = argv[1]:value(), block = iso:native_alloc(BYTES, "MyObject") }
    e:wrap(obj, native, function(_, my)                  -- MyObject::Destructor
      order[#order + 1] = my.value
      my.block:free()
    end)
    return obj
  end)
  local t = {
    iso = iso, loop = loop, env = env, rec = rec, order = order,
    create = env:create_reference(create, 1),
    module = env:create_reference(env:create_object(), 1),   -- the script's top-level bindings
  }
  env:close_handle_scope(s)
  return t
end

local function create(t, i)
  local iso = t.iso
  return iso:call(t.env:get_reference_value(t.create), nil, iso:integer(10 * i))
end

-- Bytes of MyObject blocks not freed (the report also lists the module's two napi_refs).
local function myobject_bytes(iso)
  local bytes = 0
  for _, site in ipairs(iso:native_report()) do
    if site.label == "MyObject" then bytes = bytes + site.bytes end
  end
  return bytes
end

local function report(t, when)
  local est = t.env:stats()
  t.rec:mark(when)
  local native = myobject_bytes(t.iso)
  print(("  %-40s %d wraps alive, %d finalizers run, %3d KiB of MyObject not freed")
    :format(when .. ":", est.wraps, est.finalizers_run, native // 1024))
  return { wraps = est.wraps, run = est.finalizers_run, native = native }
end

-- 1. The top-level script: the objects stay reachable; the process exits.
print("top-level consts, then exit (Node 10: no teardown):")
local top = setup("top-level objects, exit")
top.loop:set_immediate(function()
  local s <close> = top.iso:handle_scope()
  local module = top.env:get_reference_value(top.module)
  for i = 1, N do module:set("obj" .. i, create(top, i)) end   -- const obj = createObject(..)
end)
top.loop:run()
local at_exit = report(top, "the loop is done (exit)")
top.iso:collect("full"); top.loop:run()
local after_gc = report(top, "even after a full collection")
local leaked = top.iso:native_report()
print("  " .. (tostring(leaked):gsub("\n", "\n  ")))

claim.equal(0, at_exit.run, "at exit not one finalize_cb has run")
claim.equal(N, at_exit.wraps, "every wrap is alive")
claim.equal(0, after_gc.run, "a collection changes nothing: the top-level bindings keep them reachable")
claim.equal(N * BYTES, leaked[1] and leaked[1].label == "MyObject" and leaked[1].bytes,
  "the native report names the MyObject blocks never freed, largest first")

-- 2. Today's Node: FreeEnvironment tears the env down, which runs the finalizers left.
local hook_ran_first
top.env:add_env_cleanup_hook(function()
  hook_ran_first = #top.order == 0
end)
top.env:teardown()
local torn = report(top, "after env:teardown()")
print(("  finalizers ran for values %s (newest first)"):format(table.concat(top.order, ", ")))
claim.equal(N, torn.run, "teardown runs every finalize_cb left")
claim.equal(0, torn.native, "and frees every MyObject block")
claim(hook_ran_first, "after the cleanup hooks (napi_add_env_cleanup_hook), which run first")
local newest_first = true
for k, v in ipairs(top.order) do newest_first = newest_first and v == 10 * (N + 1 - k) end
claim(newest_first, "newest wrap first, as RefTracker::FinalizeAll takes its list's head")
top.rec:stop()
top.iso:dispose()

-- 3. The workaround of #22396: function scope, then global.gc(); the loop runs them.
print("inside function context() { ... }, then global.gc():")
local fn = setup("function context + global.gc()")
fn.loop:set_immediate(function()
  do                                                          -- context();
    local s <close> = fn.iso:handle_scope()
    for i = 1, N do create(fn, i) end
  end
  fn.iso:collect("full")                                      -- global.gc();
  fn.after_gc = report(fn, "right after global.gc()")
end)
fn.loop:run()
local done = report(fn, "the loop is done")
claim.equal(0, fn.after_gc.wraps, "out of scope, the collection finds every wrapper dead")
claim.equal(0, fn.after_gc.run, "but the finalizers have not run inside the script (deferred)")
claim.equal(N, done.run, "they ran in the next turn of the loop")
claim.equal(0, done.native, "freeing every MyObject block before exit")
fn.rec:stop()
fn.iso:dispose()
