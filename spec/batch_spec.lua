-- SPDX-License-Identifier: MIT
-- The batch calls beside the one-element ones: iso:array_of(...) builds an array
-- with its elements in one call, a:unpack([i [, j]]) reads a range of them.
local scopelab = require "scopelab"
local helper = require "helper"
local here = helper.here

describe("iso:array_of", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end)

  it("makes an array whose elements are the objects of its arguments, in order", function()
    local s <close> = iso:handle_scope()
    local one, two = iso:integer(1), iso:string("two")
    local a = iso:array_of(one, two, one)
    assert.equal(3, #a)
    assert.equal(1, a:get(1):value())
    assert.equal("two", a:get(2):value())
    assert.is_true(a:get(3) == one)
    assert.equal("array", a:kind())
  end)

  it("leaves an element empty for a nil argument, trailing ones included", function()
    local s <close> = iso:handle_scope()
    local a = iso:array_of(nil, iso:integer(7), nil)
    assert.equal(3, #a)
    assert.is_nil(a:get(1))
    assert.equal(7, a:get(2):value())
    assert.is_nil(a:get(3))
    assert.equal(0, #iso:array_of())
  end)

  it("makes one new Local in the innermost scope, like iso:array", function()
    local s <close> = iso:handle_scope()
    local l, r = iso:integer(1), iso:integer(2)
    local before = iso:number_of_handles()
    iso:array_of(l, r)
    assert.equal(before + 1, iso:number_of_handles())
  end)

  it("keeps its elements alive and correct across moving collections", function()
    local s <close> = iso:handle_scope()
    local a
    do
      local inner <close> = iso:escapable_handle_scope()
      a = inner:escape(iso:array_of(iso:integer(10), iso:array_of(iso:integer(20))))
    end
    iso:collect("minor"); iso:collect("major"); iso:collect("full")
    assert.equal(10, a:get(1):value())
    assert.equal(20, a:get(2):get(1):value())
    assert.is_true(iso:verify())
  end)

  it("refuses a stale element, another isolate's element or a non-handle, naming the argument",
     function()
    local s <close> = iso:handle_scope()
    local stale, at
    do
      local t <close> = iso:handle_scope(); at = here()
      stale = iso:integer(1)
    end
    local other <close> = scopelab.isolate()
    local os <close> = other:handle_scope()
    local mine = iso:integer(2)
    assert.has_error(function() iso:array_of(mine, stale) end,
      "bad argument #3 to 'array_of' (handle from a closed scope: level 2, opened at " .. at .. ")")
    assert.has_error(function() iso:array_of(other:integer(3)) end,
      "bad argument #2 to 'array_of' (handle from another isolate)")
    assert.has_error(function() iso:array_of(mine, 4) end,
      "bad argument #3 to 'array_of' (scopelab.Local expected, got number)")
    assert.has_error(function() iso:array_of(false) end,
      "bad argument #2 to 'array_of' (scopelab.Local expected, got boolean)")
  end)

  it("allocates nothing when an argument is refused", function()
    local s <close> = iso:handle_scope()
    local h = iso:integer(1)
    local handles, allocs = iso:number_of_handles(), iso:stats().allocations
    assert.has_error(function() iso:array_of(h, "x") end)
    assert.equal(handles, iso:number_of_handles())
    assert.equal(allocs, iso:stats().allocations)
  end)

  it("needs an open scope and refuses a sealed level, like every constructor", function()
    assert.has_error(function() iso:array_of() end,
      "cannot create a handle in 'array_of' (no handle scope is open)")
    local s <close> = iso:handle_scope()
    local seal <close> = iso:seal_handle_scope()
    assert.has_error(function() iso:array_of() end)
  end)
end)

describe("a:unpack", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end)

  it("returns every element as a new Local, nil for an empty one, as table.unpack does",
     function()
    local s <close> = iso:handle_scope()
    local a = iso:array_of(iso:integer(1), nil, iso:integer(3))
    local n = select("#", a:unpack())
    local x, y, z = a:unpack()
    assert.equal(3, n)
    assert.equal(1, x:value())
    assert.is_nil(y)
    assert.equal(3, z:value())
  end)

  it("returns the range i..j, and nothing for an empty range", function()
    local s <close> = iso:handle_scope()
    local a = iso:array_of(iso:integer(1), iso:integer(2), iso:integer(3))
    local p, q = a:unpack(2)
    assert.equal(2, p:value())
    assert.equal(3, q:value())
    assert.equal(1, select("#", a:unpack(1, 1)))
    assert.equal(0, select("#", a:unpack(3, 2)))
    assert.equal(0, select("#", iso:array(0):unpack()))
    local q1, q2 = a:unpack(nil, 2)
    assert.equal(1, q1:value())
    assert.equal(2, q2:value())
  end)

  it("returns more elements than a C function's minimum stack, in order", function()
    local s <close> = iso:handle_scope()
    local hs = {}
    for i = 1, 300 do
      if i % 7 ~= 0 then hs[i] = iso:integer(i) end
    end
    local a = iso:array_of(table.unpack(hs, 1, 300))
    local got = table.pack(a:unpack())
    assert.equal(300, got.n)
    for i = 1, 300 do
      if i % 7 == 0 then assert.is_nil(got[i]) else assert.equal(i, got[i]:value()) end
    end
    local mid = table.pack(a:unpack(100, 250))
    assert.equal(151, mid.n)
    assert.equal(250, mid[151]:value())
  end)

  it("makes its Locals in the innermost scope, so they die with it", function()
    local s <close> = iso:handle_scope()
    local a = iso:array_of(iso:integer(1), iso:integer(2))
    local x
    do
      local inner <close> = iso:handle_scope()
      x = a:unpack()
      assert.equal(2, iso:number_of_handles() - 3)  -- 2 integers and the array outside
    end
    assert.is_false(x:is_valid())
  end)

  it("refuses an out-of-range bound, a non-array and a stale array", function()
    local s <close> = iso:handle_scope()
    local a = iso:array_of(iso:integer(1), iso:integer(2))
    assert.has_error(function() a:unpack(0) end,
      "bad argument #2 to 'unpack' (range 0..2 out of 1..2)")
    assert.has_error(function() a:unpack(1, 3) end,
      "bad argument #3 to 'unpack' (range 1..3 out of 1..2)")
    assert.has_error(function() a:unpack(1.5) end,
      "bad argument #2 to 'unpack' (number has no integer representation)")
    assert.has_error(function() iso:integer(1):unpack() end,
      "bad argument #1 to 'unpack' (array expected, got integer)")
    local stale
    do
      local t <close> = iso:handle_scope()
      stale = iso:array(1)
    end
    assert.has_error(function() stale:unpack() end)
  end)

  it("refuses to make handles in a sealed level", function()
    local s <close> = iso:handle_scope()
    local a = iso:array_of(iso:integer(1))
    local seal <close> = iso:seal_handle_scope()
    assert.has_error(function() a:unpack() end)
  end)

  it("walks a tree built by array_of to the same count as get would", function()
    local s <close> = iso:handle_scope()
    local function make(d)
      if d == 0 then return iso:array_of(nil, nil) end
      return iso:array_of(make(d - 1), make(d - 1))
    end
    local function count(t)
      local l, r = t:unpack()
      if l == nil then return 1 end
      return 1 + count(l) + count(r)
    end
    local function count_get(t)
      local l = t:get(1)
      if l == nil then return 1 end
      return 1 + count_get(l) + count_get(t:get(2))
    end
    local t = make(6)
    assert.equal(127, count(t))
    assert.equal(127, count_get(t))
  end)
end)
