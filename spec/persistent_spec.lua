-- SPDX-License-Identifier: MIT
-- Plain persistent handles (V8's Persistent): strong until reset, by hand.
local scopelab = require "scopelab"
local helper = require "helper"
local here = helper.here

describe("a persistent handle", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end)

  local function persistent_to(value)
    local s <close> = iso:handle_scope()
    local h = iso:string(value)
    return iso:persistent(h), iso:probe(h)
  end

  it("keeps an object alive after every scope has closed, until reset", function()
    local p, w = persistent_to("kept")
    iso:collect("minor"); iso:collect("major")
    assert.is_true(w:alive())
    assert.is_false(p:is_empty())
    p:reset()
    assert.is_true(p:is_empty())
    iso:collect("major")
    assert.is_false(w:alive())
    iso:verify()
  end)

  it("gives a Local in the current scope from get, and nil when empty", function()
    local p = persistent_to("v")
    local s <close> = iso:handle_scope()
    local before = iso:number_of_handles()
    local h = p:get()
    assert.equal("v", h:value())
    assert.equal(before + 1, iso:number_of_handles())
    p:reset()
    assert.is_nil(p:get())
  end)

  it("re-targets to another object with reset(h)", function()
    local p, w1 = persistent_to("first")
    local s <close> = iso:handle_scope()
    local h2 = iso:integer(2)
    p:reset(h2)
    iso:collect("major")
    assert.is_false(w1:alive())
    assert.equal(2, p:get():value())
    assert.is_true(p:get() == h2)
  end)

  it("can be made empty from the start", function()
    local p = iso:persistent()
    assert.is_true(p:is_empty())
    local s <close> = iso:handle_scope()
    p:reset(iso:integer(3))
    assert.equal(3, p:get():value())
  end)

  it("leaks its object when dropped without reset (its __gc frees only an empty node)", function()
    local w = select(2, persistent_to("leaked"))  -- the persistent itself is dropped
    collectgarbage(); collectgarbage()
    iso:collect("major")
    assert.is_true(w:alive())
    assert.equal(1, iso:stats().persistent_handles)
  end)

  it("is harmless to drop after reset: its object dies and no persistent is counted", function()
    local w
    do
      local p, probe = persistent_to("freed")
      p:reset()
      w = probe
    end
    collectgarbage(); collectgarbage()
    iso:collect("major")
    assert.is_false(w:alive())
    assert.equal(0, iso:stats().persistent_handles)
  end)

  it("counts in stats while non-empty", function()
    local p1 = persistent_to("a")
    local p2 = persistent_to("b")
    assert.equal(2, iso:stats().persistent_handles)
    p1:reset()
    assert.equal(1, iso:stats().persistent_handles)
    p2:delete()
    assert.equal(0, iso:stats().persistent_handles)
  end)

  it("refuses every use after delete", function()
    local p = persistent_to("d")
    p:delete()
    assert.has_error(function() p:get() end, "bad argument #1 to 'get' (persistent handle is deleted)")
    assert.has_error(function() p:reset() end, "bad argument #1 to 'reset' (persistent handle is deleted)")
    assert.has_error(function() p:is_empty() end,
      "bad argument #1 to 'is_empty' (persistent handle is deleted)")
  end)

  it("refuses a Local of another isolate", function()
    local other = scopelab.isolate()
    local s <close> = other:handle_scope()
    local h = other:integer(1)
    assert.has_error(function() iso:persistent(h) end,
      "bad argument #2 to 'persistent' (handle from another isolate)")
    local p = persistent_to("x")
    assert.has_error(function() p:reset(h) end, "bad argument #2 to 'reset' (handle from another isolate)")
    other:dispose()
  end)

  it("records its creation line and reports live ones grouped by line", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(1)
    local kept = {}
    local site1, site2
    for i = 1, 3 do kept[i] = iso:persistent(h) site1 = here() end
    kept[4] = iso:persistent(h) site2 = here()
    local never = iso:persistent() local site3 = here()   -- empty: not live, but a node
    assert.equal(site1, kept[1]:site())
    local r = iso:persistent_report()
    assert.equal(4, r.total)
    assert.equal(1, r.empty)
    assert.equal(3, #r)
    assert.same({ site = site1, count = 3, weak = 0, empty = 0 }, r[1])
    assert.same({ site = site2, count = 1, weak = 0, empty = 0 }, r[2])
    assert.same({ site = site3, count = 0, weak = 0, empty = 1 }, r[3])
    never:delete()
    assert.matches("^scopelab.Persistent: persistent created at " .. site1:gsub("%p", "%%%0")
      .. " %(strong%)$", tostring(kept[1]))
  end)

  it("compares equal only to itself", function()
    local p = persistent_to("e")
    local q = persistent_to("e")
    assert.is_true(p == p)
    assert.is_false(p == q)
    assert.is_false(p:is_global())
  end)

  it("is a plain persistent under <close> too: closing frees only an empty node", function()
    local w
    do
      local s <close> = iso:handle_scope()
      local h = iso:integer(5)
      w = iso:probe(h)
      local p <close> = iso:persistent(h)
    end
    iso:collect("major")
    assert.is_true(w:alive())
  end)
end)
