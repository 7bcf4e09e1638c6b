-- SPDX-License-Identifier: MIT
-- Heap snapshots, scopelab.diff and JSON.
local scopelab = require "scopelab"
local helper = require "helper"

local function sizes(snap)
  local by = {}
  for _, o in ipairs(snap.objects) do by[o.id] = o end
  return by
end

describe("iso:snapshot", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("lists every live object with id, kind, size and generation, and counts roots", function()
    local s <close> = iso:handle_scope()
    local list = iso:array(3)
    local str = iso:string("hello")
    list:set(1, str)
    local p = iso:persistent(list)
    local snap = iso:snapshot()
    assert.equal(2, snap.count)
    assert.equal(2, #snap.objects)
    local by = sizes(snap)
    assert.same({ "array", "young" }, { by[list:id()].kind, by[list:id()].generation })
    assert.same({ "string", "young" }, { by[str:id()].kind, by[str:id()].generation })
    assert.equal(by[list:id()].size + by[str:id()].size, snap.bytes)
    assert.same({ ["local"] = 2, persistent = 1, eternal = 0, remembered = 0 }, snap.roots)
    for _, o in ipairs(snap.objects) do assert.equal("integer", math.type(o.size)) end
    p:delete()
  end)

  it("reads as a one-line summary", function()
    local s <close> = iso:handle_scope()
    iso:integer(1); iso:integer(2)
    local snap = iso:snapshot()
    local size = snap.objects[1].size
    assert.equal(("scopelab.Snapshot: 2 objects, %d bytes (integer 2 (%d B)); roots: local 2, "
      .. "persistent 0, eternal 0, remembered 0"):format(2 * size, 2 * size), tostring(snap))
  end)
end)

describe("scopelab.diff", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("counts exactly the objects and bytes added, by kind, and the roots that grew", function()
    local s <close> = iso:handle_scope()
    local a = iso:snapshot()
    local list = iso:array(2)
    local n1, n2 = iso:integer(1), iso:integer(2)
    local str = iso:string("abc")
    iso:eternal(str)
    local b = iso:snapshot()
    local by = sizes(b)
    local d = scopelab.diff(a, b)
    assert.equal(4, d.added.count)
    assert.equal(by[list:id()].size + by[n1:id()].size + by[n2:id()].size + by[str:id()].size,
      d.added.bytes)
    assert.same({ count = 2, bytes = by[n1:id()].size * 2 }, d.added.kinds.integer)
    assert.same({ count = 1, bytes = by[list:id()].size }, d.added.kinds.array)
    assert.same({ count = 1, bytes = by[str:id()].size }, d.added.kinds.string)
    assert.same({ count = 0, bytes = 0 }, d.added.kinds.number)
    assert.same({ list:id(), n1:id(), n2:id(), str:id() }, d.added.ids)
    assert.equal(0, d.removed.count)
    assert.same({ "local", "eternal" }, d.grown)
    assert.same({ before = 0, after = 4, delta = 4 }, d.roots["local"])
    assert.same({ before = 0, after = 1, delta = 1 }, d.roots.eternal)
    assert.equal(d.added.bytes, d.net_bytes)
  end)

  it("counts exactly what a collection removed and what it promoted", function()
    local keep <close> = iso:handle_scope()
    local kept = iso:array(1)
    local dead_ids, dead_bytes = {}, 0
    local a
    do
      local tmp <close> = iso:handle_scope()
      for i = 1, 3 do dead_ids[i] = iso:integer(i):id() end
      a = iso:snapshot()
      for _, id in ipairs(dead_ids) do dead_bytes = dead_bytes + sizes(a)[id].size end
    end
    iso:collect("minor"); iso:collect("minor")       -- the second survival promotes
    local b = iso:snapshot()
    local d = scopelab.diff(a, b)
    assert.equal(0, d.added.count)
    assert.equal(3, d.removed.count)
    assert.equal(dead_bytes, d.removed.bytes)
    assert.same({ count = 3, bytes = dead_bytes }, d.removed.kinds.integer)
    assert.same(dead_ids, d.removed.ids)
    assert.equal("old", sizes(b)[kept:id()].generation)
    assert.equal(1, d.promoted)
    assert.same({}, d.grown)                           -- local roots shrank from 4 to 1
    assert.equal(-3, d.roots["local"].delta)
    assert.equal(-dead_bytes, d.net_bytes)
  end)

  it("finds nothing between two snapshots of an unchanged heap", function()
    local s <close> = iso:handle_scope()
    iso:array(3)
    local d = scopelab.diff(iso:snapshot(), iso:snapshot())
    assert.same({ 0, 0, 0, 0, 0 }, { d.added.count, d.removed.count, d.added.bytes,
      d.removed.bytes, #d.grown })
  end)

  it("reads as a summary naming the kinds that changed and the roots that grew", function()
    local s <close> = iso:handle_scope()
    local a = iso:snapshot()
    local x = iso:integer(1)
    local size = sizes(iso:snapshot())[x:id()].size
    local d = scopelab.diff(a, iso:snapshot())
    assert.equal(("scopelab.Diff: +1 object (+%d B), -0 objects (-0 B), net +%d B\n"
      .. "  integer  +1 (+%d B)  -0 (-0 B)\n  roots grew: local +1"):format(size, size, size),
      tostring(d))
  end)

  it("rejects what is not a snapshot", function()
    assert.has_error(function() scopelab.diff(nil, iso:snapshot()) end,
      "bad argument #1 to 'diff' (snapshot expected, got nil)")
    assert.has_error(function() scopelab.diff(iso:snapshot(), {}) end,
      "bad argument #2 to 'diff' (snapshot expected, got table without 'objects' and 'roots')")
  end)

  it("names 'diff' and the bad field when a snapshot is malformed", function()
    local good = { objects = { { id = 1, kind = "integer", size = 24, generation = "young" } },
                   roots = { ["local"] = 1 } }
    local function bad(objects, roots) return { objects = objects, roots = roots or {} } end
    local cases = {
      { bad({ { id = 1, kind = "integer", generation = "young" } }),
        "bad argument #1 to 'diff' (snapshot expected, objects[1] has no integer 'size')" },
      { bad({ good.objects[1], 5 }),
        "bad argument #1 to 'diff' (snapshot expected, objects[2] is a number, not an object)" },
      { bad({ { id = "1", kind = "integer", size = 24, generation = "young" } }),
        "bad argument #1 to 'diff' (snapshot expected, objects[1] has no integer 'id')" },
      { bad({ { id = 1, kind = {}, size = 24, generation = "young" } }),
        "bad argument #1 to 'diff' (snapshot expected, objects[1] has no string 'kind')" },
      { bad({}, { ["local"] = "x" }),
        "bad argument #1 to 'diff' (snapshot expected, roots.local is a string, not an integer)" },
    }
    for _, c in ipairs(cases) do
      assert.has_error(function() scopelab.diff(c[1], good) end, c[2])
      local msg2 = c[2]:gsub("#1", "#2")
      assert.has_error(function() scopelab.diff(good, c[1]) end, msg2)
    end
  end)

  it("refuses two snapshots of different isolates instead of matching unrelated ids", function()
    local other <close> = scopelab.isolate { gc_interval = 0 }
    local s1 <close> = iso:handle_scope()
    local s2 <close> = other:handle_scope()
    local a = iso:snapshot()
    iso:integer(1); other:integer(1); other:integer(2)
    assert.has_error(function() scopelab.diff(a, other:snapshot()) end,
      "bad argument #2 to 'diff' (snapshot of another isolate: ids count per isolate)")
    assert.equal(1, scopelab.diff(a, iso:snapshot()).added.count)   -- the same isolate still diffs
  end)
end)

describe("a snapshot as JSON", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("writes every object and root count, keys sorted, integers as integers", function()
    local s <close> = iso:handle_scope()
    local list = iso:array(1)
    local x = iso:integer(5)
    local snap = iso:snapshot()
    local by = sizes(snap)
    local expect = ('{"bytes":%d,"count":2,"objects":['
      .. '{"generation":"young","id":%d,"kind":"array","size":%d},'
      .. '{"generation":"young","id":%d,"kind":"integer","size":%d}],'
      .. '"roots":{"eternal":0,"local":2,"persistent":0,"remembered":0}}')
      :format(snap.bytes, list:id(), by[list:id()].size, x:id(), by[x:id()].size)
    assert.equal(expect, snap:json())
    assert.equal(expect, scopelab.to_json(snap))
  end)

  it("writes an empty heap's object list as an array", function()
    assert.equal('{"bytes":0,"count":0,"objects":[],'
      .. '"roots":{"eternal":0,"local":0,"persistent":0,"remembered":0}}', iso:snapshot():json())
  end)

  it("is valid JSON that a JSON parser reads back", function()
    local py = io.popen("command -v python3 2>/dev/null"):read("l")
    if not py then
      pending("python3 is not installed")
      return
    end
    local s <close> = iso:handle_scope()
    for i = 1, 5 do iso:string("s\n\"" .. i .. "\0") end
    local snap = iso:snapshot()
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "w")); f:write(snap:json()); f:close()
    local out = io.popen(("python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
      .. "print(d[\"count\"], len(d[\"objects\"]), d[\"roots\"][\"local\"])' %s"):format(tmp)):read("a")
    os.remove(tmp)
    assert.equal("5 5 5\n", out)
  end)

  it("escapes strings and keeps floats apart from integers", function()
    assert.equal('["a\\n\\"b\\u0001",1,1.5,2.0,true,{}]',
      scopelab.to_json({ "a\n\"b\1", 1, 1.5, 2.0, true, {} }))
  end)

  it("refuses what JSON cannot hold", function()
    local t = {}; t.self = t
    assert.has_error(function() scopelab.to_json(t) end,
      "bad argument #1 to 'to_json' (cannot write value.self as JSON (a cycle))")
    assert.has_error(function() scopelab.to_json({ x = 1 / 0 }) end,
      "bad argument #1 to 'to_json' (cannot write value.x as JSON (number inf has no JSON form))")
    assert.has_error(function() scopelab.to_json(print) end,
      "bad argument #1 to 'to_json' (cannot write value as JSON (a function))")
  end)

  it("names the path to what it refuses, however deep, with arrays and objects mixed", function()
    local t = { a = { 1, { b = {} } } }
    t.a[2].b.back = t.a
    assert.has_error(function() scopelab.to_json(t) end,
      "bad argument #1 to 'to_json' (cannot write value.a[2].b.back as JSON (a cycle))")
    assert.has_error(function() scopelab.to_json({ { 1, { x = print, [true] = 1 } } }) end,
      "bad argument #1 to 'to_json' (cannot write value[1][2] as JSON (a boolean key))")
    local shared = { 1 }
    assert.equal('{"a":[1],"b":[1]}', scopelab.to_json({ a = shared, b = shared }))  -- no cycle
  end)

  it("writes a 200,000-deep nesting with its own stack and linear memory", function()
    local depth = 200000
    local v, o = {}, {}
    for _ = 2, depth do v = { v }; o = { k = o } end
    collectgarbage(); collectgarbage()
    local base, peak = collectgarbage("count"), 0
    debug.sethook(function()                          -- the heap's size every 1000 instructions
      local kb = collectgarbage("count")
      if kb > peak then peak = kb end
    end, "", 1000)
    local ok, a = pcall(scopelab.to_json, v)
    local ok2, b = pcall(scopelab.to_json, o)
    debug.sethook()
    assert.is_true(ok, a)
    assert.is_true(ok2, b)
    assert.equal(string.rep("[", depth - 1) .. "{}" .. string.rep("]", depth - 1), a)
    assert.equal(string.rep('{"k":', depth - 1) .. "{}" .. string.rep("}", depth - 1), b)
    -- a frame per level and a piece per bracket: tens of MB, not the 14 GB of a path per level
    assert.is_true((peak - base) / 1024 < 200, ("peak %.0f MB above the start"):format((peak - base) / 1024))
  end)

  it("writes a diff too", function()
    local s <close> = iso:handle_scope()
    local a = iso:snapshot()
    iso:integer(1)
    local j = scopelab.diff(a, iso:snapshot()):json()
    assert.truthy(j:find('"grown":["local"]', 1, true))
    assert.truthy(j:find('"removed":{"bytes":0,"count":0,"ids":[]', 1, true))
  end)
end)
