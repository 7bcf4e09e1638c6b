-- SPDX-License-Identifier: MIT
-- The isolate's task queue (what V8 posts to the platform): iso:post_task(fn),
-- iso:run_tasks(), stats().pending_tasks.
local helper = require "helper"
local scopelab = require "scopelab"

describe("a task", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("waits for iso:run_tasks(), which runs the pending ones in order and counts them", function()
    local ran = {}
    iso:post_task(function() ran[#ran + 1] = "a" end)
    iso:post_task(function() ran[#ran + 1] = "b" end)
    assert.same({}, ran)
    assert.equal(2, iso:stats().pending_tasks)
    assert.equal(2, iso:run_tasks())
    assert.same({ "a", "b" }, ran)
    assert.equal(0, iso:stats().pending_tasks)
    assert.equal(0, iso:run_tasks())
    assert.equal(2, iso:stats().tasks_run)
  end)

  it("posted by a task waits for the next run, so a task posting itself ends", function()
    local n = 0
    local function again()
      n = n + 1
      iso:post_task(again)
    end
    iso:post_task(again)
    assert.equal(1, iso:run_tasks())
    assert.equal(1, n)
    assert.equal(1, iso:stats().pending_tasks)
    assert.equal(1, iso:run_tasks())
    assert.equal(2, n)
  end)

  it("may use the whole API", function()
    local value
    iso:post_task(function()
      local s <close> = iso:handle_scope()
      local o = iso:object()
      o:set("k", iso:integer(5))
      iso:collect("full")
      value = o:get("k"):value()
    end)
    iso:run_tasks()
    assert.equal(5, value)
    iso:verify()
  end)

  it("that raises is warned and counted, and the tasks after it still run", function()
    local warnings, ran = {}, false
    local w = scopelab.isolate { warn = function(m) warnings[#warnings + 1] = m end }
    w:post_task(function() error("task failed", 0) end)
    w:post_task(function() ran = true end)
    assert.equal(2, w:run_tasks())
    assert.is_true(ran)
    assert.same({ "scopelab: error in task: task failed" }, warnings)
    assert.equal(1, w:stats().callback_errors)
    w:dispose()
  end)

  it("runs beside the second passes of weak callbacks, in the order they were queued", function()
    local trig = scopelab.isolate { gc_interval = 0, young_size = 4096 }
    local order = {}
    trig:post_task(function() order[#order + 1] = "task 1" end)
    local p
    do
      local s <close> = trig:handle_scope()
      p = trig:persistent(trig:object())
      p:set_weak { first_pass = function(info)
        p:reset()
        info:set_second_pass_callback(function() order[#order + 1] = "second pass" end)
      end }
    end
    do
      local s <close> = trig:handle_scope()
      while trig:stats().minor_collections == 0 do
        local t <close> = trig:handle_scope()
        trig:integer(1)
      end
    end
    trig:post_task(function() order[#order + 1] = "task 2" end)
    assert.equal(3, trig:run_tasks())
    assert.same({ "task 1", "second pass", "task 2" }, order)
    trig:dispose()
  end)

  it("never runs if the isolate is disposed first", function()
    local other = scopelab.isolate()
    local ran = false
    other:post_task(function() ran = true end)
    other:dispose()
    assert.is_false(ran)
    assert.has_error(function() other:run_tasks() end,
      "bad argument #1 to 'run_tasks' (isolate is disposed)")
  end)

  it("must be a function", function()
    assert.has_error(function() iso:post_task("f") end,
      "bad argument #2 to 'post_task' (function expected, got string)")
    assert.equal(0, iso:stats().pending_tasks)
  end)
end)
