-- SPDX-License-Identifier: MIT
-- The napi_ref napi_wrap returns, never deleted although the finalizer ran: references pile up
-- luacheck: read globals claim recorder
--
-- Reproduces node-addon-api #1602 (https://github.com/nodejs/node-addon-api/issues/1602,
-- "ObjectWrap leak introduced in 8.2.0"), fixed by node-addon-api #1607
-- (https://github.com/nodejs/node-addon-api/pull/1607, "missing napi_delete_reference on
-- ObjectWrap ref"). Mechanism: napi_wrap's `result` reference belongs to the addon, which
-- must napi_delete_reference it; 8.2.0's FinalizeCallback set `_ref = nullptr` (so that
-- ~ObjectWrap would not call napi_remove_wrap), which also kept ~Reference from deleting
-- it: every collected instance left its v8impl::Reference behind, emptied.
--
-- node-addon-api 8.2.0 (napi-inl.h, reduced):
--
--   ObjectWrap<T>::ObjectWrap(const CallbackInfo& info) {
--     napi_ref ref;
--     napi_wrap(env, info.This(), instance, FinalizeCallback, nullptr, &ref);
--     *static_cast<Reference<Object>*>(instance) = Reference<Object>(env, ref);
--   }
--   void ObjectWrap<T>::FinalizeCallback(napi_env env, void* data, void*) {
--     T* instance = static_cast<T*>(data);
--     instance->_ref = nullptr;          // "Prevent ~ObjectWrap from calling napi_remove_wrap"
--     delete instance;                   // ~Reference: if (_ref) napi_delete_reference(_env, _ref);
--   }
--
-- #1607: `instance->_finalized = true;` instead, ~ObjectWrap skips napi_remove_wrap when
-- finalized, and ~Reference deletes the reference as before.
--
-- Modelled: a class whose constructor is called from timer callbacks (one instance per
-- request, dropped at its end); the wrap is env:wrap(..., want_ref = true); the finalizer
-- is FinalizeCallback with ~ObjectWrap and ~Reference written out. A full collection
-- every 10 requests stands for the GCs of a busy process; finalizers are Node's deferred
-- ones, run by the loop. Simplified: no napi_remove_wrap path (it is not reached here).
local scopelab = require "scopelab"
local REQUESTS, EVERY = 200, 10

local function run(name, fixed)
  local iso <close> = scopelab.isolate { gc_interval = 0 }
  local loop = scopelab.loop(iso)
  local env = scopelab.napi(iso, loop)
  local rec = recorder(iso, name)

  local ctor
  do
    local s = env:open_handle_scope()
    ctor = env:create_reference(env:create_function("MyObject", function(e, info)
      local _, _, this = e:get_cb_info(info, 0)
      local instance = { finalized = false }                 -- new MyObject(info)
      instance.ref = e:wrap(this, instance, function(fe, inst)   -- FinalizeCallback
        if fixed then inst.finalized = true else inst.ref = nil end
        -- delete instance: ~ObjectWrap (no napi_remove_wrap once finalized), then ~Reference
        if inst.ref ~= nil then fe:delete_reference(inst.ref); inst.ref = nil end
      end, nil, true)
      return this
    end), 1)
    env:close_handle_scope(s)
  end

  local seen = { references = {}, native = {}, served = 0 }
  local function request()
    do
      local scope <close> = iso:handle_scope()
      iso:call(env:get_reference_value(ctor), iso:object())  -- new MyObject(), dropped
    end
    seen.served = seen.served + 1
    if seen.served % EVERY == 0 then
      iso:collect("full")
      rec:mark("request", seen.served)
      seen.references[#seen.references + 1] = env:stats().references
      seen.native[#seen.native + 1] = iso:stats().native_bytes
    end
    if seen.served < REQUESTS then loop:set_timeout(1, request) end
  end
  loop:set_timeout(1, request)
  loop:run()
  rec:stop()

  local est = env:stats()
  seen.est = est
  seen.empty_nodes = iso:stats().empty_persistent_handles
  seen.report = iso:native_report()
  print(("%-32s %d instances: %3d finalizers run, %3d napi_refs held (%3d emptied), %3d deleted, "
    .. "%5d B of v8impl::Reference")
    :format(name .. ":", REQUESTS, est.finalizers_run, est.references, est.references_empty,
      est.references_deleted, seen.report.bytes))
  return seen
end

local leak = run("8.2.0: _ref = nullptr", false)
local fix = run("#1607: _finalized = true", true)

claim.less(REQUESTS - EVERY - 1, leak.est.finalizers_run, "the finalizers ran (every collected instance)")
claim.grows(leak.references, "yet the napi_refs held grow with every collection")
claim.equal(leak.est.finalizers_run, leak.est.references_empty,
  "one emptied reference per finalized instance, never deleted")
claim.equal(leak.est.references_empty, leak.empty_nodes,
  "iso:stats() counts the same emptied nodes (empty_persistent_handles)")
claim.grows(leak.native, "each keeps its 80-byte v8impl::Reference allocated")
claim.equal(1 + leak.est.finalizers_run + leak.est.wraps, leak.est.references,
  "the held references: the constructor's, the emptied ones, and the live instances'")

claim.equal(leak.est.finalizers_run, fix.est.finalizers_run, "with the fix the same finalizers run")
claim.flat(fix.references, "and the napi_refs held stay flat", 1)
claim.equal(0, fix.est.references_empty, "no emptied reference is left")
claim.equal(0, fix.empty_nodes, "nor an emptied node")
claim.equal(fix.est.finalizers_run, fix.est.references_deleted, "each finalizer deleted its reference")
claim.equal(80 * fix.est.references, fix.report.bytes,
  "the native report holds exactly the references still in use")
