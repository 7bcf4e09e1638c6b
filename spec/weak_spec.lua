-- SPDX-License-Identifier: MIT
-- Weak persistent handles with callbacks (V8's phantom weak handles).
local scopelab = require "scopelab"
local helper = require "helper"

describe("a weak persistent handle", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  -- A persistent to a fresh object that nothing else holds, and its probe.
  local function garbage(v)
    local s <close> = iso:handle_scope()
    local h = iso:integer(v or 1)
    return iso:persistent(h), iso:probe(h)
  end

  it("lets its object die at the next collection that finds it unreachable", function()
    local p, w = garbage()
    p:set_weak()
    assert.is_true(p:is_weak())
    iso:collect("major")
    assert.is_false(w:alive())
    assert.is_true(p:is_empty())
    assert.is_false(p:is_weak())
    iso:verify()
  end)

  it("lets a young object held only weakly die in a minor collection", function()
    local p, w = garbage()
    assert.equal("young", w:generation())
    p:set_weak()
    local st = iso:collect("minor")
    iso:verify()
    assert.is_false(w:alive())
    assert.is_true(p:is_empty())
    assert.equal(1, st.weak_cleared)
  end)

  it("is already empty when its callback runs, which runs once, after the collection", function()
    local p, w = garbage()
    local seen = {}
    p:set_weak(function(arg)
      seen[#seen + 1] = { same = arg == p, empty = arg:is_empty(), alive = w:alive() }
    end)
    local st = iso:collect("major")
    assert.same({ { same = true, empty = true, alive = false } }, seen)
    assert.equal(1, st.callbacks_run)
    iso:collect("minor"); iso:collect("major")
    assert.equal(1, #seen)
    assert.equal(1, iso:stats().weak_callbacks_run)
  end)

  it("becomes strong again with clear_weak and its object survives", function()
    local p, w = garbage()
    local called = false
    p:set_weak(function() called = true end)
    p:clear_weak()
    assert.is_false(p:is_weak())
    iso:collect("minor"); iso:collect("major")
    assert.is_true(w:alive())
    assert.is_false(called)
    p:reset()
  end)

  it("does not clear an object that is still reachable", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(5)
    local p = iso:persistent(h)
    local ran = false                              -- (an error here would only be warned)
    p:set_weak(function() ran = true end)
    local st = iso:collect("major")
    iso:verify()
    assert.is_false(ran)
    assert.equal(0, st.weak_cleared)
    assert.is_true(p:is_weak())
    assert.is_false(p:is_empty())
    assert.equal(5, p:get():value())
  end)

  it("follows the moves of a surviving object", function()
    local s <close> = iso:handle_scope()
    local h = iso:string("moving")
    local p = iso:persistent(h)
    local w = iso:probe(h)
    p:set_weak()
    local before = h:address()
    iso:collect("minor")
    iso:verify()
    assert.are_not.equal(before, h:address())
    assert.equal(1, w:moves())
    assert.equal("moving", p:get():value())
    assert.is_true(p:get() == h)
    iso:verify()
  end)

  it("runs a callback that allocates and collects", function()
    local p = garbage()
    local inner_stats, value
    p:set_weak(function()
      local s <close> = iso:handle_scope()
      local h = iso:array(3)
      h:set(1, iso:string("in callback"))
      inner_stats = iso:collect("major")
      value = h:get(1):value()
    end)
    iso:collect("major")
    assert.equal("in callback", value)
    assert.equal("major", inner_stats.kind)
    iso:verify()
    local s <close> = iso:handle_scope()
    assert.equal(7, iso:integer(7):value())
  end)

  it("clears 10,000 weak handles to garbage with 10,000 callbacks in the order they were made weak", function()
    local order = {}
    local keep = {}
    for i = 1, 10000 do keep[i] = garbage(i) end
    -- Made weak in the reverse of their creation order, so that running the
    -- callbacks in node (creation) order would fail.
    for i = 10000, 1, -1 do
      keep[i]:set_weak(function() order[#order + 1] = i end)
    end
    local st = iso:collect("major")
    iso:verify()
    assert.equal(10000, st.weak_cleared)
    assert.equal(10000, st.callbacks_run)
    assert.equal(10000, #order)
    local first_wrong
    for k = 1, 10000 do
      if order[k] ~= 10001 - k then first_wrong = k break end
    end
    assert.is_nil(first_wrong)
    for i = 1, 10000, 999 do assert.is_true(keep[i]:is_empty()) end
    assert.equal(0, iso:stats().weak_handles)
  end)

  it("reports an error inside a callback through warn and still runs later callbacks", function()
    local msgs = {}
    local w = scopelab.isolate { gc_interval = 0, warn = function(m) msgs[#msgs + 1] = m end }
    local ran = {}
    local ps = {}
    for i = 1, 3 do
      local s <close> = w:handle_scope()
      ps[i] = w:persistent(w:integer(i))
      ps[i]:set_weak(function()
        ran[#ran + 1] = i
        if i == 2 then error("callback " .. i .. " failed", 0) end
      end)
    end
    local st = w:collect("major")
    assert.same({ 1, 2, 3 }, ran)
    assert.equal(1, st.callback_errors)
    assert.equal(3, st.callbacks_run)
    assert.same({ "scopelab: error in weak callback: callback 2 failed" }, msgs)
    assert.equal(1, w:stats().callback_errors)
    w:verify()
    w:dispose()
  end)

  it("reports callback errors through Lua's warn when no warn option is given", function()
    local script = [[
      warn("@on")
      local scopelab = require "scopelab"
      local iso = scopelab.isolate()
      do
        local s <close> = iso:handle_scope()
        local p = iso:persistent(iso:integer(1))
        p:set_weak(function() error("oops", 0) end)
      end
      iso:collect("major")
      io.stdout:write("done\n")
    ]]
    local name = os.tmpname()
    local f = assert(io.open(name, "w")); f:write(script); f:close()
    local pipe = io.popen("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/?.so;;' "
      .. "lua5.4 " .. name .. " 2>&1")
    local out = pipe:read("a")
    pipe:close()
    os.remove(name)
    assert.matches("Lua warning: scopelab: error in weak callback: oops", out, 1, true)
    assert.matches("done", out, 1, true)
  end)

  it("runs callbacks after a collection triggered by an allocation", function()
    local w = scopelab.isolate { gc_interval = 3, gc_interval_kind = "major" }
    local cleared = 0
    do
      local s <close> = w:handle_scope()
      local p = w:persistent(w:integer(1))
      p:set_weak(function(q) cleared = cleared + 1; assert(q:is_empty()) end)
    end
    local s <close> = w:handle_scope()
    for i = 1, 10 do w:integer(i) end
    assert.equal(1, cleared)
    assert.equal(10, w:integer(10):value())
    w:verify()
    w:dispose()
  end)

  it("can be made weak again from inside its own callback", function()
    local p = garbage()
    local runs = 0
    p:set_weak(function(q)
      runs = runs + 1
      local s <close> = iso:handle_scope()
      q:reset(iso:integer(2))
      q:set_weak(function() runs = runs + 1 end)
    end)
    iso:collect("major")
    assert.equal(1, runs)
    iso:collect("major")
    assert.equal(2, runs)
  end)

  it("refuses to dispose the isolate from inside a callback and says so through warn", function()
    local msgs = {}
    local w = scopelab.isolate { warn = function(m) msgs[#msgs + 1] = m end }
    do
      local s <close> = w:handle_scope()
      local p = w:persistent(w:integer(1))
      p:set_weak(function() w:dispose() end)
    end
    w:collect("major")
    assert.equal(1, #msgs)
    assert.matches("^scopelab: error in weak callback: .-cannot 'dispose' now %(.*weak callback%)$", msgs[1])
    assert.is_false(w:is_disposed())
    w:dispose()
    assert.is_true(w:is_disposed())
  end)

  it("records every callback with its collection and order when record_weak is set", function()
    local w = scopelab.isolate { gc_interval = 0, record_weak = true }
    local ps = {}
    for i = 1, 3 do
      local s <close> = w:handle_scope()
      ps[i] = w:persistent(w:integer(i))
      ps[i]:set_weak(function() end)
    end
    local st = w:collect("major")
    local log = w:weak_log()
    assert.equal(3, #log)
    for i = 1, 3 do
      assert.equal(ps[i], log[i].handle)
      assert.equal(st.number, log[i].collection)
      assert.equal(i, log[i].order)
    end
    w:dispose()
    assert.has_error(function() iso:weak_log() end,
      "bad argument #1 to 'weak_log' (weak callbacks are not recorded (option 'record_weak'))")
  end)

  it("refuses set_weak on an empty handle and a non-function callback", function()
    local p = iso:persistent()
    assert.has_error(function() p:set_weak() end,
      "bad argument #1 to 'set_weak' (persistent handle is empty)")
    local q = garbage()
    assert.has_error(function() q:set_weak(42) end,
      "bad argument #2 to 'set_weak' (function expected, got number)")
  end)
end)

describe("weak callbacks of one collection", function()
  it("skip a callback whose handle an earlier callback reset, even once Lua freed it", function()
    local iso <close> = scopelab.isolate { gc_interval = 0 }
    local outer <close> = iso:handle_scope()
    local p1, p2
    do
      local s <close> = iso:handle_scope()
      p1, p2 = iso:persistent(iso:integer(1)), iso:persistent(iso:integer(2))
    end
    local second_ran = false
    p1:set_weak(function() p2:reset(); p2 = nil; collectgarbage(); collectgarbage() end)
    p2:set_weak(function() second_ran = true end)
    local gc = iso:collect("major")
    iso:verify()
    assert.equal(2, gc.weak_cleared)
    assert.equal(1, gc.callbacks_run)
    assert.is_false(second_ran)
  end)

  it("do not run an old callback for a handle re-targeted and made weak again", function()
    local iso <close> = scopelab.isolate { gc_interval = 0 }
    local outer <close> = iso:handle_scope()
    local p1, p2, keep, alive_probe
    do
      local s <close> = iso:handle_scope()
      p1, p2 = iso:persistent(iso:integer(1)), iso:persistent(iso:integer(2))
      local h3 = iso:integer(3)
      keep, alive_probe = iso:persistent(h3), iso:probe(h3)
    end
    local ran_on_live = false
    p1:set_weak(function()
      local s <close> = iso:handle_scope()
      p2:reset(keep:get())
      p2:set_weak(function() ran_on_live = alive_probe:alive() end)
    end)
    p2:set_weak(function() end)
    iso:collect("major")
    iso:verify()
    assert.is_false(ran_on_live)
    assert.is_false(p2:is_empty())         -- still holds the live object, weakly
  end)
end)
