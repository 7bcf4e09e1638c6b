-- SPDX-License-Identifier: MIT
-- Collections, statistics and the raw diagnostics of issue 6.
local scopelab = require "scopelab"
local helper = require "helper"
local here = helper.here

describe("collect and stats", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("describes each collection with integer fields", function()
    local s <close> = iso:handle_scope()
    for i = 1, 10 do iso:integer(i) end
    do
      local t <close> = iso:handle_scope()
      for i = 1, 10 do iso:string("garbage" .. i) end
    end
    local st = iso:collect("minor")
    assert.equal("minor", st.kind)
    for _, k in ipairs { "number", "moved", "promoted", "survived", "freed_bytes", "bytes_before",
                         "bytes_after", "handles_scanned", "nodes_scanned", "weak_cleared", "callbacks_run",
                         "callback_errors", "duration_ns" } do
      assert.equal("integer", math.type(st[k]), k)
    end
    assert.equal(1, st.number)
    assert.equal(10, st.moved)
    assert.equal(10, st.survived)
    assert.equal(10, st.handles_scanned)
    assert.equal(st.bytes_before - st.bytes_after, st.freed_bytes)
    assert.is_true(st.freed_bytes > 0)
    assert.equal("major", iso:collect("major").kind)
    assert.equal("major", iso:collect().kind)
    assert.equal("major", iso:collect("full").kind)
    assert.equal(6, iso:collect("minor").number)   -- "full" was a minor then a major
  end)

  it("refuses an unknown collection kind", function()
    assert.has_error(function() iso:collect("huge") end,
      "bad argument #2 to 'collect' (invalid kind 'huge', expected 'minor', 'major' or 'full')")
    assert.has_error(function() iso:collect({}) end,
      "bad argument #2 to 'collect' (string expected, got table)")
  end)

  it("reports the issue 3 statistics and the whole sl_heap_stats, all integers", function()
    local s <close> = iso:handle_scope()
    iso:persistent(iso:integer(1))
    iso:collect("minor")
    local st = iso:stats()
    for _, k in ipairs { "handles", "scope_level", "blocks", "young_used", "old_used",
                         "minor_collections", "major_collections", "persistent_handles",
                         "scope_depth", "spare_blocks", "block_size", "young_size", "old_size",
                         "weak_handles", "probes", "eternal_handles", "remembered", "allocations",
                         "bytes_allocated", "objects_moved", "weak_callbacks_run", "collections" } do
      assert.equal("integer", math.type(st[k]), k)
    end
    assert.equal(1, st.handles)
    assert.equal(1, st.scope_level)
    assert.equal(1, st.persistent_handles)
    assert.equal(1, st.minor_collections)
    assert.equal(1, st.allocations)
    assert.equal(1022, st.block_size)
  end)

  it("finds no broken invariant after minor and major collections of an array and its elements", function()
    local s <close> = iso:handle_scope()
    local a = iso:array(4)
    for i = 1, 4 do a:set(i, iso:number(i + 0.5)) end
    iso:collect("minor"); iso:collect("major")
    assert.is_true(iso:verify())
    assert.equal(2.5, a:get(2):value())
  end)

  it("forces collections at the allocation counts given in gc_at", function()
    local w = scopelab.isolate { gc_at = { 5, 3 }, gc_interval = 0 }
    local s <close> = w:handle_scope()
    w:integer(1); w:integer(2)
    assert.equal(0, w:stats().collections)
    w:integer(3)
    assert.equal(1, w:stats().collections)
    w:integer(4); w:integer(5)
    assert.equal(2, w:stats().collections)
    for i = 6, 20 do w:integer(i) end
    assert.equal(2, w:stats().collections)
    w:dispose()
  end)

  it("prints one V8-like line per collection to stderr with trace_gc", function()
    local name = os.tmpname()
    local f = assert(io.open(name, "w"))
    f:write([[
      local iso = require("scopelab").isolate { trace_gc = true }
      iso:collect("minor"); iso:collect("major")
    ]])
    f:close()
    local pipe = io.popen("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/?.so;;' lua5.4 "
      .. name .. " 2>&1 >/dev/null")
    local out = pipe:read("a")
    pipe:close()
    os.remove(name)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(2, #lines)
    assert.matches("^%[scopelab 0x%x+%] #1 Scavenge: [%d.]+ ms, %d+ %-> %d+ bytes, moved %d+, promoted %d+, "
      .. "handles scanned %d+, weak cleared %d+, requested$", lines[1])
    assert.matches("^%[scopelab 0x%x+%] #2 Mark%-Compact: ", lines[2])
  end)
end)

describe("diagnostics", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("names the root and every step of the path that keeps an object alive", function()
    local s <close> = iso:handle_scope() local site = here()
    local a = iso:array(5)
    local target
    do
      local t <close> = iso:handle_scope()
      target = iso:probe(iso:integer(57))
      a:set(3, target:get())
    end
    local path = iso:retainers(target)
    assert.equal("local", path.root.kind)
    assert.equal(1, path.root.level)
    assert.equal(site, path.root.site)
    assert.equal(1, path.root.index)
    assert.equal(2, #path.steps)
    assert.same({ id = a:id(), kind = "array", generation = "young" }, path.steps[1])
    assert.same({ id = target:id(), kind = "integer", generation = "young", index = 3 }, path.steps[2])
    assert.equal(("local (scope 1, opened at %s) -> array#%d[3] -> integer#%d"):format(
      site, a:id(), target:id()), tostring(path))
  end)

  it("names a persistent root with its creation line, and nil for an unreachable object", function()
    local p, site, w
    do
      local s <close> = iso:handle_scope()
      local h = iso:string("held")
      p = iso:persistent(h) site = here()
      w = iso:probe(h)
    end
    local path = iso:retainers(p)
    assert.equal("persistent", path.root.kind)
    assert.equal(site, path.root.site)
    assert.matches("^persistent #%d+ %(created at " .. site:gsub("%p", "%%%0") .. "%) %-> string#"
      .. w:id() .. "$", tostring(path))
    p:reset()
    assert.is_nil(iso:retainers(w))
  end)

  it("takes a snapshot of live objects with root counts", function()
    local s <close> = iso:handle_scope()
    local a = iso:array(2)
    a:set(1, iso:string("abc"))
    iso:eternal(iso:integer(1))
    iso:persistent(iso:number(2.5))
    iso:collect("major")
    local snap = iso:snapshot()
    assert.equal(4, snap.count)
    assert.equal(4, #snap.objects)
    local kinds, bytes = {}, 0
    for _, o in ipairs(snap.objects) do
      kinds[o.kind] = (kinds[o.kind] or 0) + 1
      bytes = bytes + o.size
      assert.equal("integer", math.type(o.id))
      assert.is_true(o.generation == "young" or o.generation == "old")
    end
    assert.same({ array = 1, string = 1, integer = 1, number = 1 }, kinds)
    assert.equal(bytes, snap.bytes)
    assert.equal(4, snap.roots["local"])
    assert.equal(1, snap.roots.persistent)
    assert.equal(1, snap.roots.eternal)
  end)
end)
