-- SPDX-License-Identifier: MIT
-- The heap moves objects; handles follow.
local scopelab = require "scopelab"
local helper = require "helper"

describe("a moving collection", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end,
    { gc_interval = 0, promote_after = 2, stress_compaction = true, record_moves = true })

  it("relocates young objects in a minor collection while Locals follow", function()
    local s <close> = iso:handle_scope()
    local h = iso:string("follow me")
    local id, before = h:id(), h:address()
    local st = iso:collect("minor")
    iso:verify()
    assert.are_not.equal(before, h:address())
    assert.equal(id, h:id())
    assert.equal("follow me", h:value())
    assert.equal(1, st.moved)                      -- the only object in the heap
  end)

  it("promotes an object to the old generation on its second survived scavenge", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(1)
    iso:collect("minor")
    assert.equal("young", h:generation())
    local st = iso:collect("minor")
    iso:verify()
    assert.equal("old", h:generation())
    assert.equal(1, st.promoted)
    assert.equal(1, h:value())
  end)

  it("slides a live old object down over the dead one below it in a major collection", function()
    -- No stress_compaction here: the move must come from compaction itself.
    local plain = scopelab.isolate { gc_interval = 0, stress_compaction = false }
    local s <close> = plain:handle_scope()
    local a = plain:array(2)
    do
      local t <close> = plain:handle_scope()
      a:set(1, plain:array(10))                    -- becomes garbage below h
      a:set(2, plain:integer(2))
    end
    plain:collect("minor"); plain:collect("minor")  -- a, then its elements in order, go old
    local h = a:get(2)
    local dead, dead_size
    do
      local t <close> = plain:handle_scope()
      local g = a:get(1)
      dead = plain:probe(g)
      for _, o in ipairs(plain:snapshot().objects) do
        if o.id == g:id() then dead_size = o.size end
      end
    end
    assert.equal("old", h:generation())
    a:set(1, nil)
    local before, w = h:address(), plain:probe(h)
    local st = plain:collect("major")
    plain:verify()
    assert.is_false(dead:alive())
    assert.equal(dead_size, before - h:address())  -- down by exactly the dead object's size
    assert.equal(1, w:moves())
    assert.equal(1, st.moved)                      -- the array below the gap stays put
    assert.equal(2, h:value())
    -- With no new gap, a second major collection moves nothing.
    local again = h:address()
    assert.equal(0, plain:collect("major").moved)
    assert.equal(again, h:address())
    plain:dispose()
  end)

  it("moves every live old object in a major collection under stress_compaction", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(2)
    iso:collect("minor"); iso:collect("minor")
    assert.equal("old", h:generation())
    local before = h:address()
    local st = iso:collect("major")
    iso:verify()
    assert.are_not.equal(before, h:address())
    assert.equal(1, st.moved)
    assert.equal(2, h:value())
  end)

  it("logs every move with id, from, to and collection number when record_moves is set", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(3)
    local w = iso:probe(h)
    local a0 = h:address()
    local st1 = iso:collect("minor")
    local a1 = h:address()
    local st2 = iso:collect("minor")
    local a2 = h:address()
    local mine = {}
    for _, m in ipairs(iso:moves()) do
      if m.id == h:id() then mine[#mine + 1] = m end
    end
    assert.same({ { id = h:id(), from = a0, to = a1, collection = st1.number },
                  { id = h:id(), from = a1, to = a2, collection = st2.number } }, mine)
    assert.equal(2, w:moves())
  end)

  it("keeps array elements pointing at moved objects, across generations (write barrier)", function()
    local s <close> = iso:handle_scope()
    local a = iso:array(3)
    iso:collect("minor"); iso:collect("minor")
    assert.equal("old", a:generation())
    do
      local t <close> = iso:handle_scope()
      a:set(2, iso:string("young child"))      -- old -> young: remembered
    end
    local child = iso:probe(a:get(2))
    assert.equal(1, iso:stats().remembered)
    iso:collect("minor")
    iso:verify()
    assert.is_true(child:alive())                  -- only the old array holds it
    assert.equal(1, child:moves())
    assert.equal("young child", a:get(2):value())
    iso:collect("major")
    assert.equal("young child", a:get(2):value())
    assert.is_nil(a:get(1))
    iso:verify()
  end)

  it("never reuses an identity", function()
    local seen = {}
    for _ = 1, 5 do
      local s <close> = iso:handle_scope()
      for _ = 1, 20 do
        local id = iso:integer(0):id()
        assert.is_nil(seen[id])
        seen[id] = true
      end
      iso:collect("major")
    end
  end)

  it("keeps everything consistent under gc_interval stress with verification", function()
    local w = scopelab.isolate { gc_interval = 2, stress_compaction = true, verify_heap = true }
    local s <close> = w:handle_scope()
    local arr = w:array(50)
    for i = 1, 50 do
      arr:set(i, w:integer(i * 3))
    end
    for i = 1, 50 do assert.equal(i * 3, arr:get(i):value()) end
    local st = w:stats()
    assert.is_true(st.minor_collections + st.major_collections >= 20)
    w:verify()
    w:dispose()
  end)

  it("refuses moves() when moves are not recorded", function()
    local w = scopelab.isolate()
    assert.has_error(function() w:moves() end,
      "bad argument #1 to 'moves' (moves are not recorded (option 'record_moves'))")
    w:dispose()
  end)
end)
