-- SPDX-License-Identifier: MIT
-- The GC trace (option 'trace_gc'): one stderr line per collection, like V8's --trace-gc.
-- It is written by C to the process's stderr, so it is read from a child lua5.4.

local function child(code)
  local script, err = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w")); f:write(code); f:close()
  local p = io.popen(("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/?.so;;' "
    .. "lua5.4 %s 2>%s"):format(script, err))
  local out = p:read("a"); p:close()
  local e = assert(io.open(err)); local errtext = e:read("a"); e:close()
  os.remove(script); os.remove(err)
  return out, errtext
end

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

local PATTERN = "^%[scopelab 0?x?%x+%] #(%d+) ([%a%-]+): ([%d%.]+) ms, (%d+) %-> (%d+) bytes, "
  .. "moved (%d+), promoted (%d+), handles scanned (%d+), weak cleared (%d+), ([%a ]+)$"

describe("the GC trace", function()
  it("prints one line per collection with the numbers the collection returned", function()
    local out, err = child([[
local scopelab = require "scopelab"
local iso = scopelab.isolate { trace_gc = true, gc_interval = 0 }
local s = iso:handle_scope()
local list = iso:array(4)
for i = 1, 4 do list:set(i, iso:integer(i)) end
local p
do local t <close> = iso:handle_scope(); p = iso:persistent(iso:string("weak")) end
p:set_weak()
for _, kind in ipairs { "minor", "minor", "major" } do
  local st = iso:collect(kind)
  print(st.number, st.kind, st.bytes_before, st.bytes_after, st.moved, st.promoted,
        st.handles_scanned, st.weak_cleared, st.reason)
end
]])
    local trace, want = lines(err), lines(out)
    assert.equal(3, #trace)
    for i, line in ipairs(trace) do
      local n, kind, ms, before, after, moved, promoted, scanned, cleared, reason =
        line:match(PATTERN)
      assert.truthy(n, "not a trace line: " .. line)
      assert.truthy(tonumber(ms))
      local expect = lines(want[i]:gsub("\t", "\n"))
      assert.same(expect, { n, kind == "Scavenge" and "minor" or kind == "Mark-Compact" and "major"
        or kind, before, after, moved, promoted, scanned, cleared, reason })
    end
    assert.truthy(trace[1]:find(" Scavenge: ", 1, true))
    assert.truthy(trace[3]:find(" Mark-Compact: ", 1, true))
  end)

  it("traces the collections the heap starts by itself", function()
    local out, err = child([[
local scopelab = require "scopelab"
local iso = scopelab.isolate { trace_gc = true, gc_interval = 0, young_size = 4096 }
for i = 1, 2000 do local s <close> = iso:handle_scope(); iso:integer(i) end
print(iso:stats().collections)
]])
    local n = tonumber(out)
    assert.is_true(n > 0)
    assert.equal(n, #lines(err))
    for _, line in ipairs(lines(err)) do
      assert.truthy(line:match(PATTERN), line)
      assert.equal("allocation failure", select(10, line:match(PATTERN)))
    end
  end)

  it("prints nothing without the option", function()
    local out, err = child([[
local scopelab = require "scopelab"
local iso = scopelab.isolate { gc_interval = 0 }
iso:collect("full")
print(iso:stats().collections)
]])
    assert.equal("2\n", out)
    assert.equal("", err)
  end)
end)
