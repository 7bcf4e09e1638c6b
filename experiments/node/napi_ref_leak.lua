-- SPDX-License-Identifier: MIT
-- `napi_reference_unref` to 0 without `napi_delete_reference`, and deleted weak references kept until their object dies
-- luacheck: read globals claim recorder
--
-- Reproduces:
--   neon-bindings/neon #746  https://github.com/neon-bindings/neon/issues/746
--     "A possible memory leak in callbacks/root": neon dropped a Root with napi_reference_unref,
--     thinking a reference at count 0 is cleaned up; "they also need to be deleted".
--   nodejs/node #39915       https://github.com/nodejs/node/issues/39915
--     "Referenced Object never be recycled even if napi_delete_reference called"
--   nodejs/node #42035       https://github.com/nodejs/node/pull/42035
--     "doc: clarify persistent ref behavior": the native structures of a reference must live
--     until the finalizers of its object ran; call napi_delete_reference, not only unref.
-- Mechanism: (1) a v8impl::Reference at count 0 is a weak node; when its object dies the node
-- is emptied, but the Reference (80 bytes, with its node) lives until napi_delete_reference:
-- one per Root dropped. (2) Before node #44141 (Node 19), napi_delete_reference of a reference
-- at count 0 whose object was alive only marked it (RefBase::Delete: "we may crash when the
-- finalizer does run"); it was freed by the weak callback, when the object died. References
-- to an object that lives (a module-level buffer) were never freed.
--
-- Modelled: (1) neon's Root<JsFunction> around a callback sent to another thread (a work
-- item) and dropped in the completion; (2) the refBuffer() of #39915 called on one long-lived
-- object, with scopelab.napi's deferred_delete (Node < 19) and without (Node >= 19).
-- Simplified: one env; the Rust side is the work item's execute.
local scopelab = require "scopelab"
local CALLS, EVERY = 800, 40

