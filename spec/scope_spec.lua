-- SPDX-License-Identifier: MIT
-- Handle scopes: Locals live exactly as long as the scope that made them.
local scopelab = require "scopelab"
local helper = require "helper"
local here = helper.here

describe("a handle scope", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end, { gc_interval = 0 })

  it("lets Locals die with their scope (example_function)", function()
    local outer <close> = iso:handle_scope()
    local w
    do
      local scope <close> = iso:handle_scope()
      local h = iso:integer(42)
      w = iso:probe(h)
      assert.equal(42, h:value())
    end
    iso:collect("major")
    assert.is_false(w:alive())
    assert.is_nil(w:address())
    iso:verify()
  end)

  it("keeps its Locals' objects alive while it is open", function()
    local scope <close> = iso:handle_scope()
    local h = iso:string("kept")
    local w = iso:probe(h)
    iso:collect("minor")
    iso:collect("major")
    assert.is_true(w:alive())
    assert.equal("kept", h:value())
    iso:verify()
  end)

  it("counts live Local slots across all open scopes and restores the count on close", function()
    assert.equal(0, iso:number_of_handles())
    local a <close> = iso:handle_scope()
    iso:integer(1); iso:integer(2)
    assert.equal(2, iso:number_of_handles())
    do
      local b <close> = iso:handle_scope()
      iso:integer(3); iso:integer(4); iso:integer(5)
      assert.equal(5, iso:number_of_handles())
      assert.equal(3, b:handles())
      assert.equal(3, #b)
      assert.equal(5, #iso)
    end
    assert.equal(2, iso:number_of_handles())
    assert.equal(2, a:handles())
    assert.equal("integer", math.type(iso:number_of_handles()))
  end)

  it("restores the level on close and reports it in stats", function()
    assert.equal(0, iso:stats().scope_level)
    local a <close> = iso:handle_scope()
    local b = iso:handle_scope()
    assert.equal(1, a:level())
    assert.equal(2, b:level())
    assert.equal(2, b:depth())
    assert.equal(2, iso:stats().scope_level)
    b:close()
    assert.equal(1, iso:stats().scope_level)
  end)

  it("frees its extension blocks when it closes", function()
    local small = scopelab.isolate { block_size = 4, gc_interval = 0 }
    local outer <close> = small:handle_scope()
    assert.equal(0, small:stats().blocks)          -- no handle yet: no block
    do
      local s <close> = small:handle_scope()
      for i = 1, 10 do small:integer(i) end
      assert.equal(3, small:stats().blocks)        -- 10 slots in blocks of 4
      assert.equal(10, small:number_of_handles())
    end
    local st = small:stats()
    assert.equal(0, st.blocks)                     -- every block it added is released ...
    assert.equal(1, st.spare_blocks)               -- ... but one is kept for reuse
    assert.equal(0, small:number_of_handles())
    small:dispose()
  end)

  it("records the source line that opened it", function()
    local s <close> = iso:handle_scope() local site = here()
    assert.equal(site, s:site())
    assert.equal("handle", s:kind())
    assert.matches("scopelab.Scope: handle scope level 1 opened at " .. site:gsub("%p", "%%%0")
      .. " %(open, 0 handles%)", tostring(s))
  end)

  it("is closed by <close> even when an error is thrown inside it", function()
    local scope
    local ok = pcall(function()
      local s <close> = iso:handle_scope()
      scope = s
      iso:integer(1)
      error("boom")
    end)
    assert.is_false(ok)
    assert.is_false(scope:is_open())
    assert.equal(0, iso:number_of_handles())
    assert.equal(0, iso:stats().scope_depth)
  end)

  it("closes scopes left open inside it when an error unwinds through its <close>", function()
    local ok = pcall(function()
      local s <close> = iso:handle_scope()
      local leaked = iso:handle_scope()          -- not <close>: left open by the error
      iso:integer(1)
      assert.is_true(leaked:is_open())
      error("boom")
    end)
    assert.is_false(ok)
    assert.equal(0, iso:stats().scope_depth)
  end)

  it("treats closing twice as harmless", function()
    local s = iso:handle_scope()
    s:close()
    s:close()
    assert.is_false(s:is_open())
    assert.matches("%(closed%)$", tostring(s))
  end)

  it("refuses to close when it is not the innermost, naming both scopes", function()
    local a = iso:handle_scope() local sa = here()
    local b = iso:handle_scope() local sb = here()
    assert.has_error(function() a:close() end,
      "bad argument #1 to 'close' (scope level 1, opened at " .. sa ..
      " is not the innermost; innermost is handle scope level 2, opened at " .. sb .. ")")
    assert.is_true(a:is_open())
    b:close(); a:close()
    assert.equal(0, iso:stats().scope_depth)
  end)

  it("refuses a normal <close> exit while an inner scope is still open", function()
    local outer, inner, sa, sb
    local ok, err = pcall(function()
      local s <close> = iso:handle_scope() sa = here()
      outer = s
      inner = iso:handle_scope() sb = here()
    end)
    assert.is_false(ok)
    assert.equal("bad argument #1 to '__close' (scope level 1, opened at " .. sa ..
      " is not the innermost; innermost is handle scope level 2, opened at " .. sb .. ")",
      (err:gsub("^[^:]+:%d+: ", "")))
    assert.is_true(inner:is_open())
    assert.is_true(outer:is_open())                -- the refused close changed nothing
    assert.equal(2, iso:stats().scope_depth)
    inner:close(); outer:close()
    assert.equal(0, iso:stats().scope_depth)
  end)

  it("lists open scopes with their handle counts and opening lines", function()
    local a <close> = iso:handle_scope() local sa = here()
    iso:integer(1)
    local b <close> = iso:escapable_handle_scope() local sb = here()
    iso:integer(2); iso:integer(3)
    local r = iso:handle_report()
    assert.equal(2, #r)
    assert.same({ kind = "handle", level = 1, depth = 1, site = sa }, {
      kind = r[1].kind, level = r[1].level, depth = r[1].depth, site = r[1].site })
    assert.equal(2, r[1].handles)                  -- one Local and the reserved escape slot
    assert.equal("escapable", r[2].kind)
    assert.equal(2, r[2].handles)
    assert.equal(sb, r[2].site)
  end)

  it("with a capacity raises an error naming the scope and its line at the (n+1)-th handle", function()
    local s <close> = iso:handle_scope { capacity = 3 } local site = here()
    iso:integer(1); iso:integer(2); iso:integer(3)
    assert.has_error(function() iso:integer(4) end,
      "handle scope full in 'integer' (level 1, opened at " .. site .. ", capacity 3)")
    assert.equal(3, s:handles())
    assert.has_error(function() iso:handle_scope { capacity = 0 } end,
      "bad argument #2 to 'handle_scope' (option 'capacity' must be a positive integer)")
  end)

  it("warns once through warn when a watched scope holds more than n handles", function()
    local msgs = {}
    local w = scopelab.isolate { warn = function(m) msgs[#msgs + 1] = m end }
    w:watch_handles(5)
    local s <close> = w:handle_scope() local site = here()
    for i = 1, 20 do w:integer(i) end
    assert.equal(1, #msgs)
    assert.equal("scopelab: handle scope level 1, opened at " .. site ..
      " holds more than 5 handles", msgs[1])
    w:dispose()
  end)

  it("stays open when Lua collects it unclosed, and the outer scope says so", function()
    local w = scopelab.isolate()
    local outer = w:handle_scope()
    local line = debug.getinfo(1, "l").currentline + 1
    do local _ = w:handle_scope() end
    collectgarbage(); collectgarbage()
    assert.equal(2, w:stats().scope_depth)
    local ok, err = pcall(outer.close, outer)
    assert.is_false(ok)
    assert.matches("is not the innermost; innermost is handle scope level 2, opened at "
      .. "[^ ]*scope_spec.lua:" .. line, err)
    w:dispose()
  end)

  it("catches a stale Local by its stamp with zapping off too", function()
    local w = scopelab.isolate { zap_handles = false }
    local outer <close> = w:handle_scope()
    local stale
    do
      local inner <close> = w:handle_scope()
      stale = w:integer(1)
    end
    local fresh = w:integer(2)                 -- reuses the freed slot
    assert.equal(2, fresh:value())
    assert.has_error(function() stale:value() end)
    assert.matches("handle from a closed scope: level 2", select(2, pcall(stale.value, stale)))
    outer:close()
    w:dispose()
  end)
end)
