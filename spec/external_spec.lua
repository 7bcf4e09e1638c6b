-- SPDX-License-Identifier: MIT
-- Externals (V8's External): a heap object holding a native pointer it never follows.
local helper = require "helper"

describe("an external", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("is a Local of kind 'external' whose value is the native block it holds", function()
    local s <close> = iso:handle_scope()
    local nb = iso:native_alloc(8, "payload")
    local e = iso:external(nb)
    assert.equal("external", e:kind())
    assert.is_true(rawequal(nb, e:external_value()))
    assert.has_error(function() e:value() end,
      "bad argument #1 to 'value' (an external has no Lua value)")
  end)

  it("holds a light userdata, or NULL (nil)", function()
    local s <close> = iso:handle_scope()
    local nb = iso:native_alloc(8)
    local p = nb:pointer()
    nb:free()
    assert.equal(p, iso:external(p):external_value())
    assert.is_nil(iso:external(nil):external_value())
  end)

  it("survives minor and major collections while held, its pointer unchanged", function()
    local outer <close> = iso:handle_scope()
    local nb = iso:native_alloc(16)
    local holder = iso:object()
    local w
    do
      local s <close> = iso:handle_scope()
      local e = iso:external(nb)
      w = iso:probe(e)
      holder:set("e", e)
    end
    for _ = 1, 3 do
      iso:collect("minor")
      iso:collect("major")
      iso:verify()
    end
    assert.alive(w)
    assert.is_true(w:moves() > 0)
    assert.is_true(rawequal(nb, holder:get("e"):external_value()))
  end)

  it("dies with its scope and leaves its native memory alone", function()
    local nb = iso:native_alloc(16)
    local w
    do
      local s <close> = iso:handle_scope()
      w = iso:probe(iso:external(nb))
    end
    iso:collect("minor")
    iso:verify()
    assert.collected(w)
    assert.is_false(nb:is_freed())
  end)

  it("refuses what is not a pointer, and external_value of another kind", function()
    local s <close> = iso:handle_scope()
    assert.has_error(function() iso:external("p") end,
      "bad argument #2 to 'external' (light userdata or scopelab.NativeBlock expected, got string)")
    assert.has_error(function() iso:object():external_value() end,
      "bad argument #1 to 'external_value' (external expected, got object)")
  end)
end)
