-- SPDX-License-Identifier: MIT
-- Node-API references: strong while the count is above zero, weak at zero;
-- deleting is separate from reaching zero.
local helper = require "helper"

describe("a reference", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  local function reference_to(v, count)
    local s <close> = iso:handle_scope()
    local h = iso:integer(v)
    return iso:reference(h, count), iso:probe(h)
  end

  it("holds its object strongly while the count is above zero", function()
    local r, w = reference_to(1, 1)
    iso:collect("minor"); iso:collect("major")
    assert.is_true(w:alive())
    local s <close> = iso:handle_scope()
    assert.equal(1, r:get():value())
  end)

  it("holds its object weakly at zero, and get gives nil once it is collected", function()
    local r, w = reference_to(2, 1)
    assert.equal(0, r:unref())
    iso:collect("major")
    assert.is_false(w:alive())
    local s <close> = iso:handle_scope()
    assert.is_nil(r:get())
    assert.is_true(r:is_empty())
    assert.is_false(r:is_deleted())
  end)

  it("is weak from the start when created with count 0", function()
    local r, w = reference_to(3, 0)
    assert.equal(0, r:count())
    iso:collect("minor")
    assert.is_false(w:alive())
    local s <close> = iso:handle_scope()
    assert.is_nil(r:get())
  end)

  it("returns the new count from ref and unref", function()
    local r = reference_to(4, 1)
    assert.equal(2, r:ref())
    assert.equal(3, r:ref())
    assert.equal(2, r:unref())
    assert.equal(1, r:unref())
    assert.equal(0, r:unref())
    assert.equal("integer", math.type(r:count()))
  end)

  it("becomes strong again when ref'd from zero before a collection", function()
    local r, w = reference_to(5, 0)
    assert.equal(1, r:ref())
    iso:collect("major")
    assert.is_true(w:alive())
  end)

  it("refuses unref below zero", function()
    local r = reference_to(6, 0)
    assert.has_error(function() r:unref() end, "bad argument #1 to 'unref' (reference count is already 0)")
    assert.equal(0, r:count())
  end)

  it("stays usable after its object died: ref counts up but get stays nil", function()
    local r = reference_to(7, 0)
    iso:collect("major")
    assert.equal(1, r:ref())
    assert.equal(0, r:unref())
    local s <close> = iso:handle_scope()
    assert.is_nil(r:get())
  end)

  it("is freed only by delete, after which every use is an error", function()
    local r, w = reference_to(8, 2)
    r:delete()
    assert.is_true(r:is_deleted())
    iso:collect("major")
    assert.is_false(w:alive())
    assert.has_error(function() r:get() end, "bad argument #1 to 'get' (reference is deleted)")
    assert.has_error(function() r:ref() end, "bad argument #1 to 'ref' (reference is deleted)")
    assert.has_error(function() r:unref() end, "bad argument #1 to 'unref' (reference is deleted)")
  end)

  it("leaks its node when unref'd to zero but never deleted while the object lives (node-foundationdb)", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(9)                   -- the object stays reachable from a Local
    for _ = 1, 100 do
      local r = iso:reference(h, 1)
      r:unref()                                -- count 0, but no delete
    end
    collectgarbage(); collectgarbage()
    assert.equal(100, iso:stats().persistent_handles)
    assert.equal(100, iso:persistent_report()[1].count)
  end)

  it("validates its arguments", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(1)
    assert.has_error(function() iso:reference(h, -1) end,
      "bad argument #3 to 'reference' (count must be non-negative, got -1)")
    assert.has_error(function() iso:reference(nil, 1) end,
      "bad argument #2 to 'reference' (scopelab.Local expected, got nil)")
    assert.has_error(function() iso:reference(h, "x") end,
      "bad argument #3 to 'reference' (integer expected, got string)")
  end)

  it("says its count in tostring", function()
    local r = reference_to(10, 2)
    assert.matches("^scopelab.Reference: reference created at .- %(strong, count 2%)$", tostring(r))
  end)
end)
