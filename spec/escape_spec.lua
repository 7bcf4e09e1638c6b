-- SPDX-License-Identifier: MIT
-- Escapable scopes: one value may leave the scope, into the parent.
local helper = require "helper"
local here = helper.here

describe("an escapable handle scope", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("keeps an escaped value alive after its scope closes while the other dies (returning_function)", function()
    local outer <close> = iso:handle_scope()
    local wzero
    local function returning_function()
      local scope <close> = iso:escapable_handle_scope()
      local zero = iso:integer(0)
      local one = iso:integer(1)
      wzero = iso:probe(zero)
      return scope:escape(one)
    end
    local one = returning_function()
    iso:collect("minor")
    iso:collect("major")
    assert.equal(1, one:value())
    assert.is_true(one:is_valid())
    assert.is_false(wzero:alive())
    assert.equal(1, iso:number_of_handles())
    iso:verify()
  end)

  it("gives the escaped Local to the parent scope, stale once the parent closes", function()
    local escaped
    local parent = iso:handle_scope() local psite = here()
    do
      local s <close> = iso:escapable_handle_scope()
      escaped = s:escape(iso:string("x"))
    end
    assert.equal("x", escaped:value())
    assert.matches("%(scope 1, live%)$", tostring(escaped))
    parent:close()
    assert.has_error(function() escaped:value() end,
      "bad argument #1 to 'value' (handle from a closed scope: level 1, opened at " .. psite .. ")")
  end)

  it("escapes nil as nil, which uses up the escape", function()
    local outer <close> = iso:handle_scope()
    local s <close> = iso:escapable_handle_scope() local site = here()
    assert.is_nil(s:escape(nil))
    assert.has_error(function() s:escape(iso:integer(1)) end,
      "bad argument #1 to 'escape' (escapable scope level 2, opened at " .. site ..
      " has already escaped a value)")
  end)

  it("refuses to escape twice", function()
    local outer <close> = iso:handle_scope()
    local s <close> = iso:escapable_handle_scope() local site = here()
    local first = s:escape(iso:integer(1))
    assert.has_error(function() s:escape(iso:integer(2)) end,
      "bad argument #1 to 'escape' (escapable scope level 2, opened at " .. site ..
      " has already escaped a value)")
    assert.equal(1, first:value())                 -- the refused escape left the first in place
  end)

  it("refuses to escape from a closed escapable scope", function()
    local outer <close> = iso:handle_scope()
    local s = iso:escapable_handle_scope() local site = here()
    local h = iso:integer(1)
    s:close()
    local h2 = iso:integer(2)
    assert.has_error(function() s:escape(h2) end,
      "bad argument #1 to 'escape' (escapable scope level 2, opened at " .. site .. " is closed)")
    assert.equal(2, h2:value())
    assert.is_false(h:is_valid())
  end)

  it("refuses escape on a plain handle scope", function()
    local s <close> = iso:handle_scope()
    assert.has_error(function() s:escape(iso:integer(1)) end,
      "bad argument #1 to 'escape' (handle scope is not escapable)")
  end)

  it("refuses to escape a stale Local, naming its closed scope", function()
    local outer <close> = iso:handle_scope()
    local stale
    local site
    do
      local s <close> = iso:handle_scope() site = here()
      stale = iso:integer(7)
    end
    local e <close> = iso:escapable_handle_scope()
    assert.has_error(function() e:escape(stale) end,
      "bad argument #2 to 'escape' (handle from a closed scope: level 2, opened at " .. site .. ")")
  end)

  it("needs an open parent scope", function()
    assert.has_error(function() iso:escapable_handle_scope() end,
      "cannot create a handle in 'escapable_handle_scope' (no handle scope is open)")
  end)

  it("catches a Local returned from a plain scope as a stale handle", function()
    local outer <close> = iso:handle_scope()
    local site
    local function wrong()
      local s <close> = iso:handle_scope() site = here()
      return iso:integer(1)
    end
    local h = wrong()
    assert.is_false(h:is_valid())
    assert.has_error(function() h:value() end,
      "bad argument #1 to 'value' (handle from a closed scope: level 2, opened at " .. site .. ")")
    assert.equal("scopelab.Local: (scope 2, closed)", tostring(h))
  end)

  it("supports chains of escapes through several levels", function()
    local outer <close> = iso:handle_scope()
    local function make(depth)
      local s <close> = iso:escapable_handle_scope()
      if depth == 0 then return s:escape(iso:integer(99)) end
      return s:escape(make(depth - 1))
    end
    local h = make(10)
    local w = iso:probe(h)
    iso:collect("minor")
    iso:collect("major")
    iso:verify()
    assert.equal(99, h:value())
    assert.is_true(w:alive())
    assert.equal(1, iso:number_of_handles())       -- only the outermost escape slot remains
  end)
end)
