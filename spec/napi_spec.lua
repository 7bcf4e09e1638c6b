-- SPDX-License-Identifier: MIT
-- Node-API (scopelab.napi): every call's statuses and semantics, references across
-- collections, wraps, externals and finalizers (deferred and "gc"), teardown.
local scopelab = require "scopelab"
local helper = require "helper"

-- The status at the start of an error message raised by 'fn'.
local function status_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "the call succeeded")
  return tostring(err):match("^(napi_[%w_]+):"), tostring(err)
end

describe("Node-API", function()
  local iso, loop, env, scope
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })
  before_each(function()
    loop = scopelab.loop(iso)
    env = scopelab.napi(iso, loop)
    scope = iso:handle_scope()
  end)
  after_each(function()
    if scope:is_open() then scope:close() end
  end)

  -- A reference of 'count' to a new object that no Local holds any more.
  local function unheld_reference(count)
    local s = env:open_handle_scope()
    local ref = env:create_reference(env:create_object(), count)
    env:close_handle_scope(s)
    return ref
  end

  describe("handle scopes", function()
    it("opens and closes napi handle scopes, and their Locals die with them", function()
      local s = env:open_handle_scope()
      assert.equal(1, env:stats().open_handle_scopes)
      local before = #iso
      env:create_object(); env:create_object()
      assert.equal(before + 2, #iso)
      env:close_handle_scope(s)
      assert.equal(before, #iso)
      assert.equal(0, env:stats().open_handle_scopes)
    end)

    it("says napi_handle_scope_mismatch for a close with no scope open, or twice", function()
      local s = env:open_handle_scope()
      env:close_handle_scope(s)
      assert.equal("napi_handle_scope_mismatch", status_of(env.close_handle_scope, env, s))
      assert.equal("napi_handle_scope_mismatch", env:get_last_error_info().status)
    end)

    it("says napi_handle_scope_mismatch for a close out of order, and leaves both open", function()
      local outer = env:open_handle_scope()
      local inner = env:open_handle_scope()
      assert.equal("napi_handle_scope_mismatch", status_of(env.close_handle_scope, env, outer))
      assert.equal(2, env:stats().open_handle_scopes)
      env:close_handle_scope(inner)
      env:close_handle_scope(outer)
    end)

    it("says napi_invalid_arg for a scope of the wrong kind or not a scope", function()
      local s = env:open_escapable_handle_scope()
      assert.equal("napi_invalid_arg", status_of(env.close_handle_scope, env, s))
      assert.equal("napi_invalid_arg", status_of(env.close_handle_scope, env, {}))
      env:close_escapable_handle_scope(s)
    end)

    it("escapes one value into the parent scope, and says napi_escape_called_twice the second time", function()
      local before = #iso
      local s = env:open_escapable_handle_scope()
      local o = env:create_object()
      local escaped = env:escape_handle(s, o)
      local status, msg = status_of(env.escape_handle, env, s, o)
      assert.equal("napi_escape_called_twice", status)
      assert.matches("^napi_escape_called_twice: napi_escape_handle already called on scope", msg)
      local info = env:get_last_error_info()
      assert.equal(12, info.error_code)
      assert.equal("napi_escape_handle already called on scope", info.error_message)
      env:close_escapable_handle_scope(s)
      assert.equal(before + 1, #iso)            -- the escape slot, in the parent
      assert.equal("object", escaped:kind())
      iso:collect("full"); iso:verify()
      assert.alive(escaped)
    end)

    it("closes a napi scope left open at the end of its block when used with <close>", function()
      do
        local s <close> = env:open_handle_scope()
        env:create_object()
      end
      assert.equal(0, env:stats().open_handle_scopes)
    end)
  end)

  describe("get_last_error_info", function()
    it("is napi_ok after a call that succeeds, and names the last failure otherwise", function()
      assert.same({ status = "napi_ok", error_code = 0, engine_error_code = 0 }, env:get_last_error_info())
      status_of(env.create_reference, env, iso:smi(1), 1)
      local info = env:get_last_error_info()
      assert.equal("napi_invalid_arg", info.status)
      assert.equal(1, info.error_code)
      assert.equal("Invalid argument", info.error_message)
      env:create_object()
      assert.equal("napi_ok", env:get_last_error_info().status)
    end)

    it("puts the status first and the call site last in the message", function()
      local _, msg = status_of(env.create_reference, env, iso:smi(1), 1)
      assert.matches("^napi_invalid_arg: Invalid argument %('create_reference' at .-napi_spec%.lua:%d+: "
        .. "a smi cannot be referenced%)$", msg)
    end)
  end)

  describe("references", function()
    it("refuses primitives with napi_invalid_arg, as the stable Node-API versions do", function()
      for _, v in ipairs { iso:smi(1), iso:integer(1), iso:number(1.5), iso:string("s"),
                           iso:undefined(), iso:null(), iso:boolean(true) } do
        assert.equal("napi_invalid_arg", status_of(env.create_reference, env, v, 1))
      end
      assert.equal("napi_invalid_arg", status_of(env.create_reference, env, env:create_object(), -1))
      assert.equal(0, env:stats().references)
    end)

    it("keeps its object alive while the count is above 0, across minor and major collections", function()
      local ref = unheld_reference(1)
      iso:collect("minor"); iso:verify()
      iso:collect("major"); iso:verify()
      local v = env:get_reference_value(ref)
      assert.equal("object", v:kind())
      assert.equal(1, env:stats().references_strong)
    end)

    it("is weak at count 0: the object dies once nothing else holds it, the reference stays", function()
      local ref, probe
      do
        local s = env:open_handle_scope()
        local o = env:create_object()
        ref = env:create_reference(o, 0)
        probe = iso:probe(o)
        iso:collect("full"); iso:verify()
        assert.is_true(probe:alive())           -- a Local still holds it
        env:close_handle_scope(s)
      end
      iso:collect("minor"); iso:collect("major"); iso:verify()
      assert.is_false(probe:alive())
      assert.is_nil(env:get_reference_value(ref))
      local st = env:stats()
      assert.equal(1, st.references)            -- emptied, never deleted: still the addon's
      assert.equal(1, st.references_empty)
      env:delete_reference(ref)
      assert.equal(0, env:stats().references)
    end)

    it("counts up and down, weak again at 0, and napi_generic_failure below 0", function()
      local ref = env:create_reference(env:create_object(), 0)
      assert.equal(1, env:reference_ref(ref))
      assert.equal(2, env:reference_ref(ref))
      assert.equal(1, env:reference_unref(ref))
      assert.equal(0, env:reference_unref(ref))
      assert.equal("napi_generic_failure", status_of(env.reference_unref, env, ref))
      assert.equal(1, env:stats().references_weak)
    end)

    it("answers 0 to ref and unref once its object was collected", function()
      local ref = unheld_reference(0)
      iso:collect("full"); iso:verify()
      assert.equal(0, env:reference_ref(ref))
      assert.is_nil(env:get_reference_value(ref))
    end)

    it("makes a weak reference strong again with reference_ref while its object lives", function()
      local ref, probe
      do
        local s = env:open_handle_scope()
        local o = env:create_object()
        probe = iso:probe(o)
        ref = env:create_reference(o, 0)
        env:reference_ref(ref)
        env:close_handle_scope(s)
      end
      iso:collect("full"); iso:verify()
      assert.is_true(probe:alive())
    end)

    it("is gone after delete_reference: every later use is napi_invalid_arg", function()
      local ref = env:create_reference(env:create_object(), 1)
      env:delete_reference(ref)
      assert.equal("napi_invalid_arg", status_of(env.delete_reference, env, ref))
      assert.equal("napi_invalid_arg", status_of(env.get_reference_value, env, ref))
      assert.equal(0, env:stats().references)
    end)

    it("holds a native block per reference, freed by delete_reference", function()
      local before = iso:stats().native_blocks
      local ref = env:create_reference(env:create_object(), 1)
      assert.equal(before + 1, iso:stats().native_blocks)
      env:delete_reference(ref)
      assert.equal(before, iso:stats().native_blocks)
    end)

    it("lets a minor collection clear a weak reference to a young object, and move a strong one", function()
      local weak, strong, moved_from
      do
        local s = env:open_handle_scope()
        local o = env:create_object()
        weak = env:create_reference(env:create_object(), 0)
        strong = env:create_reference(o, 2)
        moved_from = o:address()
        env:close_handle_scope(s)
      end
      iso:collect("minor"); iso:verify()
      assert.is_nil(env:get_reference_value(weak))
      local v = env:get_reference_value(strong)
      assert.are_not.equal(moved_from, v:address())
      assert.equal(1, env:reference_unref(strong))
      iso:collect("minor"); iso:collect("major"); iso:verify()
      assert.equal("object", env:get_reference_value(strong):kind())
      assert.equal(0, env:reference_unref(strong))         -- weak now, but 'v' still holds it
      iso:collect("full"); iso:verify()
      assert.equal(v, env:get_reference_value(strong))
    end)

    it("references functions, arrays and externals", function()
      for _, v in ipairs { env:create_function("f", function() end), iso:array(1), iso:external(nil) } do
        local ref = env:create_reference(v, 1)
        assert.equal(v, env:get_reference_value(ref))
        env:delete_reference(ref)
      end
    end)

    it("shows a reference never deleted as a v8impl::Reference block in native_report", function()
      env:create_reference(env:create_object(), 1)
      local found
      for _, entry in ipairs(iso:native_report()) do
        if entry.label == "v8impl::Reference" then found = entry end
      end
      assert.is_not_nil(found)
      assert.equal(1, found.count)
      assert.equal(80, found.bytes)
    end)

    it("keeps a deleted weak reference until its object dies with deferred_delete (Node < 19)", function()
      local old = scopelab.napi(iso, loop, { deferred_delete = true })
      local ref, probe
      do
        local s = old:open_handle_scope()
        local o = old:create_object()
        probe = iso:probe(o)
        ref = old:create_reference(o, 0)
        old:delete_reference(ref)
        assert.equal(1, old:stats().references)  -- only marked
        old:close_handle_scope(s)
      end
      iso:collect("full"); iso:verify()
      assert.is_false(probe:alive())
      assert.equal(0, old:stats().references)    -- deleted by its weak callback
    end)
  end)

  describe("wraps", function()
    it("wraps native data that unwrap returns, and refuses a second wrap", function()
      local o = env:create_object()
      local block = iso:native_alloc(64, "MyObject")
      env:wrap(o, block, function() end)
      assert.equal(block, env:unwrap(o))
      assert.equal("napi_invalid_arg", status_of(env.wrap, env, o, block, function() end))
      assert.equal(1, env:stats().wraps)
      assert.is_true(o:has("node:napi:wrapper"))
    end)

    it("fails under a seal as V8 would (External::New makes a handle), leaving no reference", function()
      local o = env:create_object()
      local seal = iso:seal_handle_scope()
      local ok, err = pcall(env.wrap, env, o, {}, function() end)
      seal:close()
      assert.is_false(ok)
      assert.matches("cannot create a handle in 'external' %(the innermost scope is a seal scope", err)
      assert.equal(0, env:stats().wraps)
      assert.equal(0, iso:stats().native_blocks)
      assert.is_false(o:has("node:napi:wrapper"))
    end)

    it("says napi_invalid_arg for unwrap of an object never wrapped, or of a primitive", function()
      assert.equal("napi_invalid_arg", status_of(env.unwrap, env, env:create_object()))
      assert.equal("napi_invalid_arg", status_of(env.unwrap, env, iso:smi(3)))
      assert.equal("napi_invalid_arg", status_of(env.wrap, env, iso:string("s"), {}, nil))
    end)

    it("needs a finalizer when it returns a reference", function()
      assert.equal("napi_invalid_arg", status_of(env.wrap, env, env:create_object(), {}, nil, nil, true))
    end)

    it("returns a weak reference when asked, the addon's to delete", function()
      local o = env:create_object()
      local ref = env:wrap(o, {}, function() end, nil, true)
      assert.equal(0, ref.count)
      assert.equal(o, env:get_reference_value(ref))
      assert.equal(1, env:stats().references)
    end)

    it("removes the wrap, whose finalizer then never runs", function()
      local ran = 0
      local probe
      do
        local s = env:open_handle_scope()
        local o = env:create_object()
        probe = iso:probe(o)
        env:wrap(o, "native", function() ran = ran + 1 end)
        assert.equal("native", env:remove_wrap(o))
        assert.equal("napi_invalid_arg", status_of(env.unwrap, env, o))
        env:close_handle_scope(s)
      end
      iso:collect("full"); iso:verify()
      loop:run()
      assert.is_false(probe:alive())
      assert.equal(0, ran)
      assert.equal(0, env:stats().wraps)
    end)

    it("runs the finalizer of a collected wrapper from the loop, not in the collection", function()
      local freed = {}
      do
        local s = env:open_handle_scope()
        for i = 1, 3 do
          env:wrap(env:create_object(), iso:native_alloc(1024, "obj" .. i), function(e, native, hint)
            assert.equal(env, e)
            freed[#freed + 1] = hint
            native:free()
          end, i)
        end
        env:close_handle_scope(s)
      end
      local bytes = iso:stats().native_bytes
      iso:collect("full"); iso:verify()
      assert.same({}, freed)
      assert.equal(3, env:stats().pending_finalizers)
      assert.equal(bytes, iso:stats().native_bytes)   -- nothing freed yet
      assert.equal(0, loop:run())                      -- a native immediate: no callback counted
      assert.same({ 1, 2, 3 }, freed)
      assert.equal(0, env:stats().pending_finalizers)
      assert.equal(0, env:stats().wraps)
      assert.is_true(iso:stats().native_bytes <= bytes - 3 * 1024)
    end)

    it("deletes the reference of a wrap without a finalizer in the collection itself", function()
      local blocks = iso:stats().native_blocks
      do
        local s = env:open_handle_scope()
        env:wrap(env:create_object(), "no finalizer")
        assert.equal(blocks + 1, iso:stats().native_blocks)
        env:close_handle_scope(s)
      end
      iso:collect("full"); iso:verify()
      assert.equal(blocks, iso:stats().native_blocks)
      assert.equal(0, env:stats().wraps)
      assert.equal(0, env:stats().pending_finalizers)
    end)

    it("keeps native memory while a callback that never yields makes wrappers, until the loop turns", function()
      local small = scopelab.isolate { young_size = 8192, gc_interval = 0 }
      local sloop = scopelab.loop(small)
      local senv = scopelab.napi(small, sloop)
      local peak = 0
      sloop:set_immediate(function()
        for _ = 1, 200 do
          local s = senv:open_handle_scope()
          senv:wrap(senv:create_object(), small:native_alloc(1000, "MyObject"), function(_, block) block:free() end)
          senv:close_handle_scope(s)
          peak = math.max(peak, small:stats().native_bytes)
        end
      end)
      sloop:run()
      assert.is_true(small:stats().minor_collections > 0)   -- the wrappers were collected meanwhile
      assert.is_true(peak >= 200 * 1000)                    -- but no finalizer ran inside the callback
      small:collect("full"); sloop:run()
      assert.equal(0, small:stats().native_bytes)
      assert.equal(200, senv:stats().finalizers_run)
      small:dispose()
    end)

    it("lets a finalizer delete the reference napi_wrap returned, which frees it", function()
      local ref
      do
        local s = env:open_handle_scope()
        ref = env:wrap(env:create_object(), {}, function(e) e:delete_reference(ref) end, nil, true)
        env:close_handle_scope(s)
      end
      iso:collect("full"); loop:run()
      assert.equal(0, env:stats().references)
      assert.is_true(ref.deleted)
    end)

    it("leaks the reference napi_wrap returned when the finalizer does not delete it", function()
      for _ = 1, 5 do
        local s = env:open_handle_scope()
        env:wrap(env:create_object(), {}, function() end, nil, true)
        env:close_handle_scope(s)
      end
      iso:collect("full"); loop:run()
      local st = env:stats()
      assert.equal(5, st.finalizers_run)
      assert.equal(5, st.references)
      assert.equal(5, st.references_empty)
    end)

    it("lets a deferred finalizer use handles: it runs in a HandleScope of its own", function()
      local kind
      do
        local s = env:open_handle_scope()
        env:wrap(env:create_object(), 1, function(e) kind = e:create_object():kind() end)
        env:close_handle_scope(s)
      end
      scope:close()
      iso:collect("full")
      loop:run()
      assert.equal("object", kind)
      assert.equal(0, #iso)
    end)
  end)

  describe("finalizers = \"gc\"", function()
    it("runs a wrap's finalizer right after a forced collection, in the second pass", function()
      local genv = scopelab.napi(iso, loop, { finalizers = "gc" })
      local ran = false
      do
        local s = genv:open_handle_scope()
        genv:wrap(genv:create_object(), {}, function() ran = true end)
        genv:close_handle_scope(s)
      end
      iso:collect("full"); iso:verify()
      assert.is_true(ran)
      assert.equal(0, genv:stats().pending_finalizers)
    end)

    it("queues it as an isolate task after a collection the allocator started, run by the loop", function()
      local small = scopelab.isolate { young_size = 4096, gc_interval = 0 }
      local sloop = scopelab.loop(small)
      local genv = scopelab.napi(small, sloop, { finalizers = "gc" })
      local ran = 0
      local s = small:handle_scope()
      do
        local inner = small:handle_scope()
        for _ = 1, 20 do genv:wrap(genv:create_object(), {}, function() ran = ran + 1 end) end
        inner:close()
      end
      for i = 1, 2000 do local t = small:handle_scope(); small:integer(i); t:close() end
      assert.is_true(small:stats().minor_collections > 0)
      assert.equal(0, ran)
      assert.is_true(small:stats().pending_tasks > 0)
      s:close()
      sloop:run()
      assert.equal(20, ran)
      small:dispose()
    end)
  end)

  describe("externals and add_finalizer", function()
    it("makes an external whose value is the native pointer, finalized from the loop", function()
      local block = iso:native_alloc(16, "ext")
      local got
      do
        local s = env:open_handle_scope()
        local ext = env:create_external(block, function(_, native) got = native; native:free() end)
        assert.equal("napi_external", env:typeof(ext))
        assert.equal(block, env:get_value_external(ext))
        assert.equal(1, env:stats().externals)
        env:close_handle_scope(s)
      end
      iso:collect("full"); iso:verify()
      assert.equal(0, env:stats().externals)
      loop:run()
      assert.equal(block, got)
      assert.is_true(block:is_freed())
    end)

    it("adds a finalizer to any object, and returns a reference when asked", function()
      local ran = {}
      local ref
      do
        local s = env:open_handle_scope()
        local arr = iso:array(2)
        env:add_finalizer(arr, "a", function(_, data) ran[#ran + 1] = data end)
        ref = env:add_finalizer(env:create_object(), "b", function(_, data) ran[#ran + 1] = data end, nil, true)
        assert.equal(2, env:stats().finalizers)
        env:close_handle_scope(s)
      end
      assert.equal("napi_invalid_arg", status_of(env.add_finalizer, env, iso:smi(1), "c", function() end))
      iso:collect("full"); loop:run()
      table.sort(ran)
      assert.same({ "a", "b" }, ran)
      assert.is_nil(env:get_reference_value(ref))
      assert.equal(1, env:stats().references_empty)   -- the addon still has to delete it
    end)
  end)

  describe("functions", function()
    it("calls a native function with its receiver, arguments and data, and returns its value", function()
      local seen
      local fn = env:create_function("add", function(e, info)
        local argc, argv, this, data = e:get_cb_info(info, 3)
        seen = { argc = argc, kinds = { argv[1]:kind(), argv[2]:kind(), argv[3]:kind() },
                 this = this:kind(), data = data }
        return iso:smi(argv[1]:value() + argv[2]:value())
      end, "payload")
      local r = env:call_function(env:create_object(), fn, iso:smi(2), iso:smi(40))
      assert.equal(42, r:value())
      assert.same({ argc = 2, kinds = { "smi", "smi", "undefined" }, this = "object", data = "payload" }, seen)
      assert.equal("napi_function", env:typeof(fn))
    end)

    it("says napi_pending_exception when the callee raises", function()
      local fn = env:create_function("boom", function() error("boom") end)
      local status, msg = status_of(env.call_function, env, iso:undefined(), fn)
      assert.equal("napi_pending_exception", status)
      assert.matches("boom", msg)
    end)

    it("keeps the callee's exception pending: calls that may run JavaScript refuse until it is cleared", function()
      local boom = env:create_function("boom", function() error("boom") end)
      local ok_fn = env:create_function("ok", function() end)
      status_of(env.call_function, env, iso:undefined(), boom)
      assert.is_true(env:is_exception_pending())
      local status, msg = status_of(env.call_function, env, iso:undefined(), ok_fn)
      assert.equal("napi_pending_exception", status)
      assert.matches("an exception is pending", msg)
      assert.equal("napi_pending_exception", status_of(env.wrap, env, env:create_object(), 1))
      assert.matches("boom", env:get_and_clear_last_exception())
      assert.is_false(env:is_exception_pending())
      env:call_function(iso:undefined(), ok_fn)
    end)

    it("throws a pending exception on into JavaScript when the native function returns", function()
      local boom = env:create_function("boom", function() error("inner boom") end)
      local after
      local outer = env:create_function("outer", function(e)
        pcall(e.call_function, e, iso:undefined(), boom)  -- the addon ignores the status
        after = e:is_exception_pending()
      end)
      local ok, err = pcall(iso.call, iso, outer, iso:undefined())
      assert.is_false(ok)
      assert.matches("inner boom", err)
      assert.is_true(after)
      assert.is_false(env:is_exception_pending())
    end)

    it("says napi_invalid_arg for a receiver or function that is not a value of the isolate", function()
      local fn = env:create_function("f", function() end)
      assert.equal("napi_invalid_arg", status_of(env.call_function, env, nil, fn))
      assert.equal("napi_invalid_arg", status_of(env.call_function, env, iso:undefined(), env:create_object()))
    end)

    it("refuses a callback info once its call returned, and a callback that is not a function", function()
      local kept
      local fn = env:create_function("keep", function(_, info) kept = info end)
      env:call_function(iso:undefined(), fn)
      assert.equal("napi_invalid_arg", status_of(env.get_cb_info, env, kept))
      assert.equal("napi_invalid_arg", status_of(env.create_function, env, "f", 42))
    end)

    it("stops a callback that returns with a napi scope still open (a CHECK in Node)", function()
      local fn = env:create_function("leaky", function(e) e:open_handle_scope() end)
      local ok, err = pcall(env.call_function, env, iso:undefined(), fn)
      assert.is_false(ok)
      assert.matches("FATAL ERROR: napi_env: CHECK_EQ%(open_handle_scopes, open_handle_scopes_before%)", err)
    end)
  end)

  describe("the environment", function()
    it("adjusts external memory and returns the new total", function()
      assert.equal(1000, env:adjust_external_memory(1000))
      assert.equal(400, env:adjust_external_memory(-600))
      assert.equal(400, iso:stats().external_memory)
    end)

    it("replaces instance data without finalizing the old one", function()
      local fin = {}
      env:set_instance_data("one", function(_, d) fin[#fin + 1] = d end)
      env:set_instance_data("two", function(_, d) fin[#fin + 1] = d end)
      assert.equal("two", env:get_instance_data())
      scope:close()
      env:teardown()
      assert.same({ "two" }, fin)
    end)

    it("tears down: hooks last added first, then pending finalizers, then the finalizers left, newest first",
    function()
      local order = {}
      do
        local s = env:open_handle_scope()
        env:wrap(env:create_object(), "collected", function(_, d) order[#order + 1] = d end)
        local a = env:create_object()
        env:wrap(a, "live wrap", function(_, d) order[#order + 1] = d end)
        env:create_reference(a, 1)              -- keeps the wrapper alive
        local b = env:create_object()
        env:add_finalizer(b, "live finalizer", function(_, d) order[#order + 1] = d end)
        env:create_reference(b, 1)
        env:close_handle_scope(s)
      end
      env:add_env_cleanup_hook(function(arg) order[#order + 1] = arg end, "hook 1")
      env:add_env_cleanup_hook(function(arg) order[#order + 1] = arg end, "hook 2")
      iso:collect("full")                      -- "collected" is now pending
      assert.equal(1, env:stats().pending_finalizers)
      scope:close()
      env:teardown()
      assert.same({ "hook 2", "hook 1", "collected", "live finalizer", "live wrap" }, order)
      assert.is_true(env:stats().torn_down)
      assert.equal(0, iso:stats().scope_depth)
    end)

    it("runs the cleanup hooks under a seal, with JavaScript disallowed", function()
      local fn = env:create_function("f", function() end)
      local ref = env:create_reference(fn, 1)
      local errs = {}
      env:add_env_cleanup_hook(function()
        errs.handle = select(2, pcall(iso.integer, iso, 1))
        local s = env:open_handle_scope()
        errs.call = select(2, pcall(env.call_function, env, env:get_undefined(), env:get_reference_value(ref)))
        env:close_handle_scope(s)
      end)
      scope:close()
      env:teardown()
      assert.matches("seal scope", errs.handle)
      assert.matches("^napi_pending_exception", errs.call)
    end)

    it("removes a cleanup hook by function and argument, and refuses the same pair twice", function()
      local ran = {}
      local function hook(arg) ran[#ran + 1] = arg end
      env:add_env_cleanup_hook(hook, "a")
      env:add_env_cleanup_hook(hook, "b")
      assert.has_error(function() env:add_env_cleanup_hook(hook, "a") end,
        "FATAL ERROR: node::AddEnvironmentCleanupHook: CHECK(insertion_info.second) failed"
        .. " (the same hook and argument added twice)")
      env:remove_env_cleanup_hook(hook, "a")
      assert.equal(1, env:stats().cleanup_hooks)
      scope:close()
      env:teardown()
      assert.same({ "b" }, ran)
    end)

    it("runs at teardown the finalizers queued while the loop was closed", function()
      local ran = false
      do
        local s = env:open_handle_scope()
        env:wrap(env:create_object(), 1, function() ran = true end)
        env:close_handle_scope(s)
      end
      loop:close()
      iso:collect("full")
      assert.equal(1, env:stats().pending_finalizers)
      scope:close()
      env:teardown()
      assert.is_true(ran)
    end)

    it("is unusable once torn down", function()
      scope:close()
      env:teardown()
      assert.has_error(function() env:create_object() end,
        "bad argument #1 to 'create_object' (napi env is torn down)")
    end)

    it("checks its options", function()
      assert.has_error(function() scopelab.napi(iso, loop, { finalizers = "later" }) end,
        "bad argument #3 to 'napi' (option 'finalizers' must be \"deferred\" or \"gc\", got \"later\")")
      assert.has_error(function() scopelab.napi(iso, {}) end,
        "bad argument #2 to 'napi' (scopelab.Loop expected, got table)")
    end)
  end)
end)
