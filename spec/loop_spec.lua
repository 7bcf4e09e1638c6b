-- SPDX-License-Identifier: MIT
-- The event loop (scopelab.loop): libuv's phase order in virtual time, how Node enters
-- callbacks (the seal of SpinEventLoop, or the process-lifetime scope of Node <= 0.10),
-- the worker-thread rule of queue_work, isolate tasks, and node::MakeCallback.
local scopelab = require "scopelab"
local helper = require "helper"

describe("the event loop", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  describe("order", function()
    it("runs timers by due time, and timers due at the same time in the order they were set", function()
      local loop = scopelab.loop(iso)
      local seen = {}
      loop:set_timeout(20, function() seen[#seen + 1] = "b20" end)
      loop:set_timeout(10, function() seen[#seen + 1] = "a10" end)
      loop:set_timeout(20, function() seen[#seen + 1] = "c20" end)
      loop:set_timeout(0, function() seen[#seen + 1] = "z0" end)
      assert.equal(4, loop:run())
      assert.same({ "z0", "a10", "b20", "c20" }, seen)
      assert.equal(20, loop:now())
    end)

    it("runs due timers, then work completions, then immediates", function()
      local loop = scopelab.loop(iso)
      local seen = {}
      loop:set_immediate(function() seen[#seen + 1] = "immediate" end)
      loop:queue_work(function() end, function(status) seen[#seen + 1] = "complete " .. status end)
      loop:set_timeout(0, function() seen[#seen + 1] = "timer" end)
      assert.equal(3, loop:run())
      assert.same({ "timer", "complete 0", "immediate" }, seen)
      assert.equal(0, loop:now())
      assert.equal(1, loop:stats().iterations)
    end)

    it("runs the poll and check phases first in run_once, then the timers due by then", function()
      local loop = scopelab.loop(iso)
      local seen = {}
      loop:set_immediate(function() seen[#seen + 1] = "immediate" end)
      loop:queue_work(function() end, function(status) seen[#seen + 1] = "complete " .. status end)
      loop:set_timeout(0, function() seen[#seen + 1] = "timer" end)
      assert.equal(3, loop:run_once())
      assert.same({ "complete 0", "immediate", "timer" }, seen)
    end)

    it("moves time to the next timer only when nothing else is ready", function()
      local loop = scopelab.loop(iso)
      local times = {}
      loop:set_timeout(50, function() times[#times + 1] = "t50@" .. loop:now() end)
      loop:set_immediate(function()
        times[#times + 1] = "i@" .. loop:now()
        loop:set_immediate(function() times[#times + 1] = "i2@" .. loop:now() end)
      end)
      loop:run()
      assert.same({ "i@0", "i2@0", "t50@50" }, times)
    end)

    it("runs an immediate queued by an immediate in the next iteration", function()
      local loop = scopelab.loop(iso)
      local iteration = {}
      loop:set_immediate(function()
        iteration[1] = loop:stats().iterations
        loop:set_immediate(function() iteration[2] = loop:stats().iterations end)
      end)
      loop:run()
      assert.equal(iteration[1] + 1, iteration[2])
    end)

    it("runs a timer set from a timer callback in a later iteration, even with 0 ms", function()
      local loop = scopelab.loop(iso)
      local seen = {}
      loop:set_timeout(5, function()
        seen[#seen + 1] = "first " .. loop:stats().iterations
        loop:set_timeout(0, function() seen[#seen + 1] = "second " .. loop:stats().iterations end)
      end)
      loop:set_immediate(function() seen[#seen + 1] = "immediate " .. loop:stats().iterations end)
      loop:run()
      assert.same({ "immediate 1", "first 2", "second 3" }, seen)
    end)

    it("completes work queued by a completion in a later iteration", function()
      local loop = scopelab.loop(iso)
      local at = {}
      loop:queue_work(function() end, function()
        at[1] = loop:stats().iterations
        loop:queue_work(function() end, function() at[2] = loop:stats().iterations end)
      end)
      assert.equal(2, loop:run())
      assert.equal(at[1] + 1, at[2])
    end)

    it("returns the number of callbacks run, and counts them by kind", function()
      local loop = scopelab.loop(iso)
      for i = 1, 3 do loop:set_timeout(i, function() end) end
      loop:set_immediate(function() end)
      loop:queue_work(function() end, function() end)
      assert.equal(5, loop:run())
      local st = loop:stats()
      assert.equal(3, st.timers_run)
      assert.equal(1, st.immediates_run)
      assert.equal(1, st.completions_run)
      assert.equal(1, st.work_executed)
      assert.equal(5, st.callbacks_run)
      assert.equal("integer", math.type(st.iterations))
      assert.equal(0, loop:run())             -- nothing left
    end)

    it("runs one iteration with run_once, waiting for the next timer if nothing is ready", function()
      local loop = scopelab.loop(iso)
      local seen = {}
      loop:set_timeout(10, function() seen[#seen + 1] = 10 end)
      loop:set_timeout(30, function() seen[#seen + 1] = 30 end)
      assert.is_true(loop:alive())
      assert.equal(1, loop:run_once())
      assert.same({ 10 }, seen)
      assert.equal(10, loop:now())
      assert.equal(1, loop:run_once())
      assert.same({ 10, 30 }, seen)
      assert.is_false(loop:alive())
      assert.equal(0, loop:run_once())
    end)

    it("does not run a cleared timer or immediate, and no longer counts it as pending", function()
      local loop = scopelab.loop(iso)
      local ran = false
      local t = loop:set_timeout(10, function() ran = true end)
      local im = loop:set_immediate(function() ran = true end)
      assert.is_true(loop:clear_timeout(t))
      assert.is_true(loop:clear_immediate(im))
      assert.is_false(loop:clear_timeout(t))
      assert.is_false(loop:alive())
      assert.equal(0, loop:run())
      assert.is_false(ran)
      assert.equal(0, loop:now())
    end)

    it("lets a timer clear another one due in the same phase", function()
      local loop = scopelab.loop(iso)
      local ran = {}
      local second
      loop:set_timeout(5, function() ran[#ran + 1] = 1; loop:clear_timeout(second) end)
      second = loop:set_timeout(5, function() ran[#ran + 1] = 2 end)
      assert.equal(1, loop:run())
      assert.same({ 1 }, ran)
    end)

    it("completes cancelled work with UV_ECANCELED without executing it", function()
      local loop = scopelab.loop(iso)
      local executed, status = false, nil
      local w = loop:queue_work(function() executed = true end, function(s) status = s end)
      assert.is_true(loop:cancel_work(w))
      assert.equal(1, loop:run())
      assert.is_false(executed)
      assert.equal(-125, status)
      assert.is_false(loop:cancel_work(w))
    end)
  end)

  describe("with node = true (SpinEventLoop)", function()
    it("runs callbacks under a seal: a handle made without a scope of its own raises", function()
      local loop = scopelab.loop(iso)
      loop:set_timeout(1, function() iso:integer(1) end)
      local ok, err = pcall(loop.run, loop)
      assert.is_false(ok)
      assert.matches("cannot create a handle in 'integer' %(the innermost scope is a seal scope", err)
      assert.equal(0, iso:stats().scope_depth)    -- the loop's scopes were closed
      assert.equal(0, #iso)
    end)

    it("lets a callback make handles in a HandleScope of its own", function()
      local loop = scopelab.loop(iso)
      local inside
      loop:set_immediate(function()
        local scope <close> = iso:handle_scope()
        for i = 1, 10 do iso:integer(i) end
        inside = #iso
      end)
      loop:run()
      assert.equal(10, inside)
      assert.equal(0, #iso)
      assert.equal(0, iso:stats().scope_depth)
    end)

    it("opens a HandleScope and a SealHandleScope only while it runs", function()
      local loop = scopelab.loop(iso)
      local report
      loop:set_immediate(function() report = iso:handle_report() end)
      loop:run()
      assert.equal(2, #report)
      assert.equal("handle", report[1].kind)
      assert.equal("seal", report[2].kind)
      assert.equal(0, iso:stats().scope_depth)
    end)

    it("runs a callback's own scopes inside the seal, so a seal is innermost again after it", function()
      local loop = scopelab.loop(iso)
      local errs = {}
      loop:set_immediate(function()
        do local scope <close> = iso:handle_scope(); iso:integer(1) end
        errs[#errs + 1] = select(2, pcall(iso.integer, iso, 2))
      end)
      loop:run()
      assert.matches("seal scope", errs[1])
    end)

    it("refuses a callback that returns with a scope of its own open, and closes it", function()
      local loop = scopelab.loop(iso)
      loop:set_immediate(function() iso:handle_scope(); iso:integer(1) end)
      local ok, err = pcall(loop.run, loop)
      assert.is_false(ok)
      assert.equal("callback left 1 scope open", err)
      assert.equal(0, iso:stats().scope_depth)
      assert.equal(0, #iso)
    end)

    it("keeps the loop usable after a callback's error", function()
      local loop = scopelab.loop(iso)
      loop:set_immediate(function() error("boom") end)
      loop:set_timeout(5, function() end)
      assert.has_error(function() loop:run() end)
      assert.is_true(loop:alive())
      assert.equal(1, loop:run())
      assert.equal(5, loop:now())
    end)
  end)

  describe("with node = false (Node <= 0.10)", function()
    it("piles up handles made without a scope in one scope kept open until close", function()
      local loop = scopelab.loop(iso, { node = false })
      for i = 1, 100 do loop:set_timeout(i, function() iso:integer(i) end) end
      assert.equal(100, loop:run())
      assert.equal(100, #iso)                         -- nothing freed them
      assert.equal(100, loop:stats().scope_handles)
      assert.equal(1, iso:stats().scope_depth)        -- the loop's scope is still open
      loop:close()
      assert.equal(0, #iso)
      assert.equal(0, iso:stats().scope_depth)
    end)

    it("keeps those handles' objects alive across collections until the loop closes", function()
      local loop = scopelab.loop(iso, { node = false })
      local probe
      loop:set_immediate(function() probe = iso:probe(iso:string("request body")) end)
      loop:run()
      iso:collect("full"); iso:verify()
      assert.is_true(probe:alive())
      loop:set_immediate(function() end)
      loop:run()                                      -- a later run uses the same scope
      iso:collect("full"); iso:verify()
      assert.is_true(probe:alive())
      loop:close()
      iso:collect("full"); iso:verify()
      assert.is_false(probe:alive())
    end)

    it("closes the scopes a failing callback leaked, its own long-lived one included", function()
      local loop = scopelab.loop(iso, { node = false })
      loop:set_immediate(function() iso:integer(1); iso:handle_scope(); error("boom") end)
      assert.has_error(function() loop:run() end)
      assert.equal(0, iso:stats().scope_depth)
      loop:set_immediate(function() iso:integer(2) end)
      loop:run()                                      -- a new long-lived scope
      assert.equal(1, #iso)
      loop:close()
    end)
  end)

  describe("queue_work", function()
    it("runs execute as a worker thread: heap and handle calls raise, native blocks do not", function()
      local loop = scopelab.loop(iso)
      local results = {}
      local block
      loop:queue_work(function()
        results.smi = select(2, pcall(iso.smi, iso, 1))
        results.scope = select(2, pcall(iso.handle_scope, iso))
        results.stats = select(2, pcall(iso.stats, iso))
        block = iso:native_alloc(4096, "worker buffer")     -- malloc is fine on a thread
      end, function(status)
        results.status = status
        local scope <close> = iso:handle_scope()            -- back on the loop thread
        results.after = iso:string("done"):value()
        block:free()
      end)
      loop:run()
      assert.matches("isolate used from a worker thread", results.smi)
      assert.matches("isolate used from a worker thread", results.scope)
      assert.matches("isolate used from a worker thread", results.stats)
      assert.equal(0, results.status)
      assert.equal("done", results.after)
      assert.is_true(block:is_freed())
    end)

    it("propagates an error of execute out of run, with the isolate usable again", function()
      local loop = scopelab.loop(iso)
      loop:queue_work(function() iso:object() end, function() end)
      local ok, err = pcall(loop.run, loop)
      assert.is_false(ok)
      assert.matches("isolate used from a worker thread", err)
      local scope <close> = iso:handle_scope()
      assert.equal("object", iso:object():kind())
    end)
  end)

  describe("isolate tasks", function()
    it("runs pending isolate tasks as part of the loop, in a HandleScope", function()
      local loop = scopelab.loop(iso)
      local made
      iso:post_task(function() made = iso:string("from a task"):value() end)
      assert.is_true(loop:alive())
      assert.equal(0, loop:run())                         -- tasks are not counted
      assert.equal("from a task", made)
      assert.equal(1, loop:stats().tasks_run)
      assert.is_false(loop:alive())
    end)

    it("runs a task posted by a timer in the poll phase of the same iteration", function()
      local loop = scopelab.loop(iso)
      local seen = {}
      loop:set_timeout(0, function()
        iso:post_task(function() seen[#seen + 1] = "task" end)
      end)
      loop:set_immediate(function() seen[#seen + 1] = "immediate" end)
      loop:run()
      assert.same({ "task", "immediate" }, seen)
    end)

    it("runs the second pass of a collection a callback's allocation started", function()
      local small = scopelab.isolate { young_size = 4096, gc_interval = 0 }
      local loop = scopelab.loop(small)
      local passes = {}
      loop:set_immediate(function()
        do
          local scope <close> = small:handle_scope()
          local p = small:persistent(small:object())
          p:set_weak { parameter = p, first_pass = function(info)
            info:parameter():reset()
            passes[#passes + 1] = "first"
            info:set_second_pass_callback(function() passes[#passes + 1] = "second" end)
          end }
        end
        for i = 1, 2000 do local s <close> = small:handle_scope(); small:integer(i) end
        passes[#passes + 1] = "callback done"
      end)
      loop:run()
      assert.same({ "first", "callback done", "second" }, passes)
      small:dispose()
    end)
  end)

  describe("make_callback", function()
    it("calls the function in V8's implicit scope: its Locals die, the result is the caller's", function()
      local loop = scopelab.loop(iso)
      local scope <close> = iso:handle_scope()
      local inside
      local fn = iso:func(function(info)
        for i = 1, 10 do iso:integer(i) end
        inside = loop:stats().callback_scope_depth
        info:set_return_value(iso:string("result"))
      end)
      local before = #iso
      local r = loop:make_callback(fn, iso:object())
      assert.equal(before + 2, #iso)                      -- the receiver and the result
      assert.equal("result", r:value())
      assert.equal(1, inside)
      assert.equal(0, loop:stats().callback_scope_depth)
      assert.equal(1, loop:stats().make_callbacks)
    end)

    it("fails before the callee runs when the caller is under the seal with no scope of its own", function()
      local loop = scopelab.loop(iso)
      local fn, ran
      do
        local scope <close> = iso:handle_scope()
        fn = iso:persistent(iso:func(function() ran = true end))
      end
      local err
      loop:set_immediate(function()
        err = select(2, pcall(function() loop:make_callback(fn:get(), iso:undefined()) end))
      end)
      loop:run()
      assert.matches("seal scope", err)
      assert.is_nil(ran)
      loop:set_immediate(function()
        local scope <close> = iso:handle_scope()            -- the fix: a scope in the uv callback
        loop:make_callback(fn:get(), iso:undefined())
      end)
      loop:run()
      assert.is_true(ran)
      assert.equal(0, loop:stats().callback_scope_depth)
    end)

    it("nests, and keeps its depth right when the callee raises", function()
      local loop = scopelab.loop(iso)
      local scope <close> = iso:handle_scope()
      local depths = {}
      local inner = iso:func(function() depths[#depths + 1] = loop:stats().callback_scope_depth; error("inner") end)
      local outer = iso:func(function()
        depths[#depths + 1] = loop:stats().callback_scope_depth
        pcall(loop.make_callback, loop, inner, iso:undefined())
      end)
      loop:make_callback(outer, iso:undefined())
      assert.same({ 1, 2 }, depths)
      assert.equal(0, loop:stats().callback_scope_depth)
    end)
  end)

  describe("misuse", function()
    it("refuses to run from inside one of its callbacks", function()
      local loop = scopelab.loop(iso)
      local err
      loop:set_immediate(function() err = select(2, pcall(loop.run, loop)) end)
      loop:run()
      assert.matches("cannot 'run' now %(the loop is already running%)", err)
    end)

    it("refuses to close while something is pending, as uv_loop_close does", function()
      local loop = scopelab.loop(iso)
      loop:set_timeout(10, function() end)
      assert.has_error(function() loop:close() end, "cannot 'close' now (the loop is busy: 1 timer)")
      loop:run()
      loop:close()
      loop:close()                                    -- twice is harmless
      assert.is_true(loop:is_closed())
      assert.has_error(function() loop:set_immediate(function() end) end,
        "bad argument #1 to 'set_immediate' (loop is closed)")
    end)

    it("drops what is pending when closed by an error in flight", function()
      local ok = pcall(function()
        local loop <close> = scopelab.loop(iso, { node = false })
        loop:set_immediate(function() iso:integer(1) end)
        loop:run()
        loop:set_timeout(5, function() end)
        error("boom")
      end)
      assert.is_false(ok)
      assert.equal(0, iso:stats().scope_depth)
    end)

    it("checks its arguments", function()
      local loop = scopelab.loop(iso)
      assert.has_error(function() loop:set_timeout(-1, function() end) end,
        "bad argument #2 to 'set_timeout' (milliseconds must be a non-negative integer, got -1)")
      assert.has_error(function() loop:set_timeout(1.5, function() end) end,
        "bad argument #2 to 'set_timeout' (milliseconds must be a non-negative integer, got 1.5)")
      assert.has_error(function() loop:set_timeout(1, "f") end,
        "bad argument #3 to 'set_timeout' (function expected, got string)")
      assert.has_error(function() loop:set_immediate() end,
        "bad argument #2 to 'set_immediate' (function expected, got nil)")
      assert.has_error(function() scopelab.loop(iso, { nod = true }) end,
        "bad argument #2 to 'loop' (unknown option 'nod')")
      assert.has_error(function() scopelab.loop({}) end,
        "bad argument #1 to 'loop' (scopelab.Isolate expected, got table)")
    end)

    it("is also require 'scopelab.loop', callable", function()
      local loop = require("scopelab.loop")(iso, { node = false })
      assert.is_false(loop:stats().node)
      assert.matches("^scopelab.Loop: legacy mode, 0 ms, nothing pending %(open%)$", tostring(loop))
    end)
  end)
end)
