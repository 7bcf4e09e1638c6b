-- SPDX-License-Identifier: MIT
-- The move log (option 'record_moves') and the weak-callback trace (option 'record_weak').
local scopelab = require "scopelab"
local helper = require "helper"

describe("the move log", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end,
    { gc_interval = 0, stress_compaction = true, record_moves = true })

  it("records every move with id, from, to and collection number", function()
    local s <close> = iso:handle_scope()
    local a, b = iso:integer(1), iso:string("two")
    local before = { [a:id()] = a:address(), [b:id()] = b:address() }
    iso:collect("minor")
    local moves = iso:moves()
    assert.equal(2, #moves)
    for _, m in ipairs(moves) do
      assert.equal(1, m.collection)
      assert.equal(before[m.id], m.from)
      assert.equal(m.id == a:id() and a:address() or b:address(), m.to)
      assert.is_not.equal(m.from, m.to)
      assert.equal("integer", math.type(m.to))
    end
  end)

  it("agrees with the collections' own counts and with the probes", function()
    local s <close> = iso:handle_scope()
    local list = iso:array(3)
    for i = 1, 3 do list:set(i, iso:integer(i)) end
    local w = iso:probe(list)
    local moved = 0
    for _, kind in ipairs { "minor", "minor", "major" } do moved = moved + iso:collect(kind).moved end
    local moves = iso:moves()
    assert.equal(moved, #moves)
    assert.equal(iso:stats().objects_moved, #moves)
    local mine = {}
    for _, m in ipairs(moves) do if m.id == w:id() then mine[#mine + 1] = m end end
    assert.equal(w:moves(), #mine)
    assert.same({ 1, 2, 3 }, { mine[1].collection, mine[2].collection, mine[3].collection })
    assert.equal(mine[1].to, mine[2].from)              -- each move starts where the last ended
    assert.equal(mine[3].to, w:address())
  end)

  it("does not record objects that died", function()
    do
      local s <close> = iso:handle_scope()
      iso:integer(1)
    end
    iso:collect("minor")
    assert.same({}, iso:moves())
  end)

  it("must be asked for", function()
    local plain <close> = scopelab.isolate()
    assert.has_error(function() plain:moves() end,
      "bad argument #1 to 'moves' (moves are not recorded (option 'record_moves'))")
  end)
end)

describe("the weak-callback trace", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0, record_weak = true })

  it("records each callback with its handle, collection and order, in the order made weak", function()
    local ps = {}
    do
      local s <close> = iso:handle_scope()
      for i = 1, 3 do ps[i] = iso:persistent(iso:integer(i)) end
    end
    ps[3]:set_weak(function() end)
    ps[1]:set_weak(function() end)
    iso:collect("minor")                               -- nothing weak yet for ps[2]
    ps[2]:set_weak(function() end)
    iso:collect("major")
    local log = iso:weak_log()
    assert.equal(3, #log)
    assert.same({ ps[3], 1, 1 }, { log[1].handle, log[1].collection, log[1].order })
    assert.same({ ps[1], 1, 2 }, { log[2].handle, log[2].collection, log[2].order })
    assert.same({ ps[2], 2, 1 }, { log[3].handle, log[3].collection, log[3].order })
  end)

  it("records a callback's error", function()
    local msgs = {}
    local quiet <close> = scopelab.isolate { gc_interval = 0, record_weak = true,
                                           warn = function(m) msgs[#msgs + 1] = m end }
    local p
    do
      local s <close> = quiet:handle_scope()
      p = quiet:persistent(quiet:integer(1))
    end
    p:set_weak(function() error("boom", 0) end)
    quiet:collect("minor")
    local log = quiet:weak_log()
    assert.same({ p, "boom" }, { log[1].handle, log[1].error })
    assert.same({ "scopelab: error in weak callback: boom" }, msgs)
  end)

  it("must be asked for", function()
    local plain <close> = scopelab.isolate()
    assert.has_error(function() plain:weak_log() end,
      "bad argument #1 to 'weak_log' (weak callbacks are not recorded (option 'record_weak'))")
  end)
end)
