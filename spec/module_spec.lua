-- SPDX-License-Identifier: MIT
-- The module itself: loading, metatables, defaults, options.
local scopelab = require "scopelab"

describe("the scopelab module", function()
  it("loads from the tree with require 'scopelab' and names its version", function()
    assert.equal("function", type(scopelab.isolate))
    assert.equal("function", type(scopelab.set_defaults))
    assert.matches("^%d+%.%d+%.%d+$", scopelab.version)
    assert.equal(require("scopelab.core").version, scopelab.version)
  end)

  it("loads from a fresh lua5.4 with the documented paths", function()
    local pipe = io.popen("LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH='./build/?.so;;' "
      .. "lua5.4 -e 'local s = require \"scopelab\"; local i <close> = s.isolate(); io.write(tostring(i))'")
    local out = pipe:read("a")
    assert.is_true(pipe:close())
    assert.matches("^scopelab.Isolate: 0x%x+ %(live, 0 handles, scope level 0%)$", out)
  end)

  it("registers every metatable under its name, with __gc wherever collection frees something",
     function()
    local reg = debug.getregistry()
    for _, name in ipairs { "scopelab.Isolate", "scopelab.Scope", "scopelab.Persistent",
                            "scopelab.Probe", "scopelab.Reference" } do
      assert.equal("table", type(reg[name]), name)
      assert.equal(name, reg[name].__name)
      -- A Scope collected while open stays open, so it needs no finalizer.
      assert.equal(name == "scopelab.Scope" and "nil" or "function", type(reg[name].__gc), name)
      assert.equal("function", type(reg[name].__close), name)
      assert.equal("function", type(reg[name].__tostring), name)
      assert.equal("table", type(reg[name].__index), name)
    end
    local l = reg["scopelab.Local"]
    assert.equal("function", type(l.__eq))
    assert.equal("function", type(l.__len))
    assert.equal("function", type(l.__tostring))
  end)

  it("can be opened again (as busted does per file) without harm to existing isolates", function()
    local iso = scopelab.isolate()
    local s <close> = iso:handle_scope()
    local h = iso:integer(5)
    package.loaded["scopelab.core"] = nil
    package.loaded["scopelab"] = nil
    local again = require "scopelab"
    local iso2 = again.isolate()
    assert.equal(5, h:value())
    assert.equal(getmetatable(iso), getmetatable(iso2))
    iso2:dispose()
    iso:dispose()
  end)

  it("gives Locals the documented tostring", function()
    local iso = scopelab.isolate()
    local s <close> = iso:handle_scope()
    local h = iso:integer(1)
    assert.equal("scopelab.Local: integer#" .. h:id() .. " (scope 1, live)", tostring(h))
    iso:dispose()
  end)

  it("starts isolates from the defaults set with set_defaults, explicit options winning", function()
    local saved = scopelab.defaults()
    scopelab.set_defaults { gc_interval = 1, gc_interval_kind = "minor" }
    local iso = scopelab.isolate()
    local s <close> = iso:handle_scope()
    iso:integer(1); iso:integer(2)
    assert.equal(2, iso:stats().minor_collections)
    local quiet = scopelab.isolate { gc_interval = 0 }
    local t <close> = quiet:handle_scope()
    quiet:integer(1); quiet:integer(2)
    assert.equal(0, quiet:stats().minor_collections)
    assert.same({ gc_interval = 1, gc_interval_kind = "minor" }, scopelab.defaults())
    scopelab.set_defaults(saved)
    iso:dispose(); quiet:dispose()
  end)

  it("validates defaults when they are set", function()
    assert.has_error(function() scopelab.set_defaults { nope = true } end,
      "bad argument #1 to 'set_defaults' (unknown option 'nope')")
    assert.has_error(function() scopelab.set_defaults(3) end,
      "bad argument #1 to 'set_defaults' (table expected, got number)")
  end)

  it("is disposed by <close> and by Lua's collector", function()
    local probe_iso
    do
      local iso <close> = scopelab.isolate()
      probe_iso = iso
    end
    assert.is_true(probe_iso:is_disposed())
    local weak = setmetatable({}, { __mode = "v" })
    weak[1] = scopelab.isolate()
    collectgarbage(); collectgarbage()
    assert.is_nil(weak[1])
  end)

  it("keeps an isolate alive while one of its handles is reachable", function()
    local h
    do
      local iso = scopelab.isolate()
      iso:handle_scope()                       -- left open on purpose
      h = iso:integer(9)
    end
    collectgarbage(); collectgarbage()
    assert.equal(9, h:value())
  end)

  it("makes everything countable a Lua integer", function()
    local iso = scopelab.isolate()
    local s <close> = iso:handle_scope()
    local h = iso:integer(1)
    for _, v in ipairs { iso:number_of_handles(), h:id(), h:address(), s:level(), s:depth(), s:handles() } do
      assert.equal("integer", math.type(v))
    end
    iso:dispose()
  end)
end)
