-- SPDX-License-Identifier: MIT
-- Specs of scopelab.assert: the handle assertions on real handles of a real
-- isolate, their failure messages, and the formatter.
local assert = require "scopelab.assert"
local scopelab = require "scopelab"
local helper = require "helper"

local failure = helper.failure

describe("scopelab.assert", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end)

  it("passes alive for a probe whose object a Local holds, and collected once it dies", function()
    local w
    do
      local s <close> = iso:handle_scope()
      w = iso:probe(iso:integer(5))
      iso:collect("minor")
      assert.alive(w)
      assert.is_not.collected(w)
    end
    iso:collect("minor")
    assert.collected(w)
    assert.is_not.alive(w)
  end)

  it("asks the heap about a persistent's object: reset empties the handle, a collection "
     .. "frees the object", function()
    local s <close> = iso:handle_scope()
    local p
    do
      local t <close> = iso:handle_scope()
      p = iso:persistent(iso:integer(1))
    end
    assert.alive(p)
    assert.is_not.empty(p)
    p:reset()
    assert.empty(p)
    assert.alive(p)                              -- no collection ran: the object is there
    assert.is_not.collected(p)
    iso:collect("full")
    assert.collected(p)
    assert.is_true(iso:verify())
  end)

  it("asks the heap about a Local's object: a closed scope makes the Local stale, a collection "
     .. "frees the object", function()
    local h, w
    do
      local s <close> = iso:handle_scope()
      h = iso:integer(3)
      w = iso:probe(h)
      assert.alive(h)
      assert.is_not.stale(h)
    end
    assert.stale(h)
    assert.alive(h)                              -- as the probe says: nothing collected it yet
    assert.alive(w)
    iso:collect("full")
    assert.collected(h)
    assert.collected(w)
    assert.is_true(iso:verify())
  end)

  it("refuses to call an object collected when the handle never held one", function()
    local p = iso:persistent()
    assert.is_not.collected(p)
    assert.is_not.alive(p)
    assert.empty(p)
  end)

  it("sees a move through a probe's count and through an address taken before", function()
    -- this spec counts moves exactly: no stress collections (SCOPELAB_STRESS)
    local quiet <close> = scopelab.isolate{ gc_interval = 0 }
    local s <close> = quiet:handle_scope()
    local h = quiet:integer(9)
    local w = quiet:probe(h)
    local before = h:address()
    assert.is_not.moved(w)
    quiet:collect("minor")
    assert.moved(w)
    assert.moved(h, before)
    assert.is_not.moved(h, h:address())
  end)

  it("asks for the address before when a Local's move is asserted without one", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(9)
    assert.has_error(function() assert.moved(h) end,
      "bad argument #2 to 'moved' (address before expected: only a probe remembers its moves)")
  end)

  it("counts the live Locals of an isolate with assert.handles", function()
    assert.handles(iso, 0)
    local s <close> = iso:handle_scope()
    iso:integer(1); iso:integer(2)
    assert.handles(iso, 2)
    assert.is_not.handles(iso, 3)
  end)

  it("says which object was expected alive, in a labelled block", function()
    local w
    do
      local s <close> = iso:handle_scope()
      w = iso:probe(iso:string("gone"))
    end
    iso:collect("minor")
    local msg = failure(function() assert.alive(w) end)
    assert.matches("Expected object to be alive.\nObject:\n", msg, 1, true)
    assert.matches("scopelab.Probe", msg, 1, true)
    assert.matches("[probe, collected, moves 0]", msg, 1, true)
  end)

  it("reports expected and actual handle counts on failure", function()
    local s <close> = iso:handle_scope()
    iso:integer(1)
    local msg = failure(function() assert.handles(iso, 4) end)
    assert.matches("Expected number of handles to be:\n4\n", msg, 1, true)
    assert.matches("Actual number of handles:\n1", msg, 1, true)
  end)

  it("prints handles readably in any luassert failure through its formatter", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(57)
    local msg = failure(function() assert.are.equal(h, 1) end)
    assert.matches("scopelab.Local", msg, 1, true)
    assert.matches("[local, alive, address 0x", msg, 1, true)
  end)

  it("refuses what is not a handle with a Lua-style argument error", function()
    assert.has_error(function() assert.alive(42) end,
      "bad argument #1 to 'alive' (Local, persistent or probe expected, got number)")
    assert.has_error(function() assert.handles({}, 1) end,
      "bad argument #1 to 'handles' (isolate expected, got table)")
    assert.has_error(function() assert.handles(iso, 1.5) end,
      "bad argument #2 to 'handles' (integer expected, got float)")
  end)

  it("works outside busted, under plain lua5.4", function()
    local p = io.popen([[LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/?.so;;' lua5.4 -e '
      local assert = require "scopelab.assert"
      local iso = require("scopelab").isolate()
      local s <close> = iso:handle_scope()
      local w = iso:probe(iso:integer(1))
      assert.alive(w)
      print(pcall(assert.collected, w))' 2>&1]])
    local out = p:read("a")
    p:close()
    assert.matches("^false\tExpected object to be collected.", out)
  end)

  it("exposes the same rules as plain predicates for the runner", function()
    local s <close> = iso:handle_scope()
    local w = iso:probe(iso:integer(1))
    assert.is_true(assert.inspect.alive(w))
    assert.are.equal("alive", assert.inspect.state(w))
    assert.are.equal("probe", assert.inspect.kind(w))
  end)
end)
