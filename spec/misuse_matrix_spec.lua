-- SPDX-License-Identifier: MIT
-- The misuse matrix (issue 5): one case per row, each asserting the exact error
-- message and that the isolate still works afterwards (a scope, values, both
-- collections, a verified heap). Rows are grouped by what went wrong: the isolate
-- is gone, a Local outlived its scope, scopes closed out of order, escapes,
-- handles of another isolate, sealed levels, wrong types and ranges, deleted
-- handles, heap exhaustion, weak callbacks that misbehave.
local scopelab = require "scopelab"
local helper = require "helper"

-- The line this is called from (scopes name the line that opened them).
local function line()
  return debug.getinfo(2, "l").currentline
end

local SRC = debug.getinfo(1, "S").short_src

-- The message 'f' raises, without the "file:line: " that Lua adds for errors
-- raised from a Lua frame.
local function error_of(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return (tostring(err):gsub("^[^%s:]+:%d+: ", "", 1))
end

local function raises(msg, f, ...)
  assert.equal(msg, error_of(f, ...))
end

-- The isolate still works: a scope, values, both collections, a verified heap.
local function still_works(iso)
  local s <close> = iso:handle_scope()
  local h = iso:integer(123)
  local a = iso:array(1)
  a:set(1, iso:string("after"))
  iso:collect("minor")
  iso:collect("major")
  assert.equal(123, h:value())
  assert.equal("after", a:get(1):value())
  assert.is_true(iso:verify())
end

local function at(l) return ("level %%d, opened at %s:%d"):format(SRC, l) end

describe("misuse matrix", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end)

  describe("after dispose", function()
    local dead, s, h, a, p, w
    before_each(function()
      dead = scopelab.isolate()
      s = dead:handle_scope()
      h = dead:integer(1)
      a = dead:array(1)
      p = dead:persistent(h)
      w = dead:probe(h)
      dead:dispose()
    end)

    -- Every method of every handle type, each refused with its own name.
    local ISOLATE = { "integer", "number", "string", "array", "handle_scope",
      "escapable_handle_scope", "seal_handle_scope", "persistent", "global", "reference",
      "probe", "eternal", "eternal_get", "collect", "stats", "verify", "number_of_handles" }
    for _, m in ipairs(ISOLATE) do
      it("refuses iso:" .. m .. "() with 'isolate is disposed'", function()
        raises("bad argument #1 to '" .. m .. "' (isolate is disposed)", dead[m], dead, 1)
        still_works(iso)
      end)
    end

    for _, m in ipairs { "value", "kind", "id", "address", "generation" } do
      it("refuses h:" .. m .. "() on a Local of the disposed isolate", function()
        raises("bad argument #1 to '" .. m .. "' (handle of a disposed isolate)", h[m], h)
        still_works(iso)
      end)
    end

    it("refuses a:get and a:set on an array of the disposed isolate", function()
      raises("bad argument #1 to 'get' (handle of a disposed isolate)", a.get, a, 1)
      raises("bad argument #1 to 'set' (handle of a disposed isolate)", a.set, a, 1, nil)
      still_works(iso)
    end)

    for _, m in ipairs { "get", "reset", "is_empty", "set_weak", "clear_weak", "is_weak", "delete" } do
      it("refuses p:" .. m .. "() on a persistent of the disposed isolate", function()
        raises("bad argument #1 to '" .. m .. "' (handle of a disposed isolate)", p[m], p)
        still_works(iso)
      end)
    end

    for _, m in ipairs { "alive", "address", "moves", "id", "get", "delete" } do
      it("refuses w:" .. m .. "() on a probe of the disposed isolate", function()
        raises("bad argument #1 to '" .. m .. "' (probe of a disposed isolate)", w[m], w)
        still_works(iso)
      end)
    end

    it("refuses escape from a scope of the disposed isolate and closes it harmlessly", function()
      raises("bad argument #1 to 'escape' (scope of a disposed isolate)", s.escape, s, nil)
      s:close()
      assert.is_false(s:is_open())
      still_works(iso)
    end)

    it("refuses a Local of the disposed isolate passed to a live one", function()
      local t <close> = iso:handle_scope()
      raises("bad argument #2 to 'persistent' (handle of a disposed isolate)", iso.persistent, iso, h)
      raises("bad argument #3 to 'set' (handle of a disposed isolate)", iso:array(1).set,
             iso:array(1), 1, h)
      still_works(iso)
    end)

    it("disposes twice harmlessly", function()
      dead:dispose()
      assert.is_true(dead:is_disposed())
      still_works(iso)
    end)
  end)

  describe("a Local whose scope closed", function()
    it("is stale after close()", function()
      local s = iso:handle_scope(); local l = line()
      local h = iso:integer(1)
      s:close()
      raises(("bad argument #1 to 'value' (handle from a closed scope: " .. at(l) .. ")"):format(1),
             h.value, h)
      still_works(iso)
    end)

    it("is stale after a <close> scope ends", function()
      local h, l
      do
        local s <close> = iso:handle_scope(); l = line()
        h = iso:integer(1)
      end
      raises(("bad argument #1 to 'kind' (handle from a closed scope: " .. at(l) .. ")"):format(1),
             h.kind, h)
      still_works(iso)
    end)

    it("is stale after an error unwinds through <close>, inner scopes closed too", function()
      local h, l
      local ok, err = pcall(function()
        local s <close> = iso:handle_scope(); l = line()
        h = iso:integer(1)
        iso:handle_scope()                     -- left open: the unwinding closes it
        iso:escapable_handle_scope()
        error("boom", 0)
      end)
      assert.is_false(ok)
      assert.equal("boom", err)
      assert.equal(0, iso:stats().scope_depth)
      assert.equal(0, iso:number_of_handles())
      raises(("bad argument #1 to 'id' (handle from a closed scope: " .. at(l) .. ")"):format(1),
             h.id, h)
      still_works(iso)
    end)

    it("is stale when returned from a plain (not escapable) scope", function()
      local l
      local function returning_function()
        local s <close> = iso:handle_scope(); l = line()
        return iso:integer(1)
      end
      local h = returning_function()
      local outer <close> = iso:handle_scope()
      raises(("bad argument #2 to 'persistent' (handle from a closed scope: " .. at(l) .. ")")
             :format(1), iso.persistent, iso, h)
      still_works(iso)
    end)

    it("is refused as the value of a:set", function()
      local outer <close> = iso:handle_scope()
      local a = iso:array(1)
      local s = iso:handle_scope(); local l = line()
      local h = iso:integer(1)
      s:close()
      raises(("bad argument #3 to 'set' (handle from a closed scope: " .. at(l) .. ")"):format(2),
             a.set, a, 1, h)
      assert.is_nil(a:get(1))
      still_works(iso)
    end)

    it("is stale even after its slot was reused by a new scope", function()
      local s = iso:handle_scope(); local l = line()
      local h = iso:integer(1)
      s:close()
      local s2 <close> = iso:handle_scope()
      local h2 = iso:integer(2)                -- the same slot, a new stamp
      raises(("bad argument #1 to 'value' (handle from a closed scope: " .. at(l) .. ")"):format(1),
             h.value, h)
      assert.equal(2, h2:value())
      still_works(iso)
    end)
  end)

  describe("scopes closed out of order", function()
    it("refuses close() of a scope that is not the innermost", function()
      local outer = iso:handle_scope(); local l1 = line()
      local inner = iso:handle_scope(); local l2 = line()
      raises(("bad argument #1 to 'close' (scope " .. at(l1) .. " is not the innermost; innermost is "
              .. "handle scope " .. at(l2) .. ")"):format(1, 2), outer.close, outer)
      assert.is_true(outer:is_open())
      inner:close()
      outer:close()
      still_works(iso)
    end)

    it("refuses a <close> scope ending normally with an inner scope open", function()
      local l1, l2, inner
      local outer_ok, err = pcall(function()
        local outer <close> = iso:handle_scope(); l1 = line()
        inner = iso:seal_handle_scope(); l2 = line()
      end)
      assert.is_false(outer_ok)
      assert.equal(("bad argument #1 to '__close' (scope " .. at(l1) .. " is not the innermost; "
                   .. "innermost is seal scope " .. at(l2) .. ")"):format(1, 1),
                   (tostring(err):gsub("^[^%s:]+:%d+: ", "", 1)))
      inner:close()
      assert.equal(1, iso:stats().scope_depth)
      still_works(iso)
    end)

    it("closes a closed scope again harmlessly", function()
      local s = iso:handle_scope()
      s:close()
      s:close()
      assert.is_false(s:is_open())
      still_works(iso)
    end)
  end)

  describe("escape", function()
    local outer
    before_each(function() outer = iso:handle_scope() end)
    after_each(function() outer:close() end)

    it("refuses a second escape", function()
      local s = iso:escapable_handle_scope(); local l = line()
      local one = s:escape(iso:integer(1))
      raises(("bad argument #1 to 'escape' (escapable scope " .. at(l) .. " has already escaped a "
              .. "value)"):format(2), s.escape, s, iso:integer(2))
      s:close()
      assert.equal(1, one:value())
      still_works(iso)
    end)

    it("refuses an escape from a closed escapable scope", function()
      local s = iso:escapable_handle_scope(); local l = line()
      s:close()
      raises(("bad argument #1 to 'escape' (escapable scope " .. at(l) .. " is closed)"):format(2),
             s.escape, s, nil)
      still_works(iso)
    end)

    it("refuses an escape from a plain handle scope", function()
      local s <close> = iso:handle_scope()
      raises("bad argument #1 to 'escape' (handle scope is not escapable)", s.escape, s, iso:integer(1))
      still_works(iso)
    end)

    it("refuses an escape from a seal scope", function()
      local s = iso:seal_handle_scope()
      raises("bad argument #1 to 'escape' (seal scope is not escapable)", s.escape, s, nil)
      s:close()
      still_works(iso)
    end)

    it("refuses to escape a stale Local", function()
      local s <close> = iso:escapable_handle_scope()
      local t = iso:handle_scope(); local l = line()
      local h = iso:integer(1)
      t:close()
      raises(("bad argument #2 to 'escape' (handle from a closed scope: " .. at(l) .. ")"):format(3),
             s.escape, s, h)
      assert.equal(5, s:escape(iso:integer(5)):value())   -- the refused escape used nothing up
      still_works(iso)
    end)
  end)

  describe("a handle of another isolate", function()
    local other, foreign
    before_each(function()
      other = scopelab.isolate()
      other:handle_scope()                     -- stays open: disposing frees it
      foreign = other:integer(7)
    end)
    after_each(function() other:dispose() end)

    local CASES = {
      { "a:set", "bad argument #3 to 'set' (handle from another isolate)",
        function(i, f) local a = i:array(1); return a:set(1, f) end },
      { "iso:persistent", "bad argument #2 to 'persistent' (handle from another isolate)",
        function(i, f) return i:persistent(f) end },
      { "p:reset", "bad argument #2 to 'reset' (handle from another isolate)",
        function(i, f) return i:persistent():reset(f) end },
      { "iso:probe", "bad argument #2 to 'probe' (handle from another isolate)",
        function(i, f) return i:probe(f) end },
      { "iso:eternal", "bad argument #2 to 'eternal' (handle from another isolate)",
        function(i, f) return i:eternal(f) end },
      { "s:escape", "bad argument #2 to 'escape' (handle from another isolate)",
        function(i, f) local s <close> = i:escapable_handle_scope(); return s:escape(f) end },
      { "iso:reference", "bad argument #2 to 'reference' (handle from another isolate)",
        function(i, f) return i:reference(f, 1) end },
    }
    for _, c in ipairs(CASES) do
      it("is refused by " .. c[1], function()
        local s <close> = iso:handle_scope()
        raises(c[2], c[3], iso, foreign)
        assert.equal(7, foreign:value())
        still_works(iso)
        still_works(other)
      end)
    end

    it("is never == to a Local of this isolate", function()
      local s <close> = iso:handle_scope()
      assert.is_false(iso:integer(7) == foreign)
      still_works(iso)
    end)
  end)

  describe("creating a handle where none may be", function()
    it("refuses a value with no handle scope open", function()
      raises("cannot create a handle in 'integer' (no handle scope is open)", iso.integer, iso, 1)
      raises("cannot create a handle in 'escapable_handle_scope' (no handle scope is open)",
             iso.escapable_handle_scope, iso)
      still_works(iso)
    end)

    it("refuses a value in a sealed level", function()
      local s <close> = iso:handle_scope()
      local seal = iso:seal_handle_scope(); local l = line()
      raises(("cannot create a handle in 'string' (the innermost scope is a seal scope: " .. at(l)
              .. ")"):format(1), iso.string, iso, "x")
      seal:close()
      still_works(iso)
    end)

    it("refuses p:get() in a sealed level", function()
      local s <close> = iso:handle_scope()
      local p = iso:persistent(iso:integer(1))
      local seal = iso:seal_handle_scope(); local l = line()
      raises(("cannot create a handle in 'get' (the innermost scope is a seal scope: " .. at(l)
              .. ")"):format(1), p.get, p)
      seal:close()
      assert.equal(1, p:get():value())
      p:reset()
      still_works(iso)
    end)

    it("refuses the (capacity+1)-th handle of a capacity scope", function()
      local s = iso:handle_scope { capacity = 2 }; local l = line()
      iso:integer(1); iso:integer(2)
      raises(("handle scope full in 'integer' (" .. at(l) .. ", capacity 2)"):format(1),
             iso.integer, iso, 3)
      s:close()
      still_works(iso)
    end)
  end)

  describe("wrong types and ranges", function()
    local s
    before_each(function() s = iso:handle_scope() end)
    after_each(function() s:close() end)

    local CASES = {
      { "a string for iso:integer", "bad argument #2 to 'integer' (integer expected, got string)",
        function(i) return i:integer("1") end },
      { "a float for iso:integer", "bad argument #2 to 'integer' (number has no integer representation)",
        function(i) return i:integer(1.5) end },
      { "a string for iso:number", "bad argument #2 to 'number' (number expected, got string)",
        function(i) return i:number("x") end },
      { "a number for iso:string", "bad argument #2 to 'string' (string expected, got number)",
        function(i) return i:string(5) end },
      { "a negative array size", "bad argument #2 to 'array' (size must be non-negative, got -1)",
        function(i) return i:array(-1) end },
      { "index 0", "bad argument #2 to 'get' (index 0 out of range 1..3)",
        function(i) return i:array(3):get(0) end },
      { "index n+1", "bad argument #2 to 'set' (index 4 out of range 1..3)",
        function(i) return i:array(3):set(4, nil) end },
      { "a number as an element", "bad argument #3 to 'set' (scopelab.Local expected, got number)",
        function(i) return i:array(1):set(1, 5) end },
      { "get on an integer", "bad argument #1 to 'get' (array expected, got integer)",
        function(i) return i:integer(1):get(1) end },
      { "value of an array", "bad argument #1 to 'value' (an array has no Lua value)",
        function(i) return i:array(1):value() end },
      { "an unknown collection kind",
        "bad argument #2 to 'collect' (invalid kind 'medium', expected 'minor', 'major' or 'full')",
        function(i) return i:collect("medium") end },
      { "a missing eternal handle", "bad argument #2 to 'eternal_get' (no eternal handle 5 (there are 0))",
        function(i) return i:eternal_get(5) end },
      { "capacity 0", "bad argument #2 to 'handle_scope' (option 'capacity' must be a positive integer)",
        function(i) return i:handle_scope { capacity = 0 } end },
      { "a number as a weak callback", "bad argument #2 to 'set_weak' (function expected, got number)",
        function(i) return i:persistent(i:integer(1)):set_weak(5) end },
      { "nil for iso:probe", "bad argument #2 to 'probe' (scopelab.Local expected, got nil)",
        function(i) return i:probe(nil) end },
      { "a negative reference count", "bad argument #3 to 'reference' (count must be non-negative, got -1)",
        function(i) return i:reference(i:integer(1), -1) end },
      { "unref below zero", "bad argument #1 to 'unref' (reference count is already 0)",
        function(i) local r = i:reference(i:integer(1), 0); local _, e = pcall(r.unref, r); r:delete()
                    error(e, 0) end },
      { "nil as self", "bad argument #1 to 'integer' (scopelab.Isolate expected, got nil)",
        function(i) return i.integer(nil, 1) end },
      { "an Isolate as self of a Local method",
        "bad argument #1 to 'value' (scopelab.Local expected, got scopelab.Isolate)",
        function(i) return i:integer(1).value(i) end },
      { "a negative young_size", "bad argument #1 to 'isolate' (option 'young_size' must be an integer in "
        .. "0..9223372036854775807, got -1)",
        function() return scopelab.isolate { young_size = -1 } end },
      { "a young_size below the minimum", "bad argument #1 to 'isolate' (young_size must be at least 4096 bytes)",
        function() return scopelab.isolate { young_size = 100 } end },
      { "an unknown option", "bad argument #1 to 'isolate' (unknown option 'bogus')",
        function() return scopelab.isolate { bogus = 1 } end },
    }
    for _, c in ipairs(CASES) do
      it("refuses " .. c[1], function()
        raises(c[2], c[3], iso)
        assert.equal(1, iso:stats().scope_depth)
        still_works(iso)
      end)
    end
  end)

  describe("deleted handles", function()
    it("refuses every use of a deleted persistent, delete included", function()
      local s <close> = iso:handle_scope()
      local p = iso:persistent(iso:integer(1))
      p:delete()
      for _, m in ipairs { "get", "reset", "is_empty", "set_weak", "clear_weak", "delete" } do
        raises("bad argument #1 to '" .. m .. "' (persistent handle is deleted)", p[m], p)
      end
      still_works(iso)
    end)

    it("refuses every use of a deleted probe", function()
      local s <close> = iso:handle_scope()
      local w = iso:probe(iso:integer(1))
      w:delete()
      for _, m in ipairs { "alive", "address", "moves", "get", "delete" } do
        raises("bad argument #1 to '" .. m .. "' (probe is deleted)", w[m], w)
      end
      still_works(iso)
    end)

    it("refuses set_weak on an empty persistent", function()
      local p = iso:persistent()
      raises("bad argument #1 to 'set_weak' (persistent handle is empty)", p.set_weak, p)
      p:delete()
      still_works(iso)
    end)
  end)

  describe("heap exhausted", function()
    -- Fills the heap with live arrays until allocation fails; returns the message.
    local function exhaust(small)
      local s = small:handle_scope()
      local err
      for _ = 1, 100000 do
        local ok, e = pcall(small.array, small, 50)
        if not ok then err = e break end
      end
      return s, err
    end

    it("raises during the scavenge when survivors never promote, and recovers", function()
      local small = scopelab.isolate { young_size = 4096, old_size = 4096, promote_after = 255 }
      local s, err = exhaust(small)
      assert.matches("^heap exhausted in 'array' %(%d+ bytes requested; young %d+/4096, old %d+/4096 "
                     .. "bytes used%)$", err)
      assert.is_true(small:verify())
      s:close()                                -- handles released: the heap is usable again
      still_works(small)
      small:dispose()
    end)

    it("raises while promoting into a full old space, and recovers", function()
      local small = scopelab.isolate { young_size = 4096, old_size = 8192, promote_after = 1 }
      local s, err = exhaust(small)
      assert.matches("^heap exhausted in 'array' %(%d+ bytes requested; young %d+/4096, old %d+/8192 "
                     .. "bytes used%)$", err)
      assert.is_true(small:verify())
      s:close()
      still_works(small)
      small:dispose()
    end)

    it("raises for one object larger than the heap, and recovers", function()
      local small = scopelab.isolate { young_size = 4096, old_size = 65536 }
      local s = small:handle_scope()
      raises("heap exhausted in 'string' (100024 bytes requested; young 0/4096, old 0/65536 bytes used)",
             small.string, small, string.rep("x", 100000))
      raises("heap exhausted in 'array' (1099511627776 elements cannot fit in the heap)",
             small.array, small, 1 << 40)
      s:close()
      still_works(small)
      small:dispose()
    end)

    it("keeps the outer scope's Locals as roots after a failed allocation, a seal and an inner scope",
       function()
      local small = scopelab.isolate { young_size = 4096, old_size = 65536, block_size = 2 }
      local s = small:handle_scope()
      assert.has_error(function() small:string(string.rep("x", 100000)) end)
      local seal = small:seal_handle_scope()
      local inner = small:handle_scope()
      small:integer(1)
      inner:close()
      seal:close()
      local h = small:integer(42)
      assert.equal(1, small:number_of_handles())
      small:collect("major")
      for i = 1, 10 do small:integer(1000 + i) end
      assert.equal(42, h:value())
      s:close()
      still_works(small)
      small:dispose()
    end)
  end)

  describe("weak callbacks that misbehave", function()
    local warnings, wiso
    before_each(function()
      warnings = {}
      wiso = scopelab.isolate { warn = function(m) warnings[#warnings + 1] = m end }
    end)
    after_each(function() wiso:dispose() end)

    -- A weak persistent to garbage whose callback is 'cb'.
    local function weak_garbage(cb)
      local s <close> = wiso:handle_scope()
      local p = wiso:persistent(wiso:array(1))
      p:set_weak(cb)
      return p
    end

    it("reports a callback's error through warn and runs the later callbacks", function()
      local ran = {}
      weak_garbage(function() ran[#ran + 1] = 1; error("boom", 0) end)
      weak_garbage(function() ran[#ran + 1] = 2 end)
      local st = wiso:collect("full")
      assert.same({ 1, 2 }, ran)
      assert.equal(1, st.callback_errors)
      assert.same({ "scopelab: error in weak callback: boom" }, warnings)
      still_works(wiso)
    end)

    it("refuses to dispose the isolate from inside a callback", function()
      weak_garbage(function() wiso:dispose() end)
      local st = wiso:collect("full")
      assert.equal(1, st.callback_errors)
      assert.equal(1, #warnings)
      assert.matches("^scopelab: error in weak callback: .*cannot 'dispose' now %(cannot dispose the "
                     .. "isolate inside a weak callback%)$", warnings[1])
      assert.is_false(wiso:is_disposed())
      still_works(wiso)
    end)

    it("lets a callback collect, allocate and close its own scopes", function()
      local inner
      weak_garbage(function()
        local s <close> = wiso:handle_scope()
        inner = wiso:integer(9):value()
        wiso:collect("full")
      end)
      wiso:collect("full")
      assert.equal(9, inner)
      assert.same({}, warnings)
      still_works(wiso)
    end)

    it("survives a callback that leaves a scope open", function()
      weak_garbage(function() wiso:handle_scope() end)
      wiso:collect("full")
      assert.equal(1, wiso:stats().scope_depth)       -- its scope: the callback's business
      still_works(wiso)
    end)
  end)

  describe("a scope left open when the isolate is disposed", function()
    it("is freed by dispose, reads as closed and closes harmlessly", function()
      local other = scopelab.isolate()
      local s = other:handle_scope()
      local e = other:escapable_handle_scope()
      local h = other:integer(1)
      other:dispose()
      assert.is_false(s:is_open())
      assert.is_false(e:is_open())
      e:close()
      s:close()
      raises("bad argument #1 to 'value' (handle of a disposed isolate)", h.value, h)
      still_works(iso)
    end)
  end)
end)
