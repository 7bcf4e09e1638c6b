-- SPDX-License-Identifier: MIT
-- Probes: observers that see an object move and die, never keep it alive.
local helper = require "helper"

describe("a probe", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end,
    { gc_interval = 0, stress_compaction = true })

  it("never keeps its object alive and never counts as a handle", function()
    local w
    do
      local s <close> = iso:handle_scope()
      w = iso:probe(iso:integer(1))
      assert.equal(1, iso:number_of_handles())  -- the Local's slot only
      assert.equal(0, iso:stats().persistent_handles)
    end
    assert.is_true(w:alive())                  -- not collected yet
    iso:collect("minor")
    iso:verify()
    assert.is_false(w:alive())
    assert.is_nil(w:address())
    assert.is_nil(w:generation())
  end)

  it("tells identity, kind, generation, address and moves while alive", function()
    local s <close> = iso:handle_scope()
    local h = iso:array(2)
    local w = iso:probe(h)
    assert.equal(h:id(), w:id())
    assert.equal("array", w:kind())
    assert.equal("young", w:generation())
    assert.equal(h:address(), w:address())
    assert.equal(0, w:moves())
    iso:collect("minor")
    assert.equal(1, w:moves())
    assert.equal(h:address(), w:address())
    assert.equal("integer", math.type(w:moves()))
    assert.equal("integer", math.type(w:address()))
  end)

  it("keeps its id and kind after the object died", function()
    local w, id
    do
      local s <close> = iso:handle_scope()
      local h = iso:string("s")
      id = h:id()
      w = iso:probe(h)
    end
    iso:collect("major")
    assert.equal(id, w:id())
    assert.equal("string", w:kind())
    assert.equal("scopelab.Probe: string#" .. id .. " (dead)", tostring(w))
  end)

  it("gives a Local for a live object and nil for a dead one", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(3)
    local w = iso:probe(h)
    assert.equal(3, w:get():value())
    assert.is_true(w:get() == h)
    local dead
    do
      local t <close> = iso:handle_scope()
      dead = iso:probe(iso:integer(4))
    end
    iso:collect("major")
    assert.is_nil(dead:get())
  end)

  it("refuses every use after delete and counts in stats until then", function()
    local s <close> = iso:handle_scope()
    local w = iso:probe(iso:integer(1))
    assert.equal(1, iso:stats().probes)
    w:delete()
    assert.equal(0, iso:stats().probes)
    assert.has_error(function() w:alive() end, "bad argument #1 to 'alive' (probe is deleted)")
    assert.equal("scopelab.Probe: (deleted)", tostring(w))
  end)

  it("is freed when Lua collects it", function()
    do
      local s <close> = iso:handle_scope()
      iso:probe(iso:integer(1))
    end
    collectgarbage(); collectgarbage()
    assert.equal(0, iso:stats().probes)
  end)

  it("says what it sees in tostring", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(1)
    local w = iso:probe(h)
    assert.equal("scopelab.Probe: integer#" .. h:id() .. " (alive, young, moved 0 times)", tostring(w))
  end)
end)
