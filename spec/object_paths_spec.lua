-- SPDX-License-Identifier: MIT
-- Diagnostics that name properties and internal fields: retaining paths,
-- snapshots and diffs of objects, functions and externals.
local helper = require "helper"
local scopelab = require "scopelab"

describe("a retaining path through objects", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("names the property that holds each step", function()
    local s <close> = iso:handle_scope(); local site = helper.here()
    local o = iso:object()
    local w
    do
      local t <close> = iso:handle_scope()
      local inner, v = iso:object(), iso:integer(57)
      w = iso:probe(v)
      o:set("name", inner)
      inner:set("count", v)
    end
    local path = iso:retainers(w)
    assert.equal(("local (scope 1, opened at %s) -> object#%d.name -> object#%d.count -> integer#%d")
      :format(site, o:id(), path.steps[2].id, w:id()), tostring(path))
    assert.same({ edge = "property", name = "name", id = path.steps[2].id, kind = "object",
                  generation = "young" }, path.steps[2])
    assert.same({ edge = "property", name = "count", id = w:id(), kind = "integer",
                  generation = "young" }, path.steps[3])
  end)

  it("names the internal field that holds a step, from 1", function()
    local s <close> = iso:handle_scope(); local site = helper.here()
    local o = iso:object(3)
    local w
    do
      local t <close> = iso:handle_scope()
      local v = iso:string("in a field")
      w = iso:probe(v)
      o:set_internal_field(2, v)
    end
    iso:collect("major")
    iso:verify()
    local path = iso:retainers(w)
    assert.equal(("local (scope 1, opened at %s) -> object#%d[field 2] -> string#%d")
      :format(site, o:id(), w:id()), tostring(path))
    assert.same({ edge = "internal_field", index = 2, id = w:id(), kind = "string",
                  generation = "old" }, path.steps[2])
  end)

  it("goes through a persistent wrapper as an addon's would", function()
    local p, w
    do
      local s <close> = iso:handle_scope()
      local wrapper = iso:object(1)
      local state = iso:object()
      wrapper:set("state", state)
      local v = iso:array(1)
      state:set("items", v)
      w = iso:probe(v)
      p = iso:persistent(wrapper)
    end
    local text = tostring(iso:retainers(w))
    assert.matches("^persistent #%d+ %(created at spec/object_paths_spec%.lua:%d+%) %-> "
      .. "object#%d+%.state %-> object#%d+%.items %-> array#%d+$", text)
    p:reset()
  end)

  it("reads a hand-made path with property and field edges", function()
    local path = setmetatable({ root = { kind = "eternal", index = 1 }, steps = {
      { id = 1, kind = "object" },
      { id = 2, kind = "object", edge = "property", name = "a" },
      { id = 3, kind = "string", edge = "property", name = "k", key = true },
      { id = 4, kind = "integer", edge = "internal_field", index = 1 },
      { id = 5, kind = "string", edge = "data" },
      { id = 6, kind = "array", index = 3 },
    } }, debug.getregistry()["scopelab.Path"])
    assert.equal("eternal #1 -> object#1.a -> object#2[key 'k'] -> string#3[field 1] -> "
      .. "integer#4[data] -> string#5[3] -> array#6", tostring(path))
  end)
end)

describe("snapshots and diffs of objects", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("list objects, property stores, functions and externals by kind", function()
    local s <close> = iso:handle_scope()
    local before = iso:snapshot()
    local o = iso:object(1)
    o:set("a", iso:smi(1))
    iso:func(function() end)
    iso:external(nil)
    local after = iso:snapshot()
    local kinds = {}
    for _, obj in ipairs(after.objects) do kinds[obj.kind] = (kinds[obj.kind] or 0) + 1 end
    assert.equal(1, kinds.object)
    assert.equal(1, kinds.properties)
    assert.equal(1, kinds["function"])
    assert.equal(1, kinds.external)
    local d = scopelab.diff(before, after)
    assert.equal(1, d.added.kinds.object.count)
    assert.equal(1, d.added.kinds.properties.count)
    assert.equal(1, d.added.kinds["function"].count)
    assert.matches("\n  object   %+1 %(%+%d+ B%)  %-0 %(%-0 B%)\n", tostring(d))
    assert.matches("properties 1 %(%d+ B%)", tostring(after))
  end)

  it("count a call's frame as roots while the call runs, and leave them out after", function()
    local s <close> = iso:handle_scope()
    local inside
    local fn = iso:func(function() inside = iso:snapshot() end)
    iso:call(fn, iso:object(), iso:smi(1), iso:string("arg"))
    assert.is_true(inside.roots.frame > 0)
    assert.matches("frame %d+$", tostring(inside))
    local after = iso:snapshot()
    assert.is_nil(after.roots.frame)
    assert.is_nil(tostring(after):match("frame"))
    local d = scopelab.diff(inside, after)
    assert.equal(-inside.roots.frame, d.roots.frame.delta)
  end)
end)

describe("tostring of a Local", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("says the kind and identity of objects, the value of Smis and roots", function()
    local s <close> = iso:handle_scope()
    local fn, e = iso:func(function() end), iso:external(nil)
    assert.equal(("scopelab.Local: function#%d (scope 1, live)"):format(fn:id()), tostring(fn))
    assert.equal(("scopelab.Local: external#%d (scope 1, live)"):format(e:id()), tostring(e))
    assert.equal("scopelab.Local: smi 7 (scope 1, live)", tostring(iso:smi(7)))
    assert.equal("scopelab.Local: undefined (root)", tostring(iso:undefined()))
    local idx = iso:eternal(iso:integer(1))
    local ev = iso:eternal_get(idx)
    assert.equal(("scopelab.Local: integer#%d (eternal)"):format(ev:id()), tostring(ev))
  end)
end)
