-- SPDX-License-Identifier: MIT
-- Hardening of the event loop and Node-API layer (scopelab.loop, scopelab.napi): what a
-- callback that raises, a handle of another loop, a huge timeout, a callback that
-- disposes the isolate, a finalizer that raises at teardown, a deleted wrap reference
-- or a forged napi_ref used to do (lose callbacks and hang the next run, corrupt a
-- loop's counts, fire a timer at once, raise a raw Lua error naming the wrong
-- operation, strand finalizers, hand back another wrap's data), each now an error that
-- names the operation, or the behaviour Node has.
local scopelab = require "scopelab"
local napi = require "scopelab.napi"

-- Runs loop:run() with a budget of Lua instructions: a loop that spins forever fails
-- the spec with "loop:run() did not return" instead of hanging the run.
local function bounded_run(loop)
  local co = coroutine.create(function() return loop:run() end)
  debug.sethook(co, function() error("loop:run() did not return", 0) end, "", 50000000)
  local ok, r = coroutine.resume(co)
  assert(ok, r)
  return r
end

describe("a loop callback that raises", function()
  local iso
  before_each(function() iso = scopelab.isolate() end)
  after_each(function() iso:dispose() end)

  it("leaves the other timers due in its phase for the next run, which runs them", function()
    local loop = scopelab.loop(iso)
    local ran = {}
    loop:set_timeout(5, function() error("boom", 0) end)
    loop:set_timeout(5, function() ran[#ran + 1] = "second" end)
    loop:set_timeout(7, function() ran[#ran + 1] = "third" end)
    local ok, err = pcall(loop.run, loop)
    assert.is_false(ok)
    assert.equal("boom", err)
    assert.is_true(loop:alive())
    assert.equal(2, bounded_run(loop))
    assert.same({ "second", "third" }, ran)
    assert.is_false(loop:alive())
  end)

  it("leaves the immediates queued after it for the next run, before newer ones", function()
    local loop = scopelab.loop(iso)
    local ran = {}
    loop:set_immediate(function()
      loop:set_immediate(function() ran[#ran + 1] = "newer" end)
      error("boom", 0)
    end)
    loop:set_immediate(function() ran[#ran + 1] = "older" end)
    assert.has_error(function() loop:run() end, "boom")
    assert.equal(2, bounded_run(loop))
    assert.same({ "older", "newer" }, ran)
  end)

  it("leaves the work items after it to complete in the next run", function()
    local loop = scopelab.loop(iso)
    local ran = {}
    loop:queue_work(function() end, function() error("complete boom", 0) end)
    loop:queue_work(function() end, function(status) ran[#ran + 1] = status end)
    assert.has_error(function() loop:run() end, "complete boom")
    assert.equal(1, bounded_run(loop))
    assert.same({ 0 }, ran)
  end)

  it("in execute ends its work item uncompleted, and the next run completes the others", function()
    local loop = scopelab.loop(iso)
    local ran = {}
    loop:queue_work(function() error("execute boom", 0) end, function() ran[#ran + 1] = "first" end)
    loop:queue_work(function() end, function() ran[#ran + 1] = "second" end)
    assert.has_error(function() loop:run() end, "execute boom")
    assert.equal(1, loop:stats().pending_work)
    assert.equal(1, bounded_run(loop))
    assert.same({ "second" }, ran)
    assert.equal(0, loop:stats().pending_work)
  end)

  it("leaves the native immediates after it for the next run", function()
    local loop = scopelab.loop(iso)
    local ran = 0
    loop:native_immediate(function() error("native boom", 0) end)
    loop:native_immediate(function() ran = ran + 1 end)
    assert.has_error(function() loop:run() end, "native boom")
    assert.is_true(loop:alive())
    bounded_run(loop)
    assert.equal(1, ran)
  end)
end)

describe("a loop callback", function()
  local iso
  before_each(function() iso = scopelab.isolate() end)
  after_each(function() if not iso:is_disposed() then iso:dispose() end end)

  it("that disposes the isolate stops the run with that reason, not another call's", function()
    local loop = scopelab.loop(iso)
    loop:set_timeout(1, function() iso:dispose() end)
    local ok, err = pcall(loop.run, loop)
    assert.is_false(ok)
    assert.equal("a callback disposed the isolate", err)
    assert.is_false(loop:is_running())
  end)

  it("that closes a scope it did not open is told so, not that it left -1 open", function()
    local loop = scopelab.loop(iso, { node = false })
    loop:set_timeout(1, function() loop.scope:close() end)
    local ok, err = pcall(loop.run, loop)
    assert.is_false(ok)
    assert.equal("callback closed 1 scope it did not open", err)
  end)
end)

describe("a loop handle of another loop", function()
  local iso
  before_each(function() iso = scopelab.isolate() end)
  after_each(function() iso:dispose() end)

  it("is refused by clear_timeout, clear_immediate and cancel_work, both loops' counts kept", function()
    local a, b = scopelab.loop(iso), scopelab.loop(iso)
    local t, im, w = b:set_timeout(1, function() end), b:set_immediate(function() end),
      b:queue_work(function() end, function() end)
    assert.has_error(function() a:clear_timeout(t) end,
      "bad argument #2 to 'clear_timeout' (timer of another loop)")
    assert.has_error(function() a:clear_immediate(im) end,
      "bad argument #2 to 'clear_immediate' (immediate of another loop)")
    assert.has_error(function() a:cancel_work(w) end,
      "bad argument #2 to 'cancel_work' (work of another loop)")
    assert.equal(0, a:stats().pending_timers)
    assert.equal(0, a:stats().pending_immediates)
    assert.is_false(a:alive())
    assert.equal(3, bounded_run(b))
  end)

  it("made up as a table is refused as well", function()
    local loop = scopelab.loop(iso)
    assert.has_error(function() loop:clear_timeout { kind = "timer" } end,
      "bad argument #2 to 'clear_timeout' (timer of another loop)")
    assert.equal(0, loop:stats().pending_timers)
  end)
end)

describe("a timeout past the end of virtual time", function()
  it("saturates, as libuv's does, instead of wrapping to a timer due at once", function()
    local iso <close> = scopelab.isolate()
    local loop = scopelab.loop(iso)
    loop:set_timeout(10, function() end)
    loop:run()
    local fired
    loop:set_timeout(math.maxinteger, function() fired = loop:now() end)
    loop:set_timeout(1, function() end)
    loop:run_once()
    assert.is_nil(fired)
    assert.equal(11, loop:now())
    loop:run()
    assert.equal(math.maxinteger, fired)
  end)
end)

describe("a napi finalizer that raises", function()
  local iso, loop, env
  before_each(function()
    iso = scopelab.isolate()
    loop = scopelab.loop(iso)
    env = napi(iso, loop)
  end)
  after_each(function() iso:dispose() end)

  local function finalized(cbs)
    local s <close> = iso:handle_scope()
    for _, cb in ipairs(cbs) do env:add_finalizer(env:create_object(), nil, cb) end
  end

  it("from the loop leaves the finalizers queued after it to run at the next run", function()
    local ran = {}
    finalized {
      function() ran[#ran + 1] = "a" end,
      function() error("fin boom", 0) end,
      function() ran[#ran + 1] = "c" end,
    }
    iso:collect("major")
    assert.equal(3, env:stats().pending_finalizers)
    assert.has_error(function() loop:run() end, "fin boom")
    assert.equal(1, env:stats().pending_finalizers)
    assert.is_true(loop:alive())
    bounded_run(loop)
    assert.equal(0, env:stats().pending_finalizers)
    assert.same({ "a", "c" }, ran)
  end)

  it("at teardown does not stop it: the rest run, the env is torn down, the error raised", function()
    local ran = {}
    finalized { function() ran[#ran + 1] = "older" end, function() error("fin boom", 0) end }
    env:add_env_cleanup_hook(function() error("hook boom", 0) end)
    env:add_env_cleanup_hook(function() ran[#ran + 1] = "hook" end)
    local ok, err = pcall(env.teardown, env)
    assert.is_false(ok)
    assert.equal("hook boom", err)                 -- the first of the two errors
    assert.same({ "hook", "older" }, ran)
    assert.is_true(env:stats().torn_down)
    assert.equal(0, env:stats().finalizers)
    assert.equal(0, iso:stats().scope_depth)
  end)

  it("at teardown, by disposing the isolate, stops it with that reason", function()
    finalized { function() end, function() iso:dispose() end }
    local ok, err = pcall(env.teardown, env)
    assert.is_false(ok)
    assert.equal("cannot 'teardown' now (a cleanup hook or finalizer disposed the isolate)", err)
    assert.is_true(env:stats().torn_down)
  end)
end)

describe("a napi env whose isolate is disposed", function()
  it("refuses every call naming the call, not the isolate method it would reach", function()
    local iso = scopelab.isolate()
    local env = napi(iso, scopelab.loop(iso))
    iso:dispose()
    assert.has_error(function() env:teardown() end,
      "bad argument #1 to 'teardown' (napi env's isolate is disposed)")
    assert.has_error(function() env:create_object() end,
      "bad argument #1 to 'create_object' (napi env's isolate is disposed)")
  end)
end)

describe("unwrap of an object whose wrap reference was deleted", function()
  local iso, env
  before_each(function()
    iso = scopelab.isolate()
    env = napi(iso, scopelab.loop(iso))
    iso:handle_scope()                            -- closed by dispose
  end)
  after_each(function() iso:dispose() end)

  it("is napi_invalid_arg, not a raw Lua error from following the freed block", function()
    local obj = env:create_object()
    env:delete_reference(env:wrap(obj, "native", function() end, nil, true))
    for _, op in ipairs { "unwrap", "remove_wrap" } do
      local ok, err = pcall(env[op], env, obj)
      assert.is_false(ok)
      assert.matches("^napi_invalid_arg: Invalid argument %('" .. op .. "' at .*: object's wrap "
        .. "is not this env's, or the napi_ref napi_wrap returned for it was deleted%)$", err)
    end
  end)

  it("never gives the data of a later wrap whose block took the freed block's address", function()
    local obj = env:create_object()
    env:delete_reference(env:wrap(obj, "mine", function() end, nil, true))
    local others = {}
    for i = 1, 8 do                               -- the allocator reuses the freed block
      others[i] = env:create_object()
      env:wrap(others[i], "other", function() end)
    end
    local ok, err = pcall(env.unwrap, env, obj)
    assert.is_false(ok)
    assert.matches("napi_ref napi_wrap returned for it was deleted%)$", err)
    assert.equal("other", env:unwrap(others[1]))
    assert.matches("object is not wrapped%)$",      -- and told apart from a never wrapped one
      select(2, pcall(env.unwrap, env, env:create_object())))
  end)
end)

describe("a napi_ref", function()
  it("made up as a table with the napi_ref metatable is refused without reading its fields", function()
    local iso <close> = scopelab.isolate()
    local env = napi(iso, scopelab.loop(iso))
    local forged = setmetatable({ env = env, deleted = false, persistent = 5, count = 1 }, napi.Ref)
    for _, op in ipairs { "reference_ref", "reference_unref", "get_reference_value",
                          "delete_reference" } do
      local ok, err = pcall(env[op], env, forged)
      assert.is_false(ok)
      assert.matches("^napi_invalid_arg: .*napi_ref expected, got a forged napi_ref%)$", err)
    end
    assert.equal("napi_invalid_arg", env:get_last_error_info().status)
  end)
end)
