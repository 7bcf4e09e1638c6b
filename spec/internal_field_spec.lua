-- SPDX-License-Identifier: MIT
-- Internal fields (V8's SetInternalFieldCount): values, and aligned native pointers.
local helper = require "helper"

describe("an object's internal fields", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("are counted from the object's creation, each undefined at first", function()
    local s <close> = iso:handle_scope()
    local o = iso:object(3)
    assert.equal(3, o:internal_field_count())
    assert.equal(0, iso:object():internal_field_count())
    for i = 1, 3 do assert.equal("undefined", o:get_internal_field(i):kind()) end
    assert.is_nil(o:get_aligned_pointer(1))
    assert.equal(64, iso:object(64):internal_field_count())
  end)

  it("refuse a count outside 0..64", function()
    local s <close> = iso:handle_scope()
    assert.has_error(function() iso:object(65) end,
      "bad argument #2 to 'object' (65 internal fields (0 to 64 allowed))")
    assert.has_error(function() iso:object(-1) end,
      "bad argument #2 to 'object' (-1 internal fields (0 to 64 allowed))")
    assert.has_error(function() iso:object("2") end,
      "bad argument #2 to 'object' (integer expected, got string)")
  end)

  it("hold values, numbered from 1, that survive minor and major collections", function()
    local outer <close> = iso:handle_scope()
    local o = iso:object(2)
    local w
    do
      local s <close> = iso:handle_scope()
      local v = iso:string("in field 2")
      w = iso:probe(v)
      o:set_internal_field(2, v)
      o:set_internal_field(1, iso:smi(11))
    end
    for _ = 1, 3 do
      iso:collect("minor")
      iso:collect("major")
      iso:verify()
    end
    assert.alive(w)
    assert.equal("in field 2", o:get_internal_field(2):value())
    assert.equal(11, o:get_internal_field(1):value())
  end)

  it("let a value die once its field is set to nil (undefined)", function()
    local outer <close> = iso:handle_scope()
    local o = iso:object(1)
    local w
    do
      local s <close> = iso:handle_scope()
      local v = iso:integer(5)
      w = iso:probe(v)
      o:set_internal_field(1, v)
    end
    o:set_internal_field(1, nil)
    iso:collect("minor")
    iso:verify()
    assert.collected(w)
    assert.equal("undefined", o:get_internal_field(1):kind())
  end)

  it("run the write barrier for an old object given a young value", function()
    local outer <close> = iso:handle_scope()
    local o = iso:object(1)
    iso:collect("major")
    assert.equal("old", o:generation())
    local w
    do
      local s <close> = iso:handle_scope()
      local v = iso:integer(1)
      w = iso:probe(v)
      o:set_internal_field(1, v)
    end
    iso:collect("minor")
    iso:verify()
    assert.alive(w)
  end)

  it("refuse an index out of range, and a Local that is not an object", function()
    local s <close> = iso:handle_scope()
    local o = iso:object(2)
    assert.has_error(function() o:get_internal_field(3) end,
      "bad argument #2 to 'get_internal_field' (internal field 3 out of range 1..2)")
    assert.has_error(function() o:set_internal_field(0, nil) end,
      "bad argument #2 to 'set_internal_field' (internal field 0 out of range 1..2)")
    assert.has_error(function() iso:object():get_aligned_pointer(1) end,
      "bad argument #2 to 'get_aligned_pointer' (internal field 1 out of range 1..0)")
    assert.has_error(function() iso:array(1):internal_field_count() end,
      "bad argument #1 to 'internal_field_count' (object expected, got array)")
    assert.has_error(function() o:set_internal_field(1, 3) end,
      "bad argument #3 to 'set_internal_field' (scopelab.Local expected, got number)")
  end)
end)

describe("an aligned pointer in an internal field", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("gives back the native block it was set to, while the block lives", function()
    local s <close> = iso:handle_scope()
    local o = iso:object(2)
    local nb = iso:native_alloc(32, "wrapped")
    o:set_aligned_pointer(1, nb)
    assert.is_true(rawequal(nb, o:get_aligned_pointer(1)))
    iso:collect("minor")
    iso:collect("major")
    iso:verify()
    assert.is_true(rawequal(nb, o:get_aligned_pointer(1)))
    nb:free()
    local p = o:get_aligned_pointer(1)            -- a dangling pointer, as in C
    assert.equal("userdata", type(p))
    assert.is_nil(getmetatable(p))
  end)

  it("takes a light userdata and gives it back as one", function()
    local s <close> = iso:handle_scope()
    local o = iso:object(1)
    local nb = iso:native_alloc(8)
    local p = nb:pointer()
    nb:free()
    o:set_aligned_pointer(1, p)
    assert.equal(p, o:get_aligned_pointer(1))
  end)

  it("is never followed, and does not keep anything alive", function()
    local s <close> = iso:handle_scope()
    local o = iso:object(1)
    o:set_aligned_pointer(1, iso:native_alloc(16))
    for _ = 1, 2 do iso:collect("minor"); iso:collect("major") end
    iso:verify()
    assert.equal(1, iso:stats().native_blocks)
  end)

  it("reads as nil once set to nil, and a value field is not a pointer", function()
    local s <close> = iso:handle_scope()
    local o = iso:object(2)
    o:set_aligned_pointer(1, iso:native_alloc(4))
    o:set_aligned_pointer(1, nil)
    assert.is_nil(o:get_aligned_pointer(1))
    o:set_internal_field(2, iso:smi(1))
    assert.has_error(function() o:get_aligned_pointer(2) end,
      "bad argument #2 to 'get_aligned_pointer' (internal field 2 holds a value)")
    o:set_aligned_pointer(2, iso:native_alloc(4))
    assert.has_error(function() o:get_internal_field(2) end,
      "bad argument #2 to 'get_internal_field' (internal field 2 holds an aligned pointer)")
  end)

  it("refuses a freed block, another isolate's block and other values", function()
    local s <close> = iso:handle_scope()
    local o = iso:object(1)
    local nb = iso:native_alloc(4)
    nb:free()
    assert.has_error(function() o:set_aligned_pointer(1, nb) end,
      "bad argument #3 to 'set_aligned_pointer' (native block is freed)")
    local other <close> = require("scopelab").isolate()
    local theirs = other:native_alloc(4)
    assert.has_error(function() o:set_aligned_pointer(1, theirs) end,
      "bad argument #3 to 'set_aligned_pointer' (native block of another isolate)")
    assert.has_error(function() o:set_aligned_pointer(1, 42) end,
      "bad argument #3 to 'set_aligned_pointer' (light userdata or scopelab.NativeBlock expected, "
      .. "got number)")
  end)
end)
