-- SPDX-License-Identifier: MIT
-- The read-only roots (V8's oddballs): undefined, null, true and false.
local helper = require "helper"

describe("iso:undefined(), iso:null() and iso:boolean(b)", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("give Locals of kind 'undefined', 'null' and 'boolean' with Lua values nil, nil, b", function()
    assert.same({ "undefined", "null", "boolean", "boolean" },
      { iso:undefined():kind(), iso:null():kind(), iso:boolean(true):kind(),
        iso:boolean(false):kind() })
    assert.is_nil(iso:undefined():value())
    assert.is_nil(iso:null():value())
    assert.is_true(iso:boolean(true):value())
    assert.is_false(iso:boolean(false):value())
  end)

  it("work with no scope open and make no handle", function()
    assert.equal(0, iso:stats().scope_depth)
    local u, n, t = iso:undefined(), iso:null(), iso:boolean(true)
    assert.equal(0, iso:number_of_handles())
    assert.is_true(u:is_valid() and n:is_valid() and t:is_valid())
    local s <close> = iso:handle_scope()
    iso:undefined()
    assert.equal(0, iso:number_of_handles())
  end)

  it("work under a seal, where no handle may be made", function()
    local s <close> = iso:handle_scope()
    local seal <close> = iso:seal_handle_scope()
    assert.equal("undefined", iso:undefined():kind())
    assert.is_true(iso:boolean(false) == iso:boolean(false))
  end)

  it("are never stale: a root Local outlives every scope", function()
    local u
    do
      local s <close> = iso:handle_scope()
      u = iso:undefined()
    end
    assert.is_true(u:is_valid())
    assert.equal("undefined", u:kind())
  end)

  it("have the same identity and address for the isolate's life, across collections", function()
    local id, addr = iso:null():id(), iso:null():address()
    local s <close> = iso:handle_scope()
    for i = 1, 200 do iso:integer(i) end
    iso:collect("minor")
    iso:collect("major")
    iso:verify()
    assert.equal(id, iso:null():id())
    assert.equal(addr, iso:null():address())
    assert.equal("old", iso:null():generation())
    assert.is_true(iso:undefined() == iso:undefined())
    assert.is_false(iso:undefined() == iso:null())
  end)

  it("never die: a probe and a weak persistent of one stay alive", function()
    local s <close> = iso:handle_scope()
    local w = iso:probe(iso:boolean(true))
    local p = iso:persistent(iso:undefined())
    p:set_weak()
    iso:collect("full")
    iso:verify()
    assert.alive(w)
    assert.alive(iso:undefined())
    assert.is_false(p:is_empty())
  end)

  it("can be stored in arrays and properties, and read back as the same root", function()
    local s <close> = iso:handle_scope()
    local a, o = iso:array(1), iso:object()
    a:set(1, iso:null())
    o:set("flag", iso:boolean(true))
    iso:collect("major")
    iso:verify()
    assert.is_true(a:get(1) == iso:null())
    assert.is_true(o:get("flag") == iso:boolean(true))
  end)

  it("refuses a boolean that is not one", function()
    assert.has_error(function() iso:boolean(1) end,
      "bad argument #2 to 'boolean' (boolean expected, got number)")
    assert.has_error(function() iso:boolean() end,
      "bad argument #2 to 'boolean' (boolean expected, got no value)")
  end)

  it("print as roots", function()
    assert.equal("scopelab.Local: undefined (root)", tostring(iso:undefined()))
    assert.equal("scopelab.Local: null (root)", tostring(iso:null()))
    assert.equal("scopelab.Local: boolean true (root)", tostring(iso:boolean(true)))
    assert.equal("scopelab.Local: boolean false (root)", tostring(iso:boolean(false)))
  end)
end)
