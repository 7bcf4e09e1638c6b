-- SPDX-License-Identifier: MIT
-- Why a collection ran: external memory (V8's AdjustAmountOfExternalAllocatedMemory),
-- old-generation growth (heap_growing_factor), and the 'reason' of collect() and the trace.
local helper = require "helper"
local scopelab = require "scopelab"

-- Runs Lua code in a child lua5.4 (the trace goes to the process's stderr): its
-- stdout and the trace lines' reasons, in order.
local function child(code)
  local script, err = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w")); f:write(code); f:close()
  local p = io.popen(("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/?.so;;' "
    .. "lua5.4 %s 2>%s"):format(script, err))
  local out = p:read("a"); p:close()
  local e = assert(io.open(err)); local errtext = e:read("a"); e:close()
  os.remove(script); os.remove(err)
  local reasons = {}
  for kind, reason in errtext:gmatch("#%d+ ([%a%-]+): [^\n]*, ([%a ]+)\n") do
    reasons[#reasons + 1] = kind .. " " .. reason
  end
  return out, reasons, errtext
end

describe("iso:adjust_external_memory(delta)", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("returns the new total, which stats() reports as external_memory", function()
    assert.equal(1000, iso:adjust_external_memory(1000))
    assert.equal(1500, iso:adjust_external_memory(500))
    assert.equal(1200, iso:adjust_external_memory(-300))
    assert.equal(1200, iso:stats().external_memory)
    assert.equal("integer", math.type(iso:stats().external_memory))
  end)

  it("refuses a total that would overflow, and a delta that is not an integer", function()
    iso:adjust_external_memory(math.maxinteger)
    assert.has_error(function() iso:adjust_external_memory(1) end,
      "bad argument #2 to 'adjust_external_memory' (the total would overflow)")
    assert.has_error(function() iso:adjust_external_memory(0.5) end,
      "bad argument #2 to 'adjust_external_memory' (number has no integer representation)")
  end)

  it("makes the next allocation run a full collection once past the limit", function()
    local small = scopelab.isolate { gc_interval = 0, external_memory_limit = 4096 }
    local s <close> = small:handle_scope()
    small:adjust_external_memory(4096)            -- at the limit: nothing yet
    small:integer(1)
    assert.equal(0, small:stats().major_collections)
    small:adjust_external_memory(1)               -- past it
    assert.equal(0, small:stats().major_collections)   -- adjusting itself collects nothing
    small:integer(2)
    assert.equal(1, small:stats().major_collections)
    small:integer(3)                              -- the limit counts from that collection
    assert.equal(1, small:stats().major_collections)
    small:verify()
    s:close()
    small:dispose()
  end)

  it("counts from the last full collection, which a forced one also is", function()
    local small = scopelab.isolate { gc_interval = 0, external_memory_limit = 4096 }
    local s <close> = small:handle_scope()
    small:adjust_external_memory(3000)
    small:collect("major")
    small:adjust_external_memory(3000)            -- 6000 total, 3000 since the collection
    small:integer(1)
    assert.equal(1, small:stats().major_collections)
    s:close()
    small:dispose()
  end)

  it("is allowed with no scope open and makes no handle", function()
    iso:adjust_external_memory(10)
    assert.equal(0, iso:number_of_handles())
  end)
end)

describe("the option external_memory_limit", function()
  it("defaults to V8's 64 MiB soft limit", function()
    local iso <close> = scopelab.isolate { gc_interval = 0 }
    local s <close> = iso:handle_scope()
    iso:adjust_external_memory(64 << 20)
    iso:integer(1)
    assert.equal(0, iso:stats().major_collections)
    iso:adjust_external_memory(1)
    iso:integer(2)
    assert.equal(1, iso:stats().major_collections)
  end)

  it("must be an integer up to 1 PiB", function()
    assert.has_error(function() scopelab.isolate { external_memory_limit = -1 } end,
      "bad argument #1 to 'isolate' (option 'external_memory_limit' must be an integer in "
      .. "0..9223372036854775807, got -1)")
    assert.has_error(function() scopelab.isolate { external_memory_limit = (1 << 50) + 1 } end,
      "bad argument #1 to 'isolate' (external_memory_limit must be at most 1 PiB)")
  end)
end)

describe("the option heap_growing_factor", function()
  -- keeps 'n' old arrays of 4096 elements (32 KiB each, allocated in old space
  -- directly) alive, one at a time; returns the major collections it took
  local function fill(factor, n)
    local iso <close> = scopelab.isolate { gc_interval = 0, heap_growing_factor = factor,
                                           young_size = 65536 }
    local s <close> = iso:handle_scope()
    local keep = iso:array(n)
    for i = 1, n do keep:set(i, iso:array(4096)) end
    iso:verify()
    return iso:stats().major_collections
  end

  it("runs a full collection when old space grows past factor times what survived", function()
    local m2 = fill(2, 160)                       -- 5 MiB kept: 1 MiB floor, then x2 steps
    assert.is_true(m2 >= 2, "majors: " .. m2)
    local m8 = fill(8, 160)
    assert.is_true(m8 < m2, ("factor 8: %d majors, factor 2: %d"):format(m8, m2))
  end)

  it("must be a number between 1 and 1000", function()
    assert.has_error(function() scopelab.isolate { heap_growing_factor = 0.5 } end,
      "bad argument #1 to 'isolate' (heap_growing_factor must be between 1 and 1000)")
    assert.has_error(function() scopelab.isolate { heap_growing_factor = 0 / 0 } end,
      "bad argument #1 to 'isolate' (heap_growing_factor must be between 1 and 1000)")
    assert.has_error(function() scopelab.isolate { heap_growing_factor = "2" } end,
      "bad argument #1 to 'isolate' (option 'heap_growing_factor' must be a number, got string)")
    local iso <close> = scopelab.isolate { heap_growing_factor = 1.5 }
    assert.is_false(iso:is_disposed())
  end)
end)

describe("the reason of a collection", function()
  it("is 'requested' for iso:collect, with the passes it ran", function()
    local iso <close> = scopelab.isolate { gc_interval = 0 }
    local st = iso:collect("minor")
    assert.equal("requested", st.reason)
    assert.equal(0, st.first_passes_run)
    assert.equal("requested", iso:collect("full").reason)
  end)

  it("ends every trace line: allocation failure, stress, external memory, growth", function()
    local _, reasons = child([[
local scopelab = require "scopelab"
local iso = scopelab.isolate { trace_gc = true, gc_interval = 0, young_size = 4096,
                               external_memory_limit = 1000 }
local s = iso:handle_scope()
for i = 1, 400 do local t <close> = iso:handle_scope(); iso:integer(i) end  -- young space fills
iso:adjust_external_memory(1001)
iso:integer(0)                                                              -- external memory
iso:collect("minor")                                                        -- requested
local keep = iso:array(64)
for i = 1, 64 do keep:set(i, iso:array(4096)) end                           -- 2 MiB old: growth
local st = scopelab.isolate { trace_gc = true, gc_interval = 1, gc_interval_kind = "minor" }
local t = st:handle_scope()
st:integer(1)                                                               -- stress
]])
    local seen = {}
    for _, r in ipairs(reasons) do seen[r] = true end
    assert.is_true(seen["Scavenge allocation failure"], table.concat(reasons, "; "))
    assert.is_true(seen["Mark-Compact external memory"], table.concat(reasons, "; "))
    assert.is_true(seen["Scavenge requested"], table.concat(reasons, "; "))
    assert.is_true(seen["Mark-Compact old generation growth"], table.concat(reasons, "; "))
    assert.is_true(seen["Scavenge stress"], table.concat(reasons, "; "))
  end)
end)