-- ------------------------------------------------------------------ 1. neon #746
--
-- impl<T: Object> Root<T> {
--   pub fn new(cx, value) -> Self { napi_create_reference(env, value, 1, &r); ... }
--   pub fn drop(self, cx) { napi_reference_unref(env, r, &count); }   // the fix adds:
--                                                                      // napi_delete_reference(env, r)
-- }
-- JavaScript: for (...) addon.callLater(() => {...})   // each call roots its callback
local function neon_run(name, delete)
  local iso <close> = scopelab.isolate{ young_size = 64 * 1024 }
  local loop = scopelab.loop(iso)
  local env = scopelab.napi(iso, loop)
  local rec = recorder(iso, name)
  local got = { called = 0, refs = {}, native = {} }
  local outer <close> = iso:handle_scope()
  local call_later = env:create_function("callLater", function(e, info)
    local _, argv = e:get_cb_info(info, 1)
    local root = e:create_reference(argv[1], 1)          -- Root::new
    loop:queue_work(function() end, function()           -- the Rust thread, then back on the loop
      local s = e:open_handle_scope()
      e:call_function(e:get_undefined(), e:get_reference_value(root))
      if e:reference_unref(root) == 0 and delete then e:delete_reference(root) end   -- Root::drop
      e:close_handle_scope(s)
    end)
  end)
  for i = 1, CALLS do
    local frame <close> = iso:handle_scope()
    iso:call(call_later, iso:undefined(), iso:func(function() got.called = got.called + 1 end))
    if i % EVERY == 0 then
      loop:run()                                         -- the JavaScript loop yields now and then
      iso:collect("minor")
      rec:mark("call", i)
      got.refs[#got.refs + 1] = env:stats().references
      got.native[#got.native + 1] = iso:stats().native_bytes
    end
  end
  loop:run()
  iso:collect("full")
  rec:mark("after a full collection")
  rec:stop()
  got.stats, got.iso = env:stats(), iso:stats()
  got.report, got.persistent = iso:native_report(), iso:persistent_report()
  print(("%-34s %d callbacks run: env:stats() %4d references (%4d emptied), iso:stats() %6d native bytes,"
    .. " %d persistent nodes live, %d emptied"):format(name, got.called, got.stats.references,
    got.stats.references_empty, got.iso.native_bytes, got.persistent.total, got.persistent.empty))
  if got.report[1] then
    print(("  native_report: %d bytes in %d blocks '%s'"):format(got.report[1].bytes, got.report[1].count,
      tostring(got.report[1].label)))
  end
  loop:close()
  return got
end

local neon = neon_run("Root::drop: unref only (neon #746)", false)
local neon_fixed = neon_run("Root::drop: unref and delete", true)

claim.equal(CALLS, neon.called, "every rooted callback was called")
claim.equal(CALLS, neon.stats.references_empty, "every reference dropped to 0 was emptied when its function died")
claim.equal(CALLS, neon.stats.references, "but none was deleted: env:stats() still counts them")
claim.grows(neon.refs, "they pile up call after call")
claim.grows(neon.native, "and so does their native memory")
claim.equal(CALLS * 80, neon.report.bytes, "native_report: 80 bytes per v8impl::Reference, one per call")
claim.equal("v8impl::Reference", neon.report[1] and neon.report[1].label, "under the label v8impl::Reference")
claim.equal(CALLS, neon.persistent.empty,
  "persistent_report counts every emptied node never deleted")
claim.equal(CALLS, neon.iso.empty_persistent_handles, "and so does iso:stats()")
claim.equal(0, neon_fixed.persistent.empty, "with napi_delete_reference no emptied node is left")
claim.equal(CALLS, neon_fixed.called, "with napi_delete_reference every callback is called too")
claim.equal(0, neon_fixed.stats.references, "and no reference is left")
claim.flat(neon_fixed.native, "native memory stays flat")
claim.equal(0, neon_fixed.iso.native_bytes, "at zero")

-- ------------------------------------------------------------------ 2. node #39915 / #42035
--
-- napi_value RefBuffer(napi_env env, napi_callback_info info) {     // #39915's reproduction
--   napi_ref ref; uint32_t count;
--   napi_create_reference(env, argv[0], 1, &ref);
--   napi_reference_unref(env, ref, &count);                          // 0: weak
--   napi_delete_reference(env, ref);                                 // Node < 19: only marked
--   return count;
-- }
-- JavaScript: const big = Buffer.alloc(...); while (...) refBuffer(big);   // big lives on
local function refbuffer_run(name, opts, unref_first)
  local iso <close> = scopelab.isolate()
  local loop = scopelab.loop(iso)
  local env = scopelab.napi(iso, loop, opts)
  local rec = recorder(iso, name)
  local got = { native = {}, persistents = {} }
  local outer <close> = iso:handle_scope()
  local big                                             -- module-level: alive throughout
  do
    local s <close> = iso:handle_scope()
    big = iso:persistent(iso:array(64))
  end
  local base = iso:stats().persistent_handles           -- the module's own handle on it
  local ref_buffer = env:create_function("refBuffer", function(e, info)
    local _, argv = e:get_cb_info(info, 1)
    local ref = e:create_reference(argv[1], 1)
    if unref_first then e:reference_unref(ref) end
    e:delete_reference(ref)
  end)
  for i = 1, CALLS do
    local frame <close> = iso:handle_scope()
    iso:call(ref_buffer, iso:undefined(), big:get())
    if i % EVERY == 0 then
      iso:collect("minor")
      rec:mark("call", i)
      local st = iso:stats()
      got.native[#got.native + 1] = st.native_bytes
      got.persistents[#got.persistents + 1] = st.persistent_handles - base
    end
  end
  got.while_alive = { env = env:stats(), iso = iso:stats(), report = iso:persistent_report(),
    nodes = iso:stats().persistent_handles - base }
  big:reset()                                           -- the module lets go of the buffer
  iso:collect("full")                                   -- the buffer dies: the weak callbacks run
  loop:run()
  rec:mark("after the buffer died")
  rec:stop()
  got.after = { env = env:stats(), iso = iso:stats() }
  local w = got.while_alive
  print(("%-38s while the buffer lives: %4d references, %4d reference nodes, %6d native bytes;"
    .. " after it died: %d native bytes"):format(name, w.env.references, w.nodes,
    w.iso.native_bytes, got.after.iso.native_bytes))
  local top = w.report[1]
  if top and top.count > 1 then
    print(("  persistent_report: %d nodes (%d weak) created at %s"):format(top.count, top.weak or 0, top.site))
  end
  loop:close()
  return got
end

local old = refbuffer_run("Node < 19: unref to 0, then delete", { deferred_delete = true }, true)
local old_fixed = refbuffer_run("Node < 19: delete at count 1", { deferred_delete = true }, false)
local new = refbuffer_run("Node >= 19: unref to 0, then delete", nil, true)

claim.grows(old.native, "Node < 19: references deleted at count 0 keep their native memory")
claim.equal(CALLS, old.while_alive.env.references, "env:stats() still counts every deleted reference")
claim.equal(CALLS, old.while_alive.nodes, "iso:stats() counts their weak nodes")
claim.equal(CALLS, old.while_alive.report[1] and old.while_alive.report[1].weak,
  "persistent_report lists them at the one site, as weak nodes")
claim.equal(0, old.after.iso.native_bytes, "they are freed only when the buffer itself dies")
claim.flat(old_fixed.native, "deleting while the count is 1 frees each at once (the advice of #42035)")
claim.equal(0, old_fixed.while_alive.env.references, "no reference is left while the buffer lives")
claim.flat(new.native, "since Node 19 (#44141) unref then delete frees at once too")
claim.equal(0, new.while_alive.nodes, "no node is left")
