-- SPDX-License-Identifier: MIT
-- Smis: V8's small integers, held in the handle slot itself with no heap object.
local helper = require "helper"

describe("a Smi", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("is a Local of kind 'smi' whose value is the integer", function()
    local s <close> = iso:handle_scope()
    local h = iso:smi(42)
    assert.equal("smi", h:kind())
    assert.equal(42, h:value())
    assert.equal("integer", math.type(h:value()))
    assert.equal(-7, iso:smi(-7):value())
  end)

  it("takes one handle and allocates no object", function()
    local s <close> = iso:handle_scope()
    local before = iso:stats()
    iso:smi(1)
    local after = iso:stats()
    assert.equal(1, iso:number_of_handles())
    assert.equal(before.allocations, after.allocations)
    assert.equal(before.young_used, after.young_used)
  end)

  it("accepts V8's 31-bit range and refuses one past either end, naming 'smi'", function()
    local s <close> = iso:handle_scope()
    assert.equal(1073741823, iso:smi(1073741823):value())
    assert.equal(-1073741824, iso:smi(-1073741824):value())
    assert.has_error(function() iso:smi(1073741824) end,
      "bad argument #2 to 'smi' (1073741824 is out of range (-1073741824 .. 1073741823))")
    assert.has_error(function() iso:smi(-1073741825) end,
      "bad argument #2 to 'smi' (-1073741825 is out of range (-1073741824 .. 1073741823))")
    assert.has_error(function() iso:smi(math.maxinteger) end)
    assert.has_error(function() iso:smi(1.5) end,
      "bad argument #2 to 'smi' (number has no integer representation)")
    assert.has_error(function() iso:smi("1") end,
      "bad argument #2 to 'smi' (integer expected, got string)")
  end)

  it("keeps its value across minor and major collections, with nothing to move", function()
    local s <close> = iso:handle_scope()
    local h = iso:smi(123)
    local a = iso:array(1)
    a:set(1, iso:smi(9))
    for _ = 1, 3 do
      iso:collect("minor")
      iso:collect("major")
    end
    iso:verify()
    assert.equal(123, h:value())
    assert.equal(9, a:get(1):value())
    assert.equal("smi", a:get(1):kind())
  end)

  it("is not a heap object: probe, id, address and generation refuse it", function()
    local s <close> = iso:handle_scope()
    local h = iso:smi(5)
    assert.has_error(function() iso:probe(h) end,
      "bad argument #2 to 'probe' (a Smi is not a heap object)")
    assert.has_error(function() h:id() end, "bad argument #1 to 'id' (a Smi is not a heap object)")
    assert.has_error(function() h:address() end,
      "bad argument #1 to 'address' (a Smi is not a heap object)")
    assert.has_error(function() h:generation() end,
      "bad argument #1 to 'generation' (a Smi is not a heap object)")
  end)

  it("has no identity to look for after its scope closes", function()
    local h
    do
      local s <close> = iso:handle_scope()
      h = iso:smi(5)
      assert.is_nil(h:held_id())
      assert.is_nil(h:in_heap())
    end
    assert.is_false(h:is_valid())
    assert.has_error(function() h:value() end)
  end)

  it("frees its slot with its scope, like any Local", function()
    do
      local s <close> = iso:handle_scope()
      for i = 1, 10 do iso:smi(i) end
      assert.equal(10, iso:number_of_handles())
    end
    assert.equal(0, iso:number_of_handles())
  end)

  it("is the same value in two Locals, and unequal to a boxed integer", function()
    local s <close> = iso:handle_scope()
    assert.is_true(iso:smi(3) == iso:smi(3))
    assert.is_false(iso:smi(3) == iso:smi(4))
    assert.is_false(iso:smi(3) == iso:integer(3))
  end)

  it("prints as its value and scope", function()
    local s <close> = iso:handle_scope()
    assert.equal("scopelab.Local: smi 5 (scope 1, live)", tostring(iso:smi(5)))
    assert.equal("scopelab.Local: smi -3 (scope 1, live)", tostring(iso:smi(-3)))
  end)

  it("needs a scope as any new handle does", function()
    assert.has_error(function() iso:smi(1) end,
      "cannot create a handle in 'smi' (no handle scope is open)")
  end)
end)

describe("a boxed integer (iso:integer)", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("is a heap object that dies with its scope, where a Smi has nothing to die", function()
    local w
    do
      local s <close> = iso:handle_scope()
      w = iso:probe(iso:integer(0))          -- V8's HeapNumber
      iso:smi(0)                              -- a slot, and nothing else
    end
    iso:collect("minor")
    iso:verify()
    assert.collected(w)
  end)
end)
