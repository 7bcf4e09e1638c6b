-- SPDX-License-Identifier: MIT
-- The handle assertions take a custom message, as luassert's own do: on failure
-- it comes first, above the assertion's own labelled message.
local assert = require "scopelab.assert"
local helper = require "helper"

local failure = helper.failure

describe("a custom message", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  -- A probe to an object that a collection found dead, and one to an object a
  -- Local of the caller's open scope holds.
  local function dead_and_alive()
    local dead
    do
      local inner <close> = iso:handle_scope()
      dead = iso:probe(iso:integer(1))
    end
    iso:collect("minor")
    return dead, iso:probe(iso:integer(2))
  end

  it("is shown by luassert's own assertions (the behaviour the others follow)", function()
    assert.matches("^[^\n]*: luassert says\nExpected objects to be equal",
      failure(function() assert.equal(1, 2, "luassert says") end))
  end)

  it("is shown first when assert.alive fails, and when assert.is_not.alive fails", function()
    local s <close> = iso:handle_scope()
    local dead, live = dead_and_alive()
    assert.matches("^[^\n]*: the probe died\nExpected object to be alive%.\nObject:\n",
      failure(function() assert.alive(dead, "the probe died") end))
    assert.matches("^[^\n]*: still here\nExpected object not to be alive%.\n",
      failure(function() assert.is_not.alive(live, "still here") end))
  end)

  it("is shown first when assert.collected fails, and when assert.is_not.collected fails", function()
    local s <close> = iso:handle_scope()
    local dead, live = dead_and_alive()
    assert.matches("^[^\n]*: not yet\nExpected object to be collected%.\nObject:\n",
      failure(function() assert.collected(live, "not yet") end))
    assert.matches("^[^\n]*: gone\nExpected object not to be collected%.\n",
      failure(function() assert.is_not.collected(dead, "gone") end))
  end)

  it("is shown first when assert.moved fails, after an address or in its place", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(3)
    local w = iso:probe(h)
    assert.matches("^[^\n]*: stayed\nExpected object to have moved%.\n.*\nAddress before:\n0x%x+$",
      failure(function() assert.moved(h, h:address(), "stayed") end))
    assert.matches("^[^\n]*: no moves\nExpected object to have moved%.\n",
      failure(function() assert.moved(w, "no moves") end))
    iso:collect("minor")
    assert.matches("^[^\n]*: it did move\nExpected object not to have moved%.\n",
      failure(function() assert.is_not.moved(w, nil, "it did move") end))
  end)

  it("is shown first when assert.handles fails, with the counts after it", function()
    local s <close> = iso:handle_scope()
    iso:integer(1)
    local msg = failure(function() assert.handles(iso, 5, "leaked?") end)
    assert.matches("^[^\n]*: leaked%?\nExpected number of handles to be:\n5\n", msg)
    assert.matches("\nActual number of handles:\n1$", msg)
  end)

  it("changes nothing when the assertion passes", function()
    local s <close> = iso:handle_scope()
    local dead, live = dead_and_alive()
    assert.alive(live, "unused")
    assert.collected(dead, "unused")
    assert.handles(iso, 1, "unused")
  end)
end)
