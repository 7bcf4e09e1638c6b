-- SPDX-License-Identifier: MIT
-- Native blocks: malloc as an addon does it, memory the collector knows nothing of.
local helper = require "helper"
local scopelab = require "scopelab"

describe("a native block", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("has its size and a stable pointer, and is counted in stats", function()
    local nb = iso:native_alloc(1024, "buffer")
    assert.equal(1024, nb:size())
    assert.equal("userdata", type(nb:pointer()))
    assert.equal(nb:pointer(), nb:pointer())
    assert.is_false(nb:is_freed())
    local st = iso:stats()
    assert.equal(1024, st.native_bytes)
    assert.equal(1, st.native_blocks)
    assert.equal("integer", math.type(st.native_bytes))
  end)

  it("needs no scope and makes no handle", function()
    iso:native_alloc(8)
    assert.equal(0, iso:number_of_handles())
    assert.equal(0, iso:stats().scope_depth)
  end)

  it("is invisible to the collector: it starts no collection and none frees it", function()
    local s <close> = iso:handle_scope()
    local before = iso:stats()
    for _ = 1, 80 do iso:native_alloc(1 << 20) end   -- past the 64 MiB external limit
    for i = 1, 100 do iso:integer(i) end
    local mid = iso:stats()
    assert.equal(before.collections, mid.collections)
    assert.equal(0, mid.external_memory)
    iso:collect("full")
    iso:verify()
    assert.equal(80 << 20, iso:stats().native_bytes)
  end)

  it("is freed by free(), once: any later use names the method", function()
    local nb = iso:native_alloc(16)
    nb:free()
    assert.is_true(nb:is_freed())
    assert.equal(0, iso:stats().native_bytes)
    assert.equal(0, iso:stats().native_blocks)
    assert.has_error(function() nb:free() end, "bad argument #1 to 'free' (native block is freed)")
    assert.has_error(function() nb:size() end, "bad argument #1 to 'size' (native block is freed)")
    assert.has_error(function() nb:pointer() end,
      "bad argument #1 to 'pointer' (native block is freed)")
  end)

  it("stays allocated and counted when Lua drops it without free (the leak)", function()
    for _ = 1, 10 do iso:native_alloc(100, "leaked") end
    collectgarbage()
    collectgarbage()
    local st = iso:stats()
    assert.equal(10, st.native_blocks)
    assert.equal(1000, st.native_bytes)
  end)

  it("is freed with the rest when the isolate is disposed", function()
    local other = scopelab.isolate()
    local nb = other:native_alloc(64)
    other:native_alloc(64)
    other:dispose()
    assert.is_true(nb:is_freed())
    assert.has_error(function() nb:size() end,
      "bad argument #1 to 'size' (native block of a disposed isolate)")
    assert.has_error(function() other:native_alloc(1) end,
      "bad argument #1 to 'native_alloc' (isolate is disposed)")
  end)

  it("refuses a negative size and a label that is not a string", function()
    assert.has_error(function() iso:native_alloc(-1) end,
      "bad argument #2 to 'native_alloc' (size must be non-negative, got -1)")
    assert.has_error(function() iso:native_alloc(1, 5) end,
      "bad argument #3 to 'native_alloc' (string expected, got number)")
    assert.has_error(function() iso:native_alloc("8") end,
      "bad argument #2 to 'native_alloc' (integer expected, got string)")
    assert.equal(0, iso:native_alloc(0):size())
  end)

  it("prints its size, label and state", function()
    local nb = iso:native_alloc(12, "name")
    assert.matches("^scopelab%.NativeBlock: 12 bytes 'name' at 0x%x+$", tostring(nb))
    nb:free()
    assert.equal("scopelab.NativeBlock: (freed)", tostring(nb))
    assert.is_true(nb == nb)
  end)
end)

describe("iso:native_report()", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("lists the blocks not freed by creation line and label, most bytes first", function()
    local site_a, site_b
    for _ = 1, 3 do iso:native_alloc(10, "small"); site_a = site_a or helper.here() end
    local big = iso:native_alloc(500, "big"); site_b = helper.here()
    local freed = iso:native_alloc(7, "gone")
    freed:free()
    local rep = iso:native_report()
    assert.equal(4, rep.blocks)
    assert.equal(530, rep.bytes)
    assert.equal(2, #rep)
    assert.same({ site = site_b, label = "big", count = 1, bytes = 500 }, rep[1])
    assert.same({ site = site_a, label = "small", count = 3, bytes = 30 }, rep[2])
    big:free()
    assert.equal(1, #iso:native_report())
  end)

  it("reads as a summary and as JSON", function()
    iso:native_alloc(10, "x"); local site1 = helper.here()
    iso:native_alloc(5); local site2 = helper.here()
    local rep = iso:native_report()
    assert.equal("scopelab.NativeReport: 2 native blocks, 15 bytes not freed, 2 allocation sites\n"
      .. "          10 bytes in 1 block 'x'  allocated at " .. site1 .. "\n"
      .. "           5 bytes in 1 block  allocated at " .. site2, tostring(rep))
    assert.matches('"blocks":2', rep:json())
  end)

  it("is empty when every block was freed", function()
    iso:native_alloc(3):free()
    local rep = iso:native_report()
    assert.same({ 0, 0, 0 }, { #rep, rep.blocks, rep.bytes })
  end)
end)
