-- SPDX-License-Identifier: MIT
-- Globals (V8's Global): a persistent handle that resets itself when its Lua
-- object is closed or collected, beside the plain persistent that leaks.
local helper = require "helper"

describe("a global handle", function()
  local iso
  helper.isolate_per_test(function(new) iso = new end)

  local function global_to(v)
    local s <close> = iso:handle_scope()
    local h = iso:string(v)
    return iso:global(h), iso:probe(h)
  end

  it("keeps its object alive while the Lua object lives", function()
    local g, w = global_to("g")
    iso:collect("major")
    assert.is_true(w:alive())
    assert.is_true(g:is_global())
    local s <close> = iso:handle_scope()
    assert.equal("g", g:get():value())
  end)

  it("deletes its node when closed, so the object dies", function()
    local w
    do
      local g <close>, probe = global_to("closed")
      w = probe
      iso:collect("major")
      assert.is_true(w:alive())
    end
    iso:collect("major")
    assert.is_false(w:alive())
    assert.equal(0, iso:stats().persistent_handles)
  end)

  it("deletes its node when collected by Lua, where a plain persistent leaks", function()
    local wg = select(2, global_to("global"))
    local wp
    do
      local s <close> = iso:handle_scope()
      local h = iso:string("plain")
      iso:persistent(h)
      wp = iso:probe(h)
    end
    collectgarbage(); collectgarbage()
    iso:collect("major")
    assert.is_false(wg:alive())
    assert.is_true(wp:alive())
    assert.equal(1, iso:stats().persistent_handles)
  end)

  it("supports reset, weakness and refuses use after close", function()
    local g, w = global_to("x")
    g:set_weak()
    assert.is_true(g:is_weak())
    iso:collect("major")
    assert.is_false(w:alive())
    assert.is_true(g:is_empty())
    local mt = getmetatable(g)
    mt.__close(g)
    assert.has_error(function() g:get() end, "bad argument #1 to 'get' (persistent handle is deleted)")
    mt.__close(g)                                -- closing twice is harmless
  end)

  it("says it is a global in tostring", function()
    local g = global_to("t")
    assert.matches("^scopelab.Persistent: global created at .- %(strong%)$", tostring(g))
  end)
end)
