-- SPDX-License-Identifier: MIT
-- Objects and their named properties (V8's JSObject, Object::Set/Get/Has/Delete).
local helper = require "helper"

describe("an object's properties", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("store any handle under a string key and read it back as a new Local", function()
    local s <close> = iso:handle_scope()
    local o = iso:object()
    assert.equal("object", o:kind())
    o:set("n", iso:integer(1))
    o:set("s", iso:string("two"))
    o:set("smi", iso:smi(3))
    o:set("inner", iso:array(2))
    local before = iso:number_of_handles()
    local n = o:get("n")
    assert.equal(before + 1, iso:number_of_handles())
    assert.same({ 1, "two", 3, "array" },
      { n:value(), o:get("s"):value(), o:get("smi"):value(), o:get("inner"):kind() })
  end)

  it("read an absent key as undefined, a new Local, as V8 does", function()
    local s <close> = iso:handle_scope()
    local o = iso:object()
    local before = iso:number_of_handles()
    local u = o:get("missing")
    assert.equal("undefined", u:kind())
    assert.is_true(u == iso:undefined())
    assert.equal(before + 1, iso:number_of_handles())
  end)

  it("store undefined for nil", function()
    local s <close> = iso:handle_scope()
    local o = iso:object()
    o:set("k", nil)
    assert.is_true(o:has("k"))
    assert.equal("undefined", o:get("k"):kind())
  end)

  it("overwrite a key in place, keeping its place in the insertion order", function()
    local s <close> = iso:handle_scope()
    local o = iso:object()
    o:set("a", iso:smi(1))
    o:set("b", iso:smi(2))
    o:set("a", iso:smi(10))
    assert.same({ "a", "b" }, o:keys())
    assert.equal(10, o:get("a"):value())
  end)

  it("answer has() and delete() (true, also for an absent key)", function()
    local s <close> = iso:handle_scope()
    local o = iso:object()
    o:set("x", iso:smi(1))
    o:set("y", iso:smi(2))
    assert.is_true(o:has("x"))
    assert.is_false(o:has("z"))
    assert.is_true(o:delete("x"))
    assert.is_true(o:delete("never"))
    assert.is_false(o:has("x"))
    assert.same({ "y" }, o:keys())
    assert.equal("undefined", o:get("x"):kind())
  end)

  it("list the keys as a Lua list of strings, in insertion order, making no handle", function()
    local s <close> = iso:handle_scope()
    local o = iso:object()
    for _, k in ipairs { "zeta", "alpha", "", "with space", "a\0b" } do o:set(k, iso:smi(0)) end
    local before = iso:number_of_handles()
    assert.same({ "zeta", "alpha", "", "with space", "a\0b" }, o:keys())
    assert.equal(before, iso:number_of_handles())
    assert.same({}, iso:object():keys())
  end)

  it("keep their values alive across minor and major collections", function()
    local o, wv, wk
    local outer <close> = iso:handle_scope()
    o = iso:object()
    do
      local s <close> = iso:handle_scope()
      local v = iso:string("kept by a property")
      wv = iso:probe(v)
      o:set("value", v)
      local inner = iso:object()
      wk = iso:probe(inner)
      o:set("inner", inner)
      inner:set("deep", iso:integer(7))
    end
    for _ = 1, 3 do
      iso:collect("minor")
      iso:collect("major")
      iso:verify()
    end
    assert.alive(wv)
    assert.alive(wk)
    assert.equal("kept by a property", o:get("value"):value())
    assert.equal(7, o:get("inner"):get("deep"):value())
  end)

  it("let a value die once its property is deleted or overwritten", function()
    local outer <close> = iso:handle_scope()
    local o = iso:object()
    local w1, w2
    do
      local s <close> = iso:handle_scope()
      local a, b = iso:integer(1), iso:integer(2)
      w1, w2 = iso:probe(a), iso:probe(b)
      o:set("a", a)
      o:set("b", b)
    end
    o:delete("a")
    o:set("b", iso:smi(0))
    iso:collect("minor")
    iso:verify()
    assert.collected(w1)
    assert.collected(w2)
  end)

  it("run the write barrier: an old object holding a young value keeps it", function()
    local outer <close> = iso:handle_scope()
    local o = iso:object()
    o:set("slot", iso:smi(0))
    iso:collect("major")                          -- o is old now
    assert.equal("old", o:generation())
    local w
    do
      local s <close> = iso:handle_scope()
      local young = iso:integer(99)
      w = iso:probe(young)
      o:set("slot", young)                        -- an existing key: the fast path
      o:set("new", iso:string("y"))               -- a new key: the store grows
    end
    iso:collect("minor")
    iso:verify()
    assert.alive(w)
    assert.equal(99, o:get("slot"):value())
    assert.equal("y", o:get("new"):value())
  end)

  it("dies with its scope when nothing else holds it", function()
    local w
    do
      local s <close> = iso:handle_scope()
      local o = iso:object()
      o:set("x", iso:integer(1))
      w = iso:probe(o)
    end
    iso:collect("minor")
    iso:verify()
    assert.collected(w)
  end)

  it("refuse a key that is not a string, and a Local that is not an object", function()
    local s <close> = iso:handle_scope()
    local o, a = iso:object(), iso:array(1)
    assert.has_error(function() o:get(1) end, "bad argument #2 to 'get' (string expected, got number)")
    assert.has_error(function() o:set(true, nil) end,
      "bad argument #2 to 'set' (string expected, got boolean)")
    assert.has_error(function() o:has(1) end, "bad argument #2 to 'has' (string expected, got number)")
    assert.has_error(function() o:delete({}) end,
      "bad argument #2 to 'delete' (string expected, got table)")
    assert.has_error(function() a:has("x") end, "bad argument #1 to 'has' (object expected, got array)")
    assert.has_error(function() a:keys() end, "bad argument #1 to 'keys' (object expected, got array)")
    assert.has_error(function() iso:integer(1):get("x") end,
      "bad argument #2 to 'get' (integer expected, got string)")
    assert.has_error(function() a:get("x") end, "bad argument #2 to 'get' (integer expected, got string)")
    assert.has_error(function() o:set("k", 5) end,
      "bad argument #3 to 'set' (scopelab.Local expected, got number)")
    assert.has_error(function() o:value() end, "bad argument #1 to 'value' (an object has no Lua value)")
  end)

  it("refuse a stale object and a value from a closed scope", function()
    local outer <close> = iso:handle_scope()
    local o, stale
    do
      local s <close> = iso:handle_scope()
      o = iso:object()
      stale = iso:integer(1)
    end
    assert.has_error(function() o:get("x") end)
    local live = iso:object()
    local ok, err = pcall(live.set, live, "k", stale)
    assert.is_false(ok)
    assert.matches("bad argument #3 to 'set' %(handle from a closed scope", err)
  end)

  it("need a scope to read into, as any new handle does", function()
    local idx
    do
      local s <close> = iso:handle_scope()
      local o = iso:object()
      o:set("k", iso:smi(1))
      idx = iso:eternal(o)
    end
    local o = iso:eternal_get(idx)                -- bound to its slot: no scope needed
    assert.is_true(o:has("k"))
    assert.same({ "k" }, o:keys())
    assert.has_error(function() o:get("k") end,
      "cannot create a handle in 'get' (no handle scope is open)")
  end)

  it("prints as object#id", function()
    local s <close> = iso:handle_scope()
    local o = iso:object()
    assert.equal(("scopelab.Local: object#%d (scope 1, live)"):format(o:id()), tostring(o))
  end)
end)
