-- SPDX-License-Identifier: MIT
-- Eternal handles: an append-only table of roots living as long as the isolate.
local helper = require "helper"
local here = helper.here

describe("an eternal handle", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("returns consecutive integer indices starting at 1", function()
    local s <close> = iso:handle_scope()
    assert.equal(1, iso:eternal(iso:integer(10)))
    assert.equal(2, iso:eternal(iso:string("b")))
    assert.equal("integer", math.type(iso:eternal(iso:integer(12))))
    assert.equal(3, iso:stats().eternal_handles)
  end)

  it("keeps its object alive across every scope and collection", function()
    local idx, w
    do
      local s <close> = iso:handle_scope()
      local h = iso:string("forever")
      idx = iso:eternal(h)
      w = iso:probe(h)
    end
    for _ = 1, 3 do iso:collect("minor"); iso:collect("major") end
    assert.is_true(w:alive())
    local s <close> = iso:handle_scope()
    local h = iso:eternal_get(idx)
    assert.equal("forever", h:value())
    assert.equal(w:id(), h:id())
    iso:verify()
  end)

  it("gives a Local bound to the eternal slot itself, making no handle (V8's Eternal::Get)",
     function()
    local idx
    do
      local s <close> = iso:handle_scope()
      idx = iso:eternal(iso:integer(1))
    end
    assert.equal(0, iso:number_of_handles())
    local h = iso:eternal_get(idx)                 -- no scope open at all
    assert.equal(1, h:value())
    assert.equal(0, iso:number_of_handles())
    iso:collect("minor"); iso:collect("major")     -- the slot is a root: it follows the move
    assert.equal(1, h:value())
    iso:verify()
  end)

  it("refuses an index that does not exist", function()
    local s <close> = iso:handle_scope()
    iso:eternal(iso:integer(1))
    assert.has_error(function() iso:eternal_get(2) end,
      "bad argument #2 to 'eternal_get' (no eternal handle 2 (there are 1))")
    assert.has_error(function() iso:eternal_get(0) end,
      "bad argument #2 to 'eternal_get' (no eternal handle 0 (there are 1))")
    assert.has_error(function() iso:eternal_get("x") end,
      "bad argument #2 to 'eternal_get' (integer expected, got string)")
  end)

  it("refuses nil and stale Locals", function()
    local stale, site
    do
      local s <close> = iso:handle_scope() site = here()
      stale = iso:integer(1)
    end
    assert.has_error(function() iso:eternal(nil) end,
      "bad argument #2 to 'eternal' (scopelab.Local expected, got nil)")
    assert.has_error(function() iso:eternal(stale) end,
      "bad argument #2 to 'eternal' (handle from a closed scope: level 1, opened at " .. site .. ")")
    assert.equal(0, iso:stats().eternal_handles)   -- nothing was appended
  end)
end)
