-- SPDX-License-Identifier: MIT
-- Seal scopes: no handle may be created in the sealed level.
local helper = require "helper"
local here = helper.here

describe("a seal handle scope", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end)

  it("refuses every new handle in its level, naming the seal scope and its line", function()
    local outer <close> = iso:handle_scope()
    local kept = iso:integer(1)
    local seal <close> = iso:seal_handle_scope() local site = here()
    local msg = "cannot create a handle in '%s' (the innermost scope is a seal scope: level %d, opened at "
      .. site .. ")"
    local level = seal:level()
    assert.has_error(function() iso:integer(2) end, msg:format("integer", level))
    assert.has_error(function() iso:string("s") end, msg:format("string", level))
    assert.has_error(function() iso:array(1) end, msg:format("array", level))
    assert.has_error(function() iso:number(1.5) end, msg:format("number", level))
    assert.equal("seal", seal:kind())
    assert.equal(1, kept:value())
  end)

  it("allows handles again in a handle scope opened inside it", function()
    local outer <close> = iso:handle_scope()
    local seal <close> = iso:seal_handle_scope() local site = here()
    do
      local inner <close> = iso:handle_scope()
      assert.equal(5, iso:integer(5):value())
      assert.equal(2, inner:level())
    end
    -- the inner scope closed: the sealed level refuses again
    assert.has_error(function() iso:integer(6) end, "cannot create a handle in 'integer' "
      .. "(the innermost scope is a seal scope: level 1, opened at " .. site .. ")")
  end)

  it("stops sealing once closed, and the isolate stays usable", function()
    local outer <close> = iso:handle_scope()
    local seal = iso:seal_handle_scope() local site = here()
    assert.has_error(function() iso:integer(1) end, "cannot create a handle in 'integer' "
      .. "(the innermost scope is a seal scope: level 1, opened at " .. site .. ")")
    seal:close()
    assert.equal(2, iso:integer(2):value())
    assert.equal(1, iso:number_of_handles())
  end)

  it("refuses persistent:get in the sealed level, but not eternal_get, which makes no handle",
     function()
    local outer <close> = iso:handle_scope()
    local p = iso:persistent(iso:integer(1))
    local idx = iso:eternal(iso:integer(2))
    local before = iso:number_of_handles()
    local seal <close> = iso:seal_handle_scope() local site = here()
    local why = " (the innermost scope is a seal scope: level 1, opened at " .. site .. ")"
    assert.has_error(function() p:get() end, "cannot create a handle in 'get'" .. why)
    assert.equal(2, iso:eternal_get(idx):value())
    assert.equal(before, iso:number_of_handles())
    p:reset()
  end)
end)
