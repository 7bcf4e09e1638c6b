-- SPDX-License-Identifier: MIT
-- The misuse matrix: every misuse raises a Lua error naming the operation and
-- the reason, never a crash, and the isolate stays usable afterwards.
local scopelab = require "scopelab"
local helper = require "helper"
local here = helper.here

-- The isolate still works: a scope, a value, a collection, a verified heap.
local function still_works(iso)
  local s <close> = iso:handle_scope()
  local h = iso:integer(123)
  iso:collect("minor"); iso:collect("major")
  assert.equal(123, h:value())
  assert.is_true(iso:verify())
end

describe("misuse", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end)

  describe("after dispose", function()
    local dead, h, s, p, w, r
    before_each(function()
      dead = scopelab.isolate()
      s = dead:handle_scope()
      h = dead:integer(1)
      p = dead:persistent(h)
      r = dead:reference(h, 1)
      w = dead:probe(h)
      dead:dispose()                           -- a scope is still open: that is fine
    end)

    it("refuses every isolate method", function()
      for _, m in ipairs { "integer", "handle_scope", "escapable_handle_scope", "seal_handle_scope",
                           "collect", "stats", "number_of_handles", "verify", "snapshot",
                           "handle_report", "persistent_report", "eternal_get" } do
        assert.has_error(function() dead[m](dead, 1) end, "bad argument #1 to '" .. m .. "' (isolate is disposed)")
      end
      assert.is_true(dead:is_disposed())
      assert.matches("%(disposed%)$", tostring(dead))
    end)

    it("refuses its Locals, persistents, references and probes", function()
      assert.has_error(function() h:value() end, "bad argument #1 to 'value' (handle of a disposed isolate)")
      assert.has_error(function() p:get() end, "bad argument #1 to 'get' (handle of a disposed isolate)")
      assert.has_error(function() r:ref() end, "bad argument #1 to 'ref' (reference of a disposed isolate)")
      assert.has_error(function() w:alive() end, "bad argument #1 to 'alive' (probe of a disposed isolate)")
      assert.has_error(function() iso:persistent(h) end,
        "bad argument #2 to 'persistent' (handle of a disposed isolate)")
      assert.equal("scopelab.Local: (isolate disposed)", tostring(h))
    end)

    it("refuses escape from its scopes but closes them harmlessly", function()
      assert.has_error(function() s:escape(nil) end, "bad argument #1 to 'escape' (scope of a disposed isolate)")
      s:close()
      assert.is_false(s:is_open())
      dead:dispose()                           -- disposing twice is harmless
      still_works(iso)
    end)
  end)

  describe("a stale Local", function()
    it("from a scope closed by close()", function()
      local outer <close> = iso:handle_scope()
      local s = iso:handle_scope() local site = here()
      local h = iso:integer(1)
      s:close()
      assert.has_error(function() h:value() end,
        "bad argument #1 to 'value' (handle from a closed scope: level 2, opened at " .. site .. ")")
      still_works(iso)
    end)

    it("from a scope closed by <close>", function()
      local h, site
      do
        local s <close> = iso:handle_scope() site = here()
        h = iso:string("x")
      end
      assert.has_error(function() h:kind() end,
        "bad argument #1 to 'kind' (handle from a closed scope: level 1, opened at " .. site .. ")")
      still_works(iso)
    end)

    it("from a scope closed by an error unwinding", function()
      local h, site
      pcall(function()
        local s <close> = iso:handle_scope() site = here()
        h = iso:number(1.5)
        error("unwind")
      end)
      assert.has_error(function() h:id() end,
        "bad argument #1 to 'id' (handle from a closed scope: level 1, opened at " .. site .. ")")
      still_works(iso)
    end)

    it("from a scope whose slots were reused by a newer scope", function()
      local h, site
      do
        local s <close> = iso:handle_scope() site = here()
        h = iso:integer(1)
      end
      local s2 <close> = iso:handle_scope()
      iso:integer(2)                           -- same slot, newer stamp
      assert.has_error(function() h:value() end,
        "bad argument #1 to 'value' (handle from a closed scope: level 1, opened at " .. site .. ")")
    end)

    it("passed as an argument is blamed by position", function()
      local outer <close> = iso:handle_scope()
      local a = iso:array(2)
      local stale, site
      do
        local s <close> = iso:handle_scope() site = here()
        stale = iso:integer(1)
      end
      assert.has_error(function() a:set(1, stale) end,
        "bad argument #3 to 'set' (handle from a closed scope: level 2, opened at " .. site .. ")")
      assert.has_error(function() iso:persistent(stale) end,
        "bad argument #2 to 'persistent' (handle from a closed scope: level 2, opened at " .. site .. ")")
      assert.has_error(function() iso:probe(stale) end,
        "bad argument #2 to 'probe' (handle from a closed scope: level 2, opened at " .. site .. ")")
      still_works(iso)
    end)
  end)

  it("closing a scope that is not the innermost", function()
    local a = iso:handle_scope() local sa = here()
    local b = iso:handle_scope() local sb = here()
    assert.has_error(function() a:close() end, "bad argument #1 to 'close' (scope level 1, opened at "
      .. sa .. " is not the innermost; innermost is handle scope level 2, opened at " .. sb .. ")")
    b:close(); a:close()
    still_works(iso)
  end)

  it("escaping twice", function()
    local outer <close> = iso:handle_scope()
    local s <close> = iso:escapable_handle_scope() local site = here()
    s:escape(iso:integer(1))
    assert.has_error(function() s:escape(iso:integer(2)) end, "bad argument #1 to 'escape' "
      .. "(escapable scope level 2, opened at " .. site .. " has already escaped a value)")
    s:close()
    still_works(iso)
  end)

  it("escaping from a closed escapable scope", function()
    local outer <close> = iso:handle_scope()
    local s = iso:escapable_handle_scope() local site = here()
    s:close()
    assert.has_error(function() s:escape(nil) end,
      "bad argument #1 to 'escape' (escapable scope level 2, opened at " .. site .. " is closed)")
    still_works(iso)
  end)

  it("a handle of another isolate", function()
    local other = scopelab.isolate()
    local os <close> = other:handle_scope()
    local foreign = other:integer(1)
    local s <close> = iso:handle_scope()
    local a = iso:array(1)
    assert.has_error(function() a:set(1, foreign) end, "bad argument #3 to 'set' (handle from another isolate)")
    assert.has_error(function() iso:probe(foreign) end, "bad argument #2 to 'probe' (handle from another isolate)")
    assert.has_error(function() iso:eternal(foreign) end, "bad argument #2 to 'eternal' (handle from another isolate)")
    local e <close> = iso:escapable_handle_scope()
    assert.has_error(function() e:escape(foreign) end, "bad argument #2 to 'escape' (handle from another isolate)")
    assert.is_false(foreign == a)              -- never equal, never an error
    other:dispose()
    still_works(iso)
  end)

  it("a handle created in a sealed level", function()
    local outer <close> = iso:handle_scope()
    local seal = iso:seal_handle_scope() local site = here()
    assert.has_error(function() iso:array(1) end, "cannot create a handle in 'array' "
      .. "(the innermost scope is a seal scope: level 1, opened at " .. site .. ")")
    seal:close()
    still_works(iso)
  end)

  it("a value created with no scope open", function()
    local makers = { integer = function() iso:integer(1) end, string = function() iso:string("s") end,
                     number = function() iso:number(1) end, array = function() iso:array(0) end }
    for name, f in pairs(makers) do
      assert.has_error(f, "cannot create a handle in '" .. name .. "' (no handle scope is open)")
    end
    still_works(iso)
  end)

  it("wrong argument types", function()
    local s <close> = iso:handle_scope()
    local a = iso:array(2)
    assert.has_error(function() iso:integer("1") end, "bad argument #2 to 'integer' (integer expected, got string)")
    assert.has_error(function() iso:integer(1.5) end,
      "bad argument #2 to 'integer' (number has no integer representation)")
    assert.has_error(function() iso:number("x") end, "bad argument #2 to 'number' (number expected, got string)")
    assert.has_error(function() iso:string(5) end, "bad argument #2 to 'string' (string expected, got number)")
    assert.has_error(function() iso:array(nil) end, "bad argument #2 to 'array' (integer expected, got nil)")
    assert.has_error(function() a:set(1, 5) end, "bad argument #3 to 'set' (scopelab.Local expected, got number)")
    assert.has_error(function() a:get("x") end, "bad argument #2 to 'get' (integer expected, got string)")
    assert.has_error(function() iso.integer(nil, 1) end,
      "bad argument #1 to 'integer' (scopelab.Isolate expected, got nil)")
    assert.has_error(function() a.value(iso) end,
      "bad argument #1 to 'value' (scopelab.Local expected, got scopelab.Isolate)")
    assert.has_error(function() iso:persistent(a):set_weak("x") end,
      "bad argument #2 to 'set_weak' (function expected, got string)")
    still_works(iso)
  end)

  it("wrong kinds and ranges", function()
    local s <close> = iso:handle_scope()
    local a = iso:array(2)
    local i = iso:integer(1)
    assert.has_error(function() a:value() end, "bad argument #1 to 'value' (an array has no Lua value)")
    assert.has_error(function() i:get(1) end, "bad argument #1 to 'get' (array expected, got integer)")
    assert.has_error(function() return #i end, "bad argument #1 to '__len' (array expected, got integer)")
    assert.has_error(function() a:get(3) end, "bad argument #2 to 'get' (index 3 out of range 1..2)")
    assert.has_error(function() a:set(0, i) end, "bad argument #2 to 'set' (index 0 out of range 1..2)")
    still_works(iso)
  end)

  it("negative sizes", function()
    local s <close> = iso:handle_scope()
    assert.has_error(function() iso:array(-1) end, "bad argument #2 to 'array' (size must be non-negative, got -1)")
    assert.has_error(function() iso:watch_handles(-1) end,
      "bad argument #2 to 'watch_handles' (threshold must be non-negative, got -1)")
    assert.has_error(function() iso:handle_scope { capacity = -1 } end,
      "bad argument #2 to 'handle_scope' (option 'capacity' must be a positive integer)")
    assert.has_error(function() scopelab.isolate { young_size = -1 } end,
      "bad argument #1 to 'isolate' (option 'young_size' must be an integer in 0..9223372036854775807, got -1)")
    assert.has_error(function() scopelab.isolate { block_size = -4 } end,
      "bad argument #1 to 'isolate' (option 'block_size' must be an integer in 0..2147483647, got -4)")
    still_works(iso)
  end)

  it("heap exhausted by allocation, then usable again once handles are released", function()
    local small = scopelab.isolate { young_size = 4096, old_size = 16384 }
    do
      local s <close> = small:handle_scope()
      local filled, ferr = pcall(function() for _ = 1, 100000 do small:array(10) end end)
      assert.is_false(filled)
      assert.matches("heap exhausted in 'array'", ferr, 1, true)
      local ok, err = pcall(small.array, small, 10)
      assert.is_false(ok)
      assert.matches("^heap exhausted in 'array' %(%d+ bytes requested; "
        .. "young %d+/4096, old %d+/16384 bytes used%)$", err)
      assert.is_true(small:verify())
    end
    still_works(small)
    small:dispose()
  end)

  it("heap exhausted by a single huge array", function()
    local s <close> = iso:handle_scope()
    assert.has_error(function() iso:array(1 << 40) end,
      "heap exhausted in 'array' (1099511627776 elements cannot fit in the heap)")
    still_works(iso)
  end)

  it("heap exhausted during promotion", function()
    local small = scopelab.isolate { young_size = 65536, old_size = 8192, promote_after = 1 }
    do
      local s <close> = small:handle_scope()
      -- promote_after = 1: every scavenge promotes, until the old generation is full
      local ok, err = pcall(function() for _ = 1, 5000 do small:array(4) end end)
      assert.is_false(ok)
      assert.matches("^heap exhausted in 'array' %(%d+ bytes requested; young %d+/65536, "
        .. "old %d+/8192 bytes used%)$", (err:gsub("^[^:]+:%d+: ", "")))
      assert.is_true(small:stats().minor_collections >= 1)
      assert.is_true(small:verify())
      small:collect("minor")                       -- promotion with a full old generation
      assert.is_true(small:verify())
    end
    still_works(small)
    small:dispose()
  end)

  it("a weak callback that raises", function()
    local msgs = {}
    local w = scopelab.isolate { warn = function(m) msgs[#msgs + 1] = m end }
    do
      local s <close> = w:handle_scope()
      w:persistent(w:integer(1)):set_weak(function() error({}) end)
    end
    local st = w:collect("major")
    assert.equal(1, #msgs)
    assert.matches("^scopelab: error in weak callback: table: ", msgs[1])
    assert.equal(1, st.callback_errors)
    still_works(w)
    w:dispose()
  end)

  it("a weak callback that tries to dispose its isolate", function()
    local msgs = {}
    local w = scopelab.isolate { warn = function(m) msgs[#msgs + 1] = m end }
    do
      local s <close> = w:handle_scope()
      w:persistent(w:integer(1)):set_weak(function() w:dispose() end)
    end
    w:collect("major")
    assert.matches("cannot 'dispose' now", msgs[1])
    still_works(w)
    w:dispose()
  end)

  it("unref below zero and use after delete", function()
    local s <close> = iso:handle_scope()
    local r = iso:reference(iso:integer(1), 0)
    assert.has_error(function() r:unref() end, "bad argument #1 to 'unref' (reference count is already 0)")
    r:delete()
    assert.has_error(function() r:count() end, "bad argument #1 to 'count' (reference is deleted)")
    still_works(iso)
  end)

  it("bad isolate options", function()
    assert.has_error(function() scopelab.isolate { bogus = 1 } end,
      "bad argument #1 to 'isolate' (unknown option 'bogus')")
    assert.has_error(function() scopelab.isolate { verify_heap = 1 } end,
      "bad argument #1 to 'isolate' (option 'verify_heap' must be a boolean, got number)")
    assert.has_error(function() scopelab.isolate { zap_handles = "no" } end,
      "bad argument #1 to 'isolate' (option 'zap_handles' must be a boolean, got string)")
    assert.has_error(function() scopelab.isolate { gc_at = { 0 } } end,
      "bad argument #1 to 'isolate' (option 'gc_at' must be a list of positive integers (bad element 1))")
    assert.has_error(function() scopelab.isolate { young_size = 1 } end,
      "bad argument #1 to 'isolate' (young_size must be at least 4096 bytes)")
    assert.has_error(function() scopelab.isolate { gc_interval_kind = "sometimes" } end,
      "bad argument #1 to 'isolate' (option 'gc_interval_kind' must be 'alternate', 'major' or 'minor')")
    assert.has_error(function() scopelab.isolate(5) end, "bad argument #1 to 'isolate' (table expected, got number)")
    still_works(iso)
  end)

  it("collecting with a bad kind", function()
    assert.has_error(function() iso:collect("sideways") end,
      "bad argument #2 to 'collect' (invalid kind 'sideways', expected 'minor', 'major' or 'full')")
    still_works(iso)
  end)
end)

describe("a finalizer that disposes the isolate", function()
  it("during a call makes that call raise 'isolate is disposed', never crash", function()
    local iso = scopelab.isolate()
    local s = iso:handle_scope()
    setmetatable({}, { __gc = function() iso:dispose() end })
    local err
    for i = 1, 1e6 do
      local ok, e = pcall(iso.integer, iso, i)
      if not ok then err = e break end
    end
    assert.matches("isolate is disposed", err)
    assert.is_true(iso:is_disposed())
    assert.has_error(function() iso:integer(1) end,
      "bad argument #1 to 'integer' (isolate is disposed)")
    s:close()                                 -- closing after dispose is harmless
  end)
end)

describe("odd but legal Lua", function()
  it("refuses a new Local whose scope a weak callback closed during its allocation", function()
    local iso <close> = scopelab.isolate { gc_interval = 1 }
    local outer <close> = iso:handle_scope()
    local inner = iso:handle_scope()
    local p
    do
      local t <close> = iso:handle_scope()
      p = iso:persistent(iso:integer(1))
    end
    p:set_weak(function() inner:close() end)
    assert.has_error(function() iso:integer(5) end,
      "bad argument #1 to 'integer' (a weak callback closed the scope the new handle was made in)")
    iso:collect("major")
    iso:verify()
  end)

  it("compares a Local with any other userdata as unequal, in either order", function()
    local iso <close> = scopelab.isolate()
    local s <close> = iso:handle_scope()
    local h = iso:integer(3)
    assert.is_false(io.stdout == h)
    assert.is_false(h == io.stdout)
  end)

  it("refuses a userdata given another type's metatable", function()
    local iso <close> = scopelab.isolate()
    local s <close> = iso:handle_scope()
    local h = iso:integer(1)
    debug.setmetatable(h, getmetatable(iso))
    assert.has_error(function() h:handle_scope() end)
    assert.has_error(function() h:integer(2) end)
  end)

  it("refuses a handle cut off from its isolate (metatable or user value replaced), after that "
     .. "isolate is collected", function()
    local h, s, p
    do
      local gone = scopelab.isolate()
      s = gone:handle_scope()
      h = gone:integer(5)
      p = gone:persistent(h)
    end
    local value, get, tostr = h.value, h.get, getmetatable(h).__tostring
    local close, is_open, pget = s.close, s.is_open, p.get
    -- a Local has no user value to replace: its metatable keeps the isolate alive
    assert.is_falsy(debug.setuservalue(h, 42, 1))
    debug.setmetatable(h, nil)
    debug.setuservalue(s, 42, 1)
    debug.setuservalue(p, nil, 1)
    collectgarbage(); collectgarbage()           -- nothing keeps the isolate alive now
    local why = "(scopelab.%s cut off from its isolate (its metatable or user value was replaced))"
    assert.has_error(function() value(h) end, "bad argument #1 to 'value' " .. why:format("Local"))
    assert.has_error(function() get(h, 1) end, "bad argument #1 to 'get' " .. why:format("Local"))
    assert.has_error(function() tostr(h) end, "bad argument #1 to '__tostring' " .. why:format("Local"))
    assert.has_error(function() close(s) end, "bad argument #1 to 'close' " .. why:format("Scope"))
    assert.has_error(function() is_open(s) end, "bad argument #1 to 'is_open' " .. why:format("Scope"))
    assert.has_error(function() pget(p) end, "bad argument #1 to 'get' " .. why:format("Persistent"))
    assert.has_error(function() local x <close> = s end)
    local other <close> = scopelab.isolate()
    local t <close> = other:handle_scope()
    local a = other:array(1)
    assert.has_error(function() a:set(1, h) end, "bad argument #3 to 'set' " .. why:format("Local"))
  end)

  it("refuses a Local given another isolate's Local metatable", function()
    local a <close> = scopelab.isolate()
    local b <close> = scopelab.isolate()
    local sa <close> = a:handle_scope()
    local sb <close> = b:handle_scope()
    local h, k = a:integer(1), b:integer(2)
    debug.setmetatable(h, getmetatable(k))
    assert.has_error(function() h:value() end,
      "bad argument #1 to 'value' (scopelab.Local cut off from its isolate (its metatable or " ..
      "user value was replaced))")
    assert.equal(2, k:value())
  end)

  it("reports a weak callback's error even when its error object cannot be printed", function()
    local msgs = {}
    local iso <close> = scopelab.isolate { gc_interval = 0, warn = function(m) msgs[#msgs + 1] = m end }
    local outer <close> = iso:handle_scope()
    local p
    do
      local t <close> = iso:handle_scope()
      p = iso:persistent(iso:integer(1))
    end
    p:set_weak(function() error(setmetatable({}, { __tostring = function() error("x") end })) end)
    iso:collect("major")
    assert.same({ "scopelab: error in weak callback: (error object is a table value)" }, msgs)
    assert.equal(1, iso:stats().callback_errors)
  end)
end)
