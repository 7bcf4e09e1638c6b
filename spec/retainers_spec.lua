-- SPDX-License-Identifier: MIT
-- Why is this alive? iso:retainers(x): the shortest path from a root to x's object.
local scopelab = require "scopelab"
local helper = require "helper"
local here = helper.here

describe("iso:retainers", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end,
    { gc_interval = 0, stress_compaction = true })

  it("names the local root by scope level, opening line and slot, then each array index", function()
    local outer, site = iso:handle_scope(), here()
    local list = iso:array(4)                      -- slot 1 of the outer scope
    local w
    do
      local inner <close> = iso:handle_scope()
      local x = iso:integer(57)
      list:set(3, x)
      w = iso:probe(x)
    end
    local path = iso:retainers(w)
    assert.same({ kind = "local", level = 1, depth = 1, index = 1, site = site }, path.root)
    assert.equal(2, #path.steps)
    assert.same({ list:id(), "array", nil }, { path.steps[1].id, path.steps[1].kind, path.steps[1].index })
    assert.same({ w:id(), "integer", 3 }, { path.steps[2].id, path.steps[2].kind, path.steps[2].index })
    assert.equal(("local (scope 1, opened at %s) -> array#%d[3] -> integer#%d")
      :format(site, list:id(), w:id()), tostring(path))
    outer:close()
  end)

  it("takes the shortest path when several reach the object", function()
    local s <close> = iso:handle_scope()
    local a, b, c = iso:array(1), iso:array(1), iso:array(2)
    local w
    do
      local inner <close> = iso:handle_scope()
      local x = iso:string("target")
      a:set(1, b); b:set(1, x)                     -- a -> b -> x: two steps
      c:set(2, x)                                  -- c -> x: one step
      w = iso:probe(x)
    end
    local path = iso:retainers(w)
    assert.equal(2, #path.steps)
    assert.is_true(path.steps[1].id == c:id() or path.steps[1].id == b:id())
    assert.equal(w:id(), path.steps[2].id)
  end)

  it("names a persistent root by its creation line, after the scopes closed", function()
    local p, w, site, list_id
    do
      local s <close> = iso:handle_scope()
      local list = iso:array(2)
      list:set(2, iso:number(2.5))
      w = iso:probe(list:get(2))
      p, site = iso:persistent(list), here()
      list_id = list:id()
    end
    local path = iso:retainers(w)
    assert.equal("persistent", path.root.kind)
    assert.equal(site, path.root.site)
    assert.equal(("persistent #%d (created at %s) -> array#%d[2] -> number#%d")
      :format(path.root.index, site, list_id, w:id()), tostring(path))
    assert.equal(list_id, iso:retainers(p).steps[1].id)   -- a persistent is accepted too
    p:delete()
  end)

  it("names an eternal root by its index", function()
    local w, index
    do
      local s <close> = iso:handle_scope()
      local x = iso:integer(7)
      index = iso:eternal(x)
      w = iso:probe(x)
    end
    local path = iso:retainers(w)
    assert.same({ kind = "eternal", index = index }, path.root)
    assert.equal(("eternal #%d -> integer#%d"):format(index, w:id()), tostring(path))
  end)

  it("follows the object across moving collections", function()
    local s <close> = iso:handle_scope()
    local list = iso:array(1)
    local w
    do
      local inner <close> = iso:handle_scope()
      local x = iso:integer(1)
      list:set(1, x)
      w = iso:probe(x)
    end
    local before = w:address()
    iso:collect("minor"); iso:collect("major")
    assert.is_true(w:moves() >= 2)
    assert.is_not.equal(before, w:address())
    local path = iso:retainers(w)
    assert.same({ list:id(), w:id() }, { path.steps[1].id, path.steps[2].id })
  end)

  it("returns nil for an object no root reaches, even before it is collected", function()
    local w
    do
      local s <close> = iso:handle_scope()
      w = iso:probe(iso:integer(1))
    end
    assert.is_true(w:alive())                      -- not collected yet ...
    assert.is_nil(iso:retainers(w))                -- ... but nothing holds it
    iso:collect("minor")
    assert.is_nil(iso:retainers(w))                -- dead probe: no object at all
  end)

  it("rejects what is not a handle, and handles of another isolate", function()
    assert.has_error(function() iso:retainers(42) end,
      "bad argument #2 to 'retainers' (scopelab handle expected, got number)")
    local other <close> = scopelab.isolate()
    local s <close> = other:handle_scope()
    local h = other:integer(1)
    assert.has_error(function() iso:retainers(h) end,
      "bad argument #2 to 'retainers' (handle from another isolate)")
  end)
end)
